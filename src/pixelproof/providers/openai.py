"""OpenAI Chat Completions, and every server that speaks it (Ollama, vLLM, LM Studio, llama.cpp,
OpenRouter): ``image_url`` parts with a URL or base64 data URL and a ``detail`` level."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from ..errors import BadResponse
from ..http import Http
from ..images import fit_bytes
from ..types import Request, Response, Usage
from . import Target, api_key, suggest

MAX_IMAGE_BYTES = 20 * 1024 * 1024
URL_HOSTS = ("api.openai.com", "openrouter.ai")  # these fetch public image URLs themselves


def image_part(image: Any, detail: str, target: Target) -> dict[str, Any]:
    if image.url and any(h in target.base_url for h in URL_HOSTS):
        url = image.url
    else:
        url = fit_bytes(image, MAX_IMAGE_BYTES).data_url()
    return {"type": "image_url", "image_url": {"url": url, "detail": detail}}


def is_strict_schema(schema: Any) -> bool:
    """Structured Outputs' strict mode needs every object closed and every property required."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            props = schema.get("properties", {})
            if schema.get("additionalProperties") is not False or set(
                    schema.get("required", [])) != set(props):
                return False
        return all(is_strict_schema(v) for v in schema.values())
    if isinstance(schema, list):
        return all(is_strict_schema(v) for v in schema)
    return True


def body(request: Request, target: Target, *, stream: bool = False) -> dict[str, Any]:
    """The Chat Completions request body (CreateChatCompletionRequest)."""
    content: list[dict[str, Any]] = [{"type": "text", "text": request.prompt}]
    content += [image_part(im, request.detail, target) for im in request.images]
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.append({"role": "user", "content": content})
    messages += [{"role": t.role, "content": t.text} for t in request.turns]
    out: dict[str, Any] = {"model": target.model, "messages": messages}
    if request.temperature is not None:
        out["temperature"] = request.temperature
    if request.max_tokens is not None:
        official = "api.openai.com" in target.base_url
        out["max_completion_tokens" if official else "max_tokens"] = request.max_tokens
    if request.json_schema is not None:
        out["response_format"] = {"type": "json_schema", "json_schema": {
            "name": request.schema_name, "schema": request.json_schema,
            "strict": is_strict_schema(request.json_schema)}}
    if stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def usage(data: dict[str, Any] | None) -> Usage:
    if not data:
        return Usage()
    details = data.get("prompt_tokens_details") or {}
    return Usage(int(data.get("prompt_tokens") or 0), int(data.get("completion_tokens") or 0),
                 int(details.get("cached_tokens") or 0))


def parse(data: dict[str, Any], target: Target, seconds: float = 0.0) -> Response:
    """A Chat Completions reply -> Response."""
    try:
        choice = data["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise BadResponse(f"{target.id}: the reply has no choices[0].message; is the base URL "
                          "an OpenAI-compatible /v1 endpoint?", provider=target.provider) from None
    return Response(text=message.get("content") or "", model=data.get("model") or target.model,
                    usage=usage(data.get("usage")), finish_reason=choice.get("finish_reason"),
                    refusal=message.get("refusal"), seconds=seconds, raw=data)


def _endpoint(target: Target) -> tuple[str, dict[str, str]]:
    key = api_key(target)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return f"{target.base_url}/chat/completions", headers


def _hints(target: Target) -> dict[int, str]:
    var = "OPENROUTER_API_KEY" if target.provider == "openrouter" else "OPENAI_API_KEY"
    return {401: f"Check {var}.", 403: f"Check {var} and that it may use {target.model}.",
            404: f"Model '{target.model}' or the endpoint was not found at {target.base_url}."
                 f"{suggest(target)}"}


class OpenAI:
    async def complete(self, request: Request, target: Target, http: Http) -> Response:
        url, headers = _endpoint(target)
        start = time.perf_counter()
        data = await http.post_json(url, body(request, target), provider=target.provider,
                                    headers=headers, hints=_hints(target))
        return parse(data, target, time.perf_counter() - start)

    async def stream(self, request: Request, target: Target,
                     http: Http) -> AsyncIterator[str | Response]:
        url, headers = _endpoint(target)
        start = time.perf_counter()
        parts: list[str] = []
        finish = refusal = model = None
        use = Usage()
        async for event in http.stream_sse(url, body(request, target, stream=True),
                                           provider=target.provider, headers=headers,
                                           hints=_hints(target)):
            model = event.get("model") or model
            use = usage(event.get("usage")) if event.get("usage") else use
            for choice in event.get("choices") or []:
                # a server that ignores "stream" answers with one JSON body: its message
                delta = choice.get("delta") or choice.get("message") or {}
                if text := delta.get("content"):
                    parts.append(text)
                    yield text
                refusal = delta.get("refusal") or refusal
                finish = choice.get("finish_reason") or finish
        yield Response(text="".join(parts), model=model or target.model, usage=use,
                       finish_reason=finish, refusal=refusal,
                       seconds=time.perf_counter() - start)
