"""Google Gemini ``generateContent``: ``inline_data`` image parts, ``responseSchema`` output."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import BadResponse
from ..images import fit_bytes
from ..types import Request, Response, Usage
from . import Spec, Target, api_key, suggest
from .base import HttpProvider, Streamed

SPECS = (
    Spec("gemini", "gemini", "Gemini", "https://generativelanguage.googleapis.com/v1beta",
         ("GEMINI_API_KEY", "GOOGLE_API_KEY"), "GEMINI_BASE_URL", "gemini-2.5-flash",
         known_models=("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite",
                       "gemini-2.0-flash")),
)

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


class Gemini(HttpProvider):
    def endpoint(self, target: Target, stream: bool) -> tuple[str, dict[str, str]]:
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return (f"{target.base_url}/models/{target.model}:{method}",
                {"x-goog-api-key": api_key(target) or ""})

    def body(self, request: Request, target: Target, stream: bool) -> dict[str, Any]:
        return body(request, target)

    def parse(self, data: dict[str, Any], target: Target, request: Request,
              seconds: float) -> Response:
        return parse(data, target, seconds)

    def hints(self, target: Target) -> dict[int, str]:
        return {**super().hints(target),
                400: "Check the request options (an invalid key also gives 400 here: check "
                     "GEMINI_API_KEY).",
                404: f"Model '{target.model}' was not found.{suggest(target)}"}

    def event(self, event: dict[str, Any], said: Streamed, target: Target,
              request: Request) -> Iterator[str]:
        text, finish, refusal = _candidate(event, target)
        said.finish, said.refusal = finish or said.finish, refusal or said.refusal
        said.model = event.get("modelVersion") or said.model
        said.usage = usage(event["usageMetadata"]) if event.get("usageMetadata") else said.usage
        if text:
            yield text
