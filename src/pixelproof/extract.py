"""describe(): ask a model about images and read its answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, TypeVar

from . import images as images_mod
from . import providers
from .errors import ConfigError
from .http import Http
from .types import Detail, Image, Request, Response

DEFAULT_PROMPT = "What is in this image?"
T = TypeVar("T")

ImageInput = str | bytes | Path | Image


def load_images(inputs: ImageInput | Iterable[ImageInput]) -> list[Image]:
    """Load every input (globs and folders expanded, PDFs split into pages)."""
    if isinstance(inputs, str | bytes | Path | Image):
        inputs = [inputs]
    out: list[Image] = []
    for item in inputs:
        if isinstance(item, Image):
            out.append(item)
        elif isinstance(item, str):
            for spec in images_mod.expand([item]):
                out.extend(images_mod.load(spec))
        else:
            out.extend(images_mod.load(item))
    return out


def run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine from synchronous code (the library's plain functions)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    raise ConfigError("called from inside a running event loop; use the async variant "
                      "(for example adescribe) there.")


def build_request(images: list[Image], prompt: str = DEFAULT_PROMPT, *, model: str | None = None,
                  detail: Detail = "auto", system: str | None = None,
                  max_tokens: int | None = None, temperature: float | None = None,
                  **extra: Any) -> Request:
    return Request(model=model or providers.default_model(), prompt=prompt,
                   images=tuple(images), system=system, detail=detail,
                   max_tokens=max_tokens, temperature=temperature, **extra)


async def send(request: Request, http: Http, *, base_url: str | None = None) -> Response:
    """One request to its provider."""
    target = providers.resolve(request.model, base_url)
    return await providers.get(target).complete(request, target, http)


async def stream(request: Request, http: Http, *,
                 base_url: str | None = None) -> AsyncIterator[str | Response]:
    """Text pieces as they arrive, then the whole Response."""
    target = providers.resolve(request.model, base_url)
    async for piece in providers.get(target).stream(request, target, http):
        yield piece


async def adescribe(image: ImageInput | Iterable[ImageInput], prompt: str = DEFAULT_PROMPT, *,
                    model: str | None = None, detail: Detail = "auto",
                    system: str | None = None, base_url: str | None = None,
                    http: Http | None = None, **options: Any) -> Response:
    """Ask one question about one or several images, sent together in one request."""
    request = build_request(load_images(image), prompt, model=model, detail=detail,
                            system=system, **options)
    if http is not None:
        return await send(request, http, base_url=base_url)
    async with Http() as own:
        return await send(request, own, base_url=base_url)


def describe(image: ImageInput | Iterable[ImageInput], prompt: str = DEFAULT_PROMPT,
             **options: Any) -> Response:
    """Ask a vision model about images: ``describe("chart.png", "What trend does it show?")``.

    Returns a Response with ``text``, ``usage``, ``model`` and ``seconds``.
    """
    return run_sync(lambda: adescribe(image, prompt, **options))
