"""Model ids (``provider:model``) resolved to the module that speaks that provider's wire format.

Each provider module turns a Request into its wire JSON, the reply into a Response with Usage,
and HTTP errors into pixelproof errors; nothing else.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

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


class Provider(Protocol):
    async def complete(self, request: Request, target: Target, http: Http) -> Response: ...

    def stream(self, request: Request, target: Target,
               http: Http) -> AsyncIterator[str | Response]: ...


# provider -> (module, key variables, base URL variable, default base URL)
_SPECS: dict[str, tuple[str, tuple[str, ...], str | None, str]] = {
    "openai": ("openai", ("OPENAI_API_KEY",), "OPENAI_BASE_URL", "https://api.openai.com/v1"),
    "ollama": ("openai", (), "OLLAMA_BASE_URL", "http://localhost:11434/v1"),
    "openrouter": ("openai", ("OPENROUTER_API_KEY",), None, "https://openrouter.ai/api/v1"),
    "anthropic": ("anthropic", ("ANTHROPIC_API_KEY",), "ANTHROPIC_BASE_URL",
                  "https://api.anthropic.com"),
    "gemini": ("gemini", ("GEMINI_API_KEY", "GOOGLE_API_KEY"), "GEMINI_BASE_URL",
               "https://generativelanguage.googleapis.com/v1beta"),
    "local": ("local", (), None, ""),
}

# Well-known models, for "did you mean" when a provider says a model does not exist.
KNOWN_MODELS = {
    "openai": ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o4-mini",
               "gpt-5", "gpt-5-mini", "gpt-5-nano"],
    "anthropic": ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5",
                  "claude-3-5-haiku-latest"],
    "gemini": ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite", "gemini-2.0-flash"],
}


def resolve(model_id: str, base_url: str | None = None) -> Target:
    """``openai:gpt-4o-mini`` -> Target; a bare name is an OpenAI model; ``local`` is offline."""
    provider, sep, model = model_id.partition(":")
    if not sep:
        provider, model = ("local", "") if model_id == "local" else ("openai", model_id)
    if provider not in _SPECS:
        near = difflib.get_close_matches(provider, list(_SPECS), n=1)
        tip = f" Did you mean '{near[0]}:{model}'?" if near else ""
        raise ConfigError(f"unknown provider '{provider}' in model id '{model_id}'.{tip} "
                          f"Providers: {', '.join(_SPECS)}.")
    _, key_vars, url_var, default_url = _SPECS[provider]
    url = base_url or (os.environ.get(url_var) if url_var else None) or default_url
    key = next((os.environ[v] for v in key_vars if os.environ.get(v)), None)
    if provider == "openai" and key is None and not _is_official(url):
        key = os.environ.get("OPENAI_API_KEY")  # compatible servers often need none
    if not model and provider != "local":
        example = (KNOWN_MODELS.get(provider) or ["llava"])[0]
        raise ConfigError(f"model id '{model_id}' names no model. Use '{provider}:MODEL', "
                          f"for example '{provider}:{example}'.")
    return Target(provider, model, url.rstrip("/"), key)


def api_key(target: Target) -> str | None:
    """The API key; a ConfigError naming the variable when the endpoint needs one and has none.

    Official endpoints need a key; OpenAI-compatible servers elsewhere (Ollama, vLLM) often not.
    """
    needed = target.provider in ("anthropic", "gemini", "openrouter") or (
        target.provider == "openai" and _is_official(target.base_url))
    if target.api_key and not _KEY_CHARS.fullmatch(target.api_key):
        names = [v for v in (*_SPECS[target.provider][1], "OPENAI_API_KEY")
                 if os.environ.get(v) == target.api_key]
        where = f"in {names[0]}" if names else "given"
        raise ConfigError(f"{target.id}: the API key {where} holds a character keys never hold "
                          "(a space, a line break, a quote or a non-ASCII letter). Copy the "
                          "key again, without anything around it.")
    if target.api_key or not needed:
        return target.api_key
    names = " or ".join(_SPECS[target.provider][1])
    raise ConfigError(f"{target.id}: no API key. Set {names} in the environment "
                      "(or use -m local to run offline).")


_KEY_CHARS = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces: what HTTP headers take


def _is_official(url: str) -> bool:
    return url.rstrip("/") in {spec[3] for spec in _SPECS.values()}


def suggest(target: Target) -> str:
    """' Did you mean X?' for a model id close to a known one, else ''."""
    return _suggest(target.provider, target.model)


@functools.lru_cache(maxsize=64)  # asked for every request's error hints
def _suggest(provider: str, model: str) -> str:
    near = difflib.get_close_matches(model, KNOWN_MODELS.get(provider, []), n=1)
    return f" Did you mean '{provider}:{near[0]}'?" if near else ""


def default_model() -> str:
    """``PIXELPROOF_MODEL``, else the first provider with a key set, else ``local``."""
    if chosen := os.environ.get("PIXELPROOF_MODEL"):
        return chosen
    if os.environ.get("OPENAI_API_KEY"):
        return "openai:gpt-4o-mini"
    if os.environ.get("ANTHROPIC_API_KEY"):
        return "anthropic:claude-haiku-4-5"
    if os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY"):
        return "gemini:gemini-2.5-flash"
    return "local"


def get(target: Target) -> Provider:
    """The provider object for a target (modules load on first use)."""
    module = _SPECS[target.provider][0]
    if module == "openai":
        from .openai import OpenAI
        return OpenAI()
    if module == "anthropic":
        from .anthropic import Anthropic
        return Anthropic()
    if module == "gemini":
        from .gemini import Gemini
        return Gemini()
    from .local import Local
    return Local()
