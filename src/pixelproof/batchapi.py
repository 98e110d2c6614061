"""The OpenAI Batch API: half price, answers within 24 hours.

``run_batch(requests, target, http, store=, run=)`` writes one JSONL line per request (the same
Chat Completions body as a live call), uploads it through the Files API, creates a Batch, polls
it, downloads the output and error files and maps every line back by ``custom_id``. With a run
store, the batch ids are recorded as soon as they exist, so a restarted run polls the same
batches instead of uploading (and paying) again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .cost import cost_of
from .errors import ProviderError
from .http import Http, parse_json
from .providers import Target, api_key
from .providers.openai import body, parse
from .store import Store
from .types import Request, Response

MAX_LINES, MAX_BYTES = 50_000, 190 * 1024 * 1024  # the API's limits, with a margin
DONE = {"completed", "failed", "expired", "cancelled"}
META = "openai_batches"


def _headers(target: Target) -> dict[str, str]:
    key = api_key(target)
    return {"Authorization": f"Bearer {key}"} if key else {}


def jsonl_files(requests: list[tuple[str, Request]], target: Target) -> list[bytes]:
    """The batch input files: one line per request, split to stay under the API's limits."""
    files: list[bytes] = []
    lines: list[bytes] = []
    size = 0
    for custom_id, request in requests:
        line = json.dumps({"custom_id": custom_id, "method": "POST",
                           "url": "/v1/chat/completions",
                           "body": body(request, target)}).encode() + b"\n"
        if lines and (len(lines) >= MAX_LINES or size + len(line) > MAX_BYTES):
            files.append(b"".join(lines))
            lines, size = [], 0
        lines.append(line)
        size += len(line)
    if lines:
        files.append(b"".join(lines))
    return files


async def _create(data: bytes, target: Target, http: Http) -> str:
    r = await http.request("POST", f"{target.base_url}/files", provider=target.provider,
                           headers=_headers(target), data={"purpose": "batch"},
                           files={"file": ("pixelproof-batch.jsonl", data, "application/jsonl")})
    file_id = parse_json(r, target.provider)["id"]
    r = await http.request("POST", f"{target.base_url}/batches", provider=target.provider,
                           headers=_headers(target),
                           json={"input_file_id": file_id, "endpoint": "/v1/chat/completions",
                                 "completion_window": "24h"})
    return str(parse_json(r, target.provider)["id"])


async def _get(url: str, target: Target, http: Http) -> Any:
    return await http.request("GET", url, provider=target.provider, headers=_headers(target))


async def _wait(batch_id: str, target: Target, http: Http, poll_seconds: float,
                on_status: Callable[[str, dict[str, Any]], None] | None) -> dict[str, Any]:
    while True:
        info = parse_json(await _get(f"{target.base_url}/batches/{batch_id}", target, http),
                          target.provider)
        if on_status:
            on_status(batch_id, info)
        if info.get("status") in DONE:
            return info
        await asyncio.sleep(poll_seconds)


async def _lines(file_id: str | None, target: Target, http: Http) -> list[dict[str, Any]]:
    if not file_id:
        return []
    r = await _get(f"{target.base_url}/files/{file_id}/content", target, http)
    return [json.loads(line) for line in r.text.splitlines() if line.strip()]


async def run_batch(requests: list[tuple[str, Request]], target: Target, http: Http, *,
                    store: Store | None = None, run: str | None = None,
                    poll_seconds: float = 30.0,
                    on_status: Callable[[str, dict[str, Any]], None] | None = None,
                    ) -> dict[str, Response | ProviderError]:
    """Each ``custom_id``'s Response (priced at batch rates) or the error for its line."""
    ids = (store.get_meta(run, META) if store and run else None) or []
    if not ids:
        for data in jsonl_files(requests, target):
            ids.append(await _create(data, target, http))
            if store and run:
                store.set_meta(run, META, ids)
    out: dict[str, Response | ProviderError] = {}
    for batch_id in ids:
        info = await _wait(batch_id, target, http, poll_seconds, on_status)
        if info["status"] == "failed":
            errors = "; ".join(e.get("message", "") for e in
                               (info.get("errors") or {}).get("data") or [])
            raise ProviderError(f"{target.id}: batch {batch_id} failed: {errors or 'no reason'}"
                                ". Fix the cause and run again with a new --run name.",
                                provider=target.provider)
        for line in await _lines(info.get("output_file_id"), target, http) + \
                await _lines(info.get("error_file_id"), target, http):
            out[line["custom_id"]] = _result(line, target)
    for custom_id, _ in requests:
        out.setdefault(custom_id, ProviderError(
            f"{target.id}: no answer for {custom_id} in the batch (it expired or was "
            "cancelled); run again to send it live or in a new batch.",
            provider=target.provider))
    return out  # the caller clears META once it has kept the results


def _result(line: dict[str, Any], target: Target) -> Response | ProviderError:
    response = line.get("response") or {}
    if line.get("error") or response.get("status_code", 200) >= 400:
        error = line.get("error") or (response.get("body") or {}).get("error") or {}
        return ProviderError(f"{target.id}: the batch answered {line['custom_id']} with an "
                             f"error: {error.get('message') or error}", provider=target.provider,
                             status=response.get("status_code"))
    answer = parse(response["body"], target)
    return replace(answer, cost=cost_of(target.id, answer.usage, batch=True))
