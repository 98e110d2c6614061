"""The skeleton the HTTP providers share: ``complete`` posts the body and parses the reply,
``stream`` folds server-sent events into text pieces and a final Response. A provider module
gives the endpoint, the body, the parse and what one event adds."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..http import Http
from ..types import Request, Response, Usage
from . import Target, hints


@dataclass
class Streamed:
    """What a stream has said so far."""

    model: str
    parts: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish: str | None = None
    refusal: str | None = None

    def response(self, seconds: float) -> Response:
        return Response(text="".join(self.parts), model=self.model, usage=self.usage,
                        finish_reason=self.finish, refusal=self.refusal, seconds=seconds)


class HttpProvider:
    """A provider over HTTP; subclasses give ``endpoint``, ``body``, ``parse`` and ``event``."""

    def endpoint(self, target: Target, stream: bool) -> tuple[str, dict[str, str]]:
        raise NotImplementedError

    def body(self, request: Request, target: Target, stream: bool) -> dict[str, Any]:
        raise NotImplementedError

    def parse(self, data: dict[str, Any], target: Target, request: Request,
              seconds: float) -> Response:
        raise NotImplementedError

    def event(self, event: dict[str, Any], said: Streamed, target: Target,
              request: Request) -> Iterable[str]:
        """Fold one event into ``said``; the text pieces it brings."""
        raise NotImplementedError

    def hints(self, target: Target) -> dict[int, str]:
        return hints(target)

    async def complete(self, request: Request, target: Target, http: Http) -> Response:
        url, headers = self.endpoint(target, False)
        start = time.perf_counter()
        data = await http.post_json(url, self.body(request, target, False),
                                    provider=target.provider, headers=headers,
                                    hints=self.hints(target))
        return self.parse(data, target, request, time.perf_counter() - start)

    async def stream(self, request: Request, target: Target,
                     http: Http) -> AsyncIterator[str | Response]:
        url, headers = self.endpoint(target, True)
        start = time.perf_counter()
        said = Streamed(target.model)
        async for event in http.stream_sse(url, self.body(request, target, True),
                                           provider=target.provider, headers=headers,
                                           hints=self.hints(target)):
            for text in self.event(event, said, target, request):
                said.parts.append(text)
                yield text
        yield said.response(time.perf_counter() - start)
