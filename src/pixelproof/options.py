"""How to ask, as one typed value checked before any item runs.

``extract``, ``describe`` and ``batch`` build it from their keyword arguments (a misspelled one
is a ConfigError naming it, with the nearest right name); errors name the library's parameter
(``temperature=``), and the CLI renders them as its flags (``--temperature``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields, replace
from typing import Any

from . import providers
from .errors import ConfigError, OptionError
from .output import FORMATS

DETAILS = ("low", "high", "auto")
DATE_ORDERS = ("dmy", "mdy", "ymd")
MAX_ATTEMPTS = MAX_VOTES = 10


@dataclass(frozen=True)
class Options:
    """What every image is asked with."""

    model: str | None = None  # provider:model; None: providers.default_model()
    base_url: str | None = None
    prompt: str | None = None  # None: the built-in instructions
    system: str | None = None
    detail: str = "auto"  # low, high or auto
    max_tokens: int | None = None
    temperature: float | None = None
    format: str = "markdown"  # markdown, json, jsonl or csv
    attempts: int = 3  # asks per image, re-asked with the validation errors
    verify: bool = True  # check every value against the pixels and the arithmetic
    votes: int = 1  # ask N times and report per-field agreement
    vote_models: tuple[str, ...] = ()  # more models that vote
    date_order: str | None = None  # dmy, mdy or ymd: how numeric dates are written

    @classmethod
    def of(cls, function: str, given: dict[str, Any], base: Options | None = None,
           only: tuple[str, ...] | None = None) -> Options:
        """``base`` with ``given`` over it, checked; ``function`` names the caller in errors,
        ``only`` the options it takes (all of them by default)."""
        names = only or tuple(f.name for f in fields(cls))
        for name in given:
            if name not in names:
                near = difflib.get_close_matches(name, names, n=1)
                tip = f" Did you mean {near[0]}=?" if near else ""
                raise ConfigError(f"{function}() has no option {name}=.{tip} Its options: "
                                  f"{', '.join(names)}.")
        if "vote_models" in given:
            given = {**given, "vote_models": tuple(given["vote_models"] or ())}
        return replace(base or cls(), **given).usable()

    def checked(self) -> Options:
        """This value, or a ConfigError naming the first option out of its range."""
        if self.model is not None and not (isinstance(self.model, str) and self.model.strip()):
            raise ConfigError("model= names no model: give an id such as openai:gpt-4o-mini "
                              "or local.")
        for name, word, allowed in (("format", self.format, FORMATS),
                                    ("detail", self.detail, DETAILS)) + (
                (("date_order", self.date_order, DATE_ORDERS),) if self.date_order else ()):
            if word not in allowed:
                raise OptionError(name, word, f"is not one of {', '.join(allowed)}.")
        for name, count, top in (("attempts", self.attempts, MAX_ATTEMPTS),
                                 ("votes", self.votes, MAX_VOTES)):
            if not (isinstance(count, int) and 1 <= count <= top):
                raise OptionError(name, count, f"is not in 1 to {top}.")
        if self.max_tokens is not None and not (
                isinstance(self.max_tokens, int) and self.max_tokens >= 1):
            raise OptionError("max_tokens", self.max_tokens,
                              "is not a token count: give 1 or more.")
        if self.temperature is not None and (why := providers.temperature_problem(
                self.temperature, [self.model, *self.vote_models])):
            raise OptionError("temperature", self.temperature, f"{why}.")
        return self

    def usable(self) -> Options:
        """This value checked, and its models' API keys there (a ConfigError naming the
        variable to set when one is missing)."""
        for model in (self.checked().model, *self.vote_models):
            providers.api_key(providers.resolve(model or providers.default_model(),
                                                self.base_url))
        return self

    def asked(self) -> dict[str, Any]:
        """The options that differ from the defaults, as keyword arguments."""
        default = Options()
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) != getattr(default, f.name)}


DESCRIBE = ("model", "base_url", "system", "detail", "max_tokens", "temperature", "verify")
