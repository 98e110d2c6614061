"""Model ids (``provider:model``) resolved to the module that speaks that provider's wire format.

Each provider module turns a Request into its wire JSON, the reply into a Response with Usage,
and HTTP errors into pixelproof errors; nothing else. What the rest needs to know about a
provider (keys, URLs, defaults, ranges, known models) is the ``Spec`` its module exports in
``SPECS``.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import math
import os
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from .. import http
from ..errors import ConfigError
from ..http import Http
from ..types import Request, Response


@dataclass(frozen=True)
class Target:
    """Where a model id points: provider, bare model name, endpoint and key (never shown by
    repr or str, so a log or traceback that prints a target does not leak it)."""

    provider: str
    model: str
    base_url: str
    api_key: str | None = field(repr=False)

    @property
    def id(self) -> str:
        return f"{self.provider}:{self.model}" if self.model else self.provider

    @property
    def spec(self) -> Spec:
        return SPECS[self.provider]


class Provider(Protocol):
    async def complete(self, request: Request, target: Target, http: Http) -> Response: ...

    def stream(self, request: Request, target: Target,
               http: Http) -> AsyncIterator[str | Response]: ...


@dataclass(frozen=True)
class Spec:
    """What the rest of pixelproof knows about a provider, declared by its module."""

    name: str  # the provider part of model ids
    module: str  # the module (in this package) and class that speak its wire format
    cls: str
    default_url: str
    key_vars: tuple[str, ...] = ()  # the first one set is the key
    url_var: str | None = None  # overrides default_url
    default_model: str | None = None  # what default_model() picks when a key is set
    temperature: tuple[float, float] = (0.0, 2.0)  # the range the API documents
    known_models: tuple[str, ...] = ()  # for "did you mean" and the server's model list
    needs_key: bool = True
    compatible: bool = False  # other servers speak it: one at another URL may need no key
    offline: bool = False  # no network, no key, no cost (the local engine)
    batch_api: bool = False  # takes the OpenAI Batch API


LOCAL = Spec("local", "local", "Local", "", offline=True, needs_key=False,
             temperature=(0.0, float("inf")))  # local.py belongs to the OCR engine's work

def resolve(model_id: str, base_url: str | None = None) -> Target:
    """``openai:gpt-4o-mini`` -> Target; a bare name is an OpenAI model; ``local`` is offline."""
    provider, sep, model = model_id.partition(":")
    if not sep:
        provider, model = ("local", "") if model_id == "local" else ("openai", model_id)
    if provider not in SPECS:
        near = difflib.get_close_matches(provider, list(SPECS), n=1)
        tip = f" Did you mean '{near[0]}:{model}'?" if near else ""
        raise ConfigError(f"unknown provider '{provider}' in model id '{model_id}'.{tip} "
                          f"Providers: {', '.join(SPECS)}.")
    spec = SPECS[provider]
    url = base_url or (os.environ.get(spec.url_var) if spec.url_var else None) or \
        spec.default_url
    key = next((os.environ[v] for v in spec.key_vars if os.environ.get(v)), None)
    if not model and not spec.offline:
        example = (spec.known_models or ("llava",))[0]
        raise ConfigError(f"model id '{model_id}' names no model. Use '{provider}:MODEL', "
                          f"for example '{provider}:{example}'.")
    return Target(provider, model, url.rstrip("/"), key)


def api_key(target: Target) -> str | None:
    """The API key; a ConfigError naming the variable when the endpoint needs one and has none.

    Official endpoints need a key; OpenAI-compatible servers elsewhere (Ollama, vLLM) often not.
    """
    spec = target.spec
    needed = spec.needs_key and not (spec.compatible and not _is_official(target.base_url))
    if target.api_key and not _KEY_CHARS.fullmatch(target.api_key):
        names = [v for v in spec.key_vars if os.environ.get(v) == target.api_key]
        where = f"in {names[0]}" if names else "given"
        raise ConfigError(f"{target.id}: the API key {where} holds a character keys never hold "
                          "(a space, a line break, a quote or a non-ASCII letter). Copy the "
                          "key again, without anything around it.")
    if target.api_key or not needed:
        return target.api_key
    names = " or ".join(spec.key_vars)
    raise ConfigError(f"{target.id}: no API key. Set {names} in the environment "
                      "(or use -m local to run offline).")


_KEY_CHARS = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces: what HTTP headers take


def _is_official(url: str) -> bool:
    return url.rstrip("/") in {spec.default_url for spec in SPECS.values() if spec.needs_key}


def suggest(target: Target) -> str:
    """' Did you mean X?' for a model id close to a known one, else ''."""
    return _suggest(target.provider, target.model)


@functools.lru_cache(maxsize=64)  # asked for every request's error hints
def _suggest(provider: str, model: str) -> str:
    near = difflib.get_close_matches(model, SPECS[provider].known_models, n=1)
    return f" Did you mean '{provider}:{near[0]}'?" if near else ""


def hints(target: Target) -> dict[int, str]:
    """The fix to suggest for a 401, 403 or 404 from the target's provider."""
    key = " or ".join(target.spec.key_vars) or "the API key"
    return {401: f"Check {key}.", 403: f"Check {key} and that it may use {target.model}.",
            404: f"Model '{target.model}' or the endpoint was not found at {target.base_url}."
                 f"{suggest(target)}"}


def default_model() -> str:
    """``PIXELPROOF_MODEL``, else the default model of the first provider with a key set, else
    ``local``."""
    if chosen := os.environ.get("PIXELPROOF_MODEL"):
        return chosen
    for spec in SPECS.values():
        if spec.default_model and any(os.environ.get(v) for v in spec.key_vars):
            return f"{spec.name}:{spec.default_model}"
    return "local"


def temperature_problem(temperature: float, model_ids: Iterable[str | None]) -> str | None:
    """Why ``temperature`` is outside what the providers of ``model_ids`` take (None: it is
    not), as "is not in 0 to 1 (the range of anthropic)"."""
    specs = []
    for model_id in model_ids:
        try:
            specs.append(resolve(model_id or default_model()).spec)
        except ConfigError:
            pass  # an unknown provider is reported when the model is used
    low = max((s.temperature[0] for s in specs), default=0.0)
    top = min((s.temperature[1] for s in specs), default=math.inf)
    if math.isfinite(temperature) and low <= temperature <= top:
        return None
    return f"is not in {low:g} to {top:g} (the range of {', '.join(s.name for s in specs)})"


def secret_vars() -> set[str]:
    """Every variable that may hold an API key."""
    return {v for spec in SPECS.values() for v in spec.key_vars}


def get(target: Target) -> Provider:
    """The provider object for a target (the local engine's module loads on first use)."""
    spec = target.spec
    return getattr(importlib.import_module(f".{spec.module}", __name__), spec.cls)()  # type: ignore[no-any-return]


# The provider modules import the names above; their specs, in the order default_model() tries.
from . import anthropic, gemini, openai  # noqa: E402

SPECS: dict[str, Spec] = {spec.name: spec for module in (openai, anthropic, gemini)
                          for spec in module.SPECS} | {LOCAL.name: LOCAL}
http.SECRET_VARS.update(secret_vars())
