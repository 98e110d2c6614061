"""Anthropic Messages API: base64 or URL ``image`` source blocks; structured output via a tool."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ..errors import BadResponse
from ..http import Http
from ..images import fit_bytes
from ..types import Request, Response, Usage
from . import Spec, Target, api_key, suggest
from .base import HttpProvider, Streamed

SPECS = (
    Spec("anthropic", "anthropic", "Anthropic", "https://api.anthropic.com",
         ("ANTHROPIC_API_KEY",), "ANTHROPIC_BASE_URL", "claude-haiku-4-5",
         temperature=(0.0, 1.0),  # the Messages API's range
         known_models=("claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5",
                       "claude-3-5-haiku-latest")),
)

VERSION = "2023-06-01"
MAX_IMAGE_BYTES = 5 * 1024 * 1024 * 3 // 4  # the 5 MB limit applies to the base64 text
DEFAULT_MAX_TOKENS = 4096
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
           "tool_use": "stop", "refusal": "refusal"}


def image_block(image: Any) -> dict[str, Any]:
    if image.url:
        return {"type": "image", "source": {"type": "url", "url": image.url}}
    image = fit_bytes(image, MAX_IMAGE_BYTES)
    return {"type": "image", "source": {"type": "base64", "media_type": image.mime,
                                        "data": image.base64}}


def body(request: Request, target: Target, *, stream: bool = False) -> dict[str, Any]:
    """The Messages request body; images come before the text, as Anthropic advises."""
    content = [image_block(im) for im in request.images]
    content.append({"type": "text", "text": request.prompt})
    messages = [{"role": "user", "content": content}]
    messages += [{"role": t.role, "content": t.text} for t in request.turns]
    out: dict[str, Any] = {"model": target.model,
                           "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
                           "messages": messages}
    if request.system:
        out["system"] = request.system
    if request.temperature is not None:
        out["temperature"] = request.temperature
    if request.json_schema is not None:
        out["tools"] = [{"name": request.schema_name,
                         "description": "Record the data extracted from the image(s).",
                         "input_schema": _object_schema(request.json_schema)}]
        out["tool_choice"] = {"type": "tool", "name": request.schema_name}
    if stream:
        out["stream"] = True
    return out


def _object_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Tool input must be an object: wrap any other schema in ``{"result": ...}``."""
    if schema.get("type") == "object":
        return schema
    return {"type": "object", "properties": {"result": schema}, "required": ["result"]}


def usage(data: dict[str, Any] | None) -> Usage:
    data = data or {}
    cached = int(data.get("cache_read_input_tokens") or 0)
    return Usage(int(data.get("input_tokens") or 0) + cached,
                 int(data.get("output_tokens") or 0), cached)


def parse(data: dict[str, Any], target: Target, request: Request | None = None,
          seconds: float = 0.0) -> Response:
    if not isinstance(data.get("content"), list):
        raise BadResponse(f"{target.id}: the reply has no content list.",
                          provider=target.provider)
    texts = []
    for block in data["content"]:
        if block.get("type") == "text":
            texts.append(block.get("text", ""))
        elif block.get("type") == "tool_use":
            value = block.get("input", {})
            wrapped = request is not None and request.json_schema is not None and \
                request.json_schema.get("type") != "object"
            texts.append(json.dumps(value.get("result") if wrapped else value))
    stop = data.get("stop_reason")
    finish = _FINISH.get(stop, stop)
    text = "".join(texts)
    return Response(text=text, model=data.get("model") or target.model,
                    usage=usage(data.get("usage")), finish_reason=finish,
                    refusal=text or "refused" if finish == "refusal" else None,
                    seconds=seconds, raw=data)


class Anthropic(HttpProvider):
    def endpoint(self, target: Target, stream: bool) -> tuple[str, dict[str, str]]:
        headers = {"x-api-key": api_key(target) or "", "anthropic-version": VERSION}
        return f"{target.base_url}/v1/messages", headers

    def body(self, request: Request, target: Target, stream: bool) -> dict[str, Any]:
        return body(request, target, stream=stream)

    def parse(self, data: dict[str, Any], target: Target, request: Request,
              seconds: float) -> Response:
        return parse(data, target, request, seconds)

    def hints(self, target: Target) -> dict[int, str]:
        return {**super().hints(target),
                404: f"Model '{target.model}' was not found.{suggest(target)}"}

    async def stream(self, request: Request, target: Target,
                     http: Http) -> AsyncIterator[str | Response]:
        if request.json_schema is not None:  # tool input arrives as JSON fragments: wait for it
            yield await self.complete(request, target, http)
            return
        async for piece in super().stream(request, target, http):
            yield piece

    def event(self, event: dict[str, Any], said: Streamed, target: Target,
              request: Request) -> Iterator[str]:
        kind = event.get("type")
        if kind == "message":  # a server that ignores "stream" answers with one JSON body
            whole = parse(event, target, request)
            said.model, said.usage, said.finish = whole.model, whole.usage, whole.finish_reason
            said.refusal = whole.refusal
            if whole.text:
                yield whole.text
        elif kind == "message_start":
            message = event.get("message") or {}
            said.model = message.get("model") or said.model
            said.usage = usage(message.get("usage"))
        elif kind == "content_block_delta":
            if text := (event.get("delta") or {}).get("text"):
                yield text
        elif kind == "message_delta":
            stop = (event.get("delta") or {}).get("stop_reason")
            said.finish = _FINISH.get(stop, stop) if stop else said.finish
            said.refusal = "refused" if said.finish == "refusal" else None
            out = (event.get("usage") or {}).get("output_tokens")
            use = said.usage
            said.usage = Usage(use.input_tokens, int(out or use.output_tokens), use.cached_tokens)
        elif kind == "error":
            raise BadResponse(f"{target.id}: the stream reported an error: "
                              f"{(event.get('error') or {}).get('message')}",
                              provider=target.provider)
