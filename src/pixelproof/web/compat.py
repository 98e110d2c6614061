"""OpenAI-compatible routes: ``GET /v1/models`` and ``POST /v1/chat/completions``, streamed
(server-sent events) or not. ``model: "local"`` answers from the offline engine; other model ids
go to their provider with the server's keys, through the cache, budgets and rate limiter. Each
answer carries a ``pixelproof`` field (verification, cost, cache hit) that clients ignore."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict

from .. import providers
from ..errors import InputError, PixelproofError
from ..extract import build_request, read_answer, send, stream
from ..types import Image, Response, Turn
from ..verify import check
from .security import ApiError, api_error, error_body
from .service import Authorized, Service, service_of

router = APIRouter(tags=["OpenAI-compatible"])


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """The parts of CreateChatCompletionRequest pixelproof uses; the rest is ignored."""

    model_config = ConfigDict(extra="allow")
    model: str | None = None
    messages: list[Message]
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None


@router.get("/v1/models")
async def list_models(request: Request, caller: Authorized) -> dict[str, Any]:
    """The models this server answers with."""
    return {"object": "list", "data": [
        {"id": m, "object": "model", "created": 0,
         "owned_by": m.partition(":")[0] if ":" in m else "pixelproof"}
        for m in service_of(request).models()]}


EXTRACTION = re.compile(r"\b(extract\w*|tables?|json|csv|fields?|key[- ]?values?|transcribe|"
                        r"line items|rows|columns|spreadsheet|amounts?|totals?)\b", re.I)


def _parts(message: Message) -> list[dict[str, Any]]:
    if isinstance(message.content, str):
        return [{"type": "text", "text": message.content}]
    return message.content or []


def _image(part: dict[str, Any]) -> tuple[str, str | None]:
    """An image part's URL and detail: ``detail`` inside ``image_url``, or beside it."""
    inner = part.get("image_url")
    url = inner.get("url") if isinstance(inner, dict) else inner
    if not isinstance(url, str) or not url:
        raise InputError("image_url", "an image part without a URL",
                         'Send {"type": "image_url", "image_url": {"url": "..."}}.')
    detail = (inner.get("detail") if isinstance(inner, dict) else None) or part.get("detail")
    return url, detail


async def to_request(body: ChatRequest, service: Service) -> Any:
    """The messages as one pixelproof Request: system messages joined; the first user
    message's text is the prompt; its and later messages' images are loaded (under the
    limits); later messages' text follows as turns."""
    system: list[str] = []
    prompt: str | None = None
    urls: list[tuple[str, str | None]] = []
    turns: list[Turn] = []
    for message in body.messages:
        parts = _parts(message)
        text = "\n".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")
        urls += [_image(p) for p in parts if p.get("type") == "image_url"]
        if message.role in ("system", "developer"):
            system.append(text)
        elif prompt is None and message.role == "user":
            prompt = text
        elif prompt is not None:
            turns.append(Turn("assistant" if message.role == "assistant" else "user", text))
    if len(urls) > service.settings.max_files:
        raise ApiError(413, f"{len(urls)} images is over the {service.settings.max_files} "
                       "image limit per request.", code="too_many_images")
    images: list[Image] = []
    for url, _ in urls:
        images += await asyncio.to_thread(service.load, url)
    details = [d for _, d in urls if d]
    detail = "high" if "high" in details else "low" if details and all(
        d == "low" for d in details) else "auto"
    model = body.model or service.model
    schema = (body.response_format or {}).get("json_schema") \
        if (body.response_format or {}).get("type") == "json_schema" else None
    task = "extract" if schema or EXTRACTION.search(prompt or "") else "describe"
    return build_request(images, prompt or "", model=model, detail=detail,
                         system="\n\n".join(system) or None,
                         max_tokens=body.max_completion_tokens or body.max_tokens,
                         temperature=body.temperature, turns=tuple(turns), task=task,
                         json_schema=(schema or {}).get("schema"),
                         schema_name=(schema or {}).get("name") or "extraction")


async def pixelproof_field(request: Any, response: Response) -> dict[str, Any]:
    """Cost, cache hit, and the verification of any JSON or table in an LLM's answer about
    one image (the local engine's own answers are what it read: not checked again)."""
    report = None
    local = providers.resolve(request.model).spec.offline
    if not local and len(request.images) == 1:
        data, problems = read_answer(response.text, None)
        if not problems and data:
            report = (await asyncio.to_thread(check, request.images[0], data)).to_dict()
    return {"cost": None if response.cost is None else str(response.cost),
            "cached": response.cached, "seconds": round(response.seconds, 3),
            "verification": report}


def _usage(response: Response) -> dict[str, Any]:
    u = response.usage
    return {"prompt_tokens": u.input_tokens, "completion_tokens": u.output_tokens,
            "total_tokens": u.input_tokens + u.output_tokens,
            "prompt_tokens_details": {"cached_tokens": u.cached_tokens}}


@router.post("/v1/chat/completions")
async def chat_completions(body: ChatRequest, request: Request, caller: Authorized) -> Any:
    """Chat Completions with images; ``stream: true`` answers with server-sent events."""
    service = service_of(request)
    asked = await to_request(body, service)
    budget = service.budget_for(caller)
    base_url = service.base_url(asked.model)
    head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()),
            "model": asked.model}
    if not body.stream:
        response = await send(asked, service.http, base_url=base_url, budget=budget,
                              store=service.store)
        return {**head, "object": "chat.completion", "choices": [{
            "index": 0, "logprobs": None, "finish_reason": response.finish_reason or "stop",
            "message": {"role": "assistant", "content": response.text,
                        "refusal": response.refusal}}],
            "usage": _usage(response),
            "pixelproof": await pixelproof_field(asked, response)}
    pieces = stream(asked, service.http, base_url=base_url, store=service.store, budget=budget)
    first = await anext(pieces)  # errors before the first piece are HTTP errors
    usage = bool((body.stream_options or {}).get("include_usage"))
    return StreamingResponse(_events(head, first, pieces, asked, usage),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


def _chunk(head: dict[str, Any], delta: dict[str, Any], finish: str | None = None,
           **extra: Any) -> str:
    body = {**head, "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                         "logprobs": None}], **extra}
    return f"data: {json.dumps(body)}\n\n"


async def _events(head: dict[str, Any], first: str | Response,
                  pieces: AsyncIterator[str | Response], asked: Any,
                  usage: bool) -> AsyncIterator[str]:
    yield _chunk(head, {"role": "assistant", "content": ""})
    piece: str | Response | None = first
    try:
        while piece is not None:
            if isinstance(piece, Response):
                yield _chunk(head, {}, piece.finish_reason or "stop",
                             pixelproof=await pixelproof_field(asked, piece))
                if usage:
                    tally = {**head, "object": "chat.completion.chunk", "choices": [],
                             "usage": _usage(piece)}
                    yield f"data: {json.dumps(tally)}\n\n"
                break
            yield _chunk(head, {"content": piece})
            piece = await anext(pieces, None)
    except PixelproofError as e:  # after the answer began: the error as the last event
        yield f"data: {json.dumps(error_body(api_error(e)))}\n\n"
    finally:
        await pieces.aclose()  # type: ignore[attr-defined]
    yield "data: [DONE]\n\n"

