"""OpenAI Chat Completions, and every server that speaks it (Ollama, vLLM, LM Studio, llama.cpp,
OpenRouter): ``image_url`` parts with a URL or base64 data URL and a ``detail`` level."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import BadResponse
from ..images import fit_bytes
from ..types import Request, Response, Usage
from . import Spec, Target, api_key
from .base import HttpProvider, Streamed

_GPT = ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o4-mini", "gpt-5",
        "gpt-5-mini", "gpt-5-nano")
SPECS = (
    Spec("openai", "openai", "OpenAI", "https://api.openai.com/v1", ("OPENAI_API_KEY",),
         "OPENAI_BASE_URL", "gpt-4o-mini", known_models=_GPT, compatible=True,
         batch_api=True),
    Spec("ollama", "openai", "OpenAI", "http://localhost:11434/v1", (), "OLLAMA_BASE_URL",
         needs_key=False, compatible=True),
    Spec("openrouter", "openai", "OpenAI", "https://openrouter.ai/api/v1",
         ("OPENROUTER_API_KEY",)),
)

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


class OpenAI(HttpProvider):
    def endpoint(self, target: Target, stream: bool) -> tuple[str, dict[str, str]]:
        key = api_key(target)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return f"{target.base_url}/chat/completions", headers

    def body(self, request: Request, target: Target, stream: bool) -> dict[str, Any]:
        return body(request, target, stream=stream)

    def parse(self, data: dict[str, Any], target: Target, request: Request,
              seconds: float) -> Response:
        return parse(data, target, seconds)

    def event(self, event: dict[str, Any], said: Streamed, target: Target,
              request: Request) -> Iterator[str]:
        said.model = event.get("model") or said.model
        said.usage = usage(event["usage"]) if event.get("usage") else said.usage
        for choice in event.get("choices") or []:
            # a server that ignores "stream" answers with one JSON body: its message
            delta = choice.get("delta") or choice.get("message") or {}
            if text := delta.get("content"):
                yield text
            said.refusal = delta.get("refusal") or said.refusal
            said.finish = choice.get("finish_reason") or said.finish
