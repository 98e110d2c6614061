"""Google Gemini ``generateContent``: ``inline_data`` image parts, ``responseSchema`` output."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from ..errors import BadResponse
from ..http import Http
from ..images import fit_bytes
from ..types import Request, Response, Usage
from . import Target, api_key, suggest

MAX_IMAGE_BYTES = 15 * 1024 * 1024  # inline requests are capped at 20 MB in all, base64 included
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "refusal",
           "RECITATION": "refusal", "PROHIBITED_CONTENT": "refusal"}
_SCHEMA_KEYS = {"type", "format", "description", "nullable", "enum", "properties", "required",
                "items", "minItems", "maxItems", "minimum", "maximum", "anyOf",
                "propertyOrdering", "title"}


def response_schema(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> dict[str, Any]:
    """JSON Schema -> the OpenAPI subset ``responseSchema`` takes: refs inlined, ``["x","null"]``
    types as ``nullable``, unsupported keywords dropped."""
    defs = defs if defs is not None else {**schema.get("$defs", {}),
                                          **schema.get("definitions", {})}
    if "$ref" in schema:
        return response_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in _SCHEMA_KEYS:
            continue
        if key == "type" and isinstance(value, list):
            kinds = [k for k in value if k != "null"]
            out["type"] = kinds[0] if kinds else "string"
            if "null" in value:
                out["nullable"] = True
        elif key == "properties":
            out[key] = {k: response_schema(v, defs) for k, v in value.items()}
        elif key == "items":
            out[key] = response_schema(value, defs)
        elif key == "anyOf":
            kinds = [v for v in value if v.get("type") != "null"]
            if len(kinds) == 1:
                out.update(response_schema(kinds[0], defs))
                out["nullable"] = True
            else:
                out[key] = [response_schema(v, defs) for v in value]
        else:
            out[key] = value
    if isinstance(out.get("type"), str):
        out["type"] = out["type"].upper()
    return out


def body(request: Request, target: Target) -> dict[str, Any]:
    """The generateContent request body."""
    parts: list[dict[str, Any]] = []
    for im in request.images:
        im = fit_bytes(im, MAX_IMAGE_BYTES)
        parts.append({"inline_data": {"mime_type": im.mime, "data": im.base64}})
    parts.append({"text": request.prompt})
    contents = [{"role": "user", "parts": parts}]
    contents += [{"role": "model" if t.role == "assistant" else "user",
                  "parts": [{"text": t.text}]} for t in request.turns]
    out: dict[str, Any] = {"contents": contents}
    if request.system:
        out["systemInstruction"] = {"parts": [{"text": request.system}]}
    config: dict[str, Any] = {}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    if request.json_schema is not None:
        config["responseMimeType"] = "application/json"
        config["responseSchema"] = response_schema(request.json_schema)
    if config:
        out["generationConfig"] = config
    return out


def usage(data: dict[str, Any] | None) -> Usage:
    data = data or {}
    out = int(data.get("candidatesTokenCount") or 0) + int(data.get("thoughtsTokenCount") or 0)
    return Usage(int(data.get("promptTokenCount") or 0), out,
                 int(data.get("cachedContentTokenCount") or 0))


def _candidate(data: dict[str, Any], target: Target) -> tuple[str, str | None, str | None]:
    """(text, finish_reason, refusal) of the first candidate."""
    candidates = data.get("candidates")
    if not candidates:
        blocked = (data.get("promptFeedback") or {}).get("blockReason")
        if blocked:
            return "", "refusal", f"prompt blocked: {blocked}"
        if "usageMetadata" in data:
            return "", None, None
        raise BadResponse(f"{target.id}: the reply has no candidates.", provider=target.provider)
    first = candidates[0]
    parts = (first.get("content") or {}).get("parts") or []
    text = "".join(p.get("text", "") for p in parts if not p.get("thought"))
    reason = first.get("finishReason")
    finish = _FINISH.get(reason, reason.lower() if reason else None)
    return text, finish, (f"blocked: {reason}" if finish == "refusal" else None)


def parse(data: dict[str, Any], target: Target, seconds: float = 0.0) -> Response:
    text, finish, refusal = _candidate(data, target)
    return Response(text=text, model=data.get("modelVersion") or target.model,
                    usage=usage(data.get("usageMetadata")), finish_reason=finish,
                    refusal=refusal, seconds=seconds, raw=data)


def _endpoint(target: Target, method: str) -> tuple[str, dict[str, str]]:
    return (f"{target.base_url}/models/{target.model}:{method}",
            {"x-goog-api-key": api_key(target) or ""})


def _hints(target: Target) -> dict[int, str]:
    return {400: "Check the request options (an invalid key also gives 400 here: check "
                 "GEMINI_API_KEY).", 401: "Check GEMINI_API_KEY.",
            403: "Check GEMINI_API_KEY and its access.",
            404: f"Model '{target.model}' was not found.{suggest(target)}"}


class Gemini:
    async def complete(self, request: Request, target: Target, http: Http) -> Response:
        url, headers = _endpoint(target, "generateContent")
        start = time.perf_counter()
        data = await http.post_json(url, body(request, target), provider=target.provider,
                                    headers=headers, hints=_hints(target))
        return parse(data, target, time.perf_counter() - start)

    async def stream(self, request: Request, target: Target,
                     http: Http) -> AsyncIterator[str | Response]:
        url, headers = _endpoint(target, "streamGenerateContent")
        start = time.perf_counter()
        parts: list[str] = []
        finish = refusal = None
        model, use = target.model, Usage()
        async for event in http.stream_sse(url + "?alt=sse", body(request, target),
                                           provider=target.provider, headers=headers,
                                           hints=_hints(target)):
            text, finish_now, refusal_now = _candidate(event, target)
            finish, refusal = finish_now or finish, refusal_now or refusal
            model = event.get("modelVersion") or model
            use = usage(event["usageMetadata"]) if event.get("usageMetadata") else use
            if text:
                parts.append(text)
                yield text
        yield Response(text="".join(parts), model=model, usage=use, finish_reason=finish,
                       refusal=refusal, seconds=time.perf_counter() - start)
