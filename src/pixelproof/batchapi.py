"""The OpenAI Batch API: half price, answers within 24 hours.

The call ``batch.py`` makes (``--batch-api``)::

    async def run_batch(requests: list[tuple[str, Request]], target: Target, http: Http, *,
                        store: Store | None = None, run: str | None = None,
                        poll_seconds: float = 30.0,
                        on_status: Callable[[str, dict], None] | None = None,
                        ) -> dict[str, Response | ProviderError]

``requests`` pairs a unique custom id with each Request. Every request becomes one JSONL line
holding the same Chat Completions body as a live call; the lines are split into files under the
API's limits (50,000 lines, 200 MB), each uploaded through the Files API (purpose ``batch``)
and run as one Batch. Each batch is polled every ``poll_seconds`` (``on_status(batch_id,
batch_object)`` after each poll) until it ends; its output and error files are downloaded and
mapped back by custom id. The result has every custom id: a Response priced at batch rates
(``cost`` None when the model's price is unknown), or a ProviderError for a line the batch
answered with an error, a reply that is not a chat completion, or no answer at all (the batch
expired or was cancelled first: send it again).

A batch that fails as a whole raises a ProviderError naming it and the API's reason.

With ``store`` and ``run``, batch ids are kept in the run's meta (``openai_batches``, a list of
ids; ``openai_batches_plan`` records which requests each one holds) as soon as each exists, so a
restarted call polls those batches instead of uploading and paying again, sends only requests
no batch holds yet, and sends the requests of a batch that had failed once more. The caller
clears ``openai_batches`` (sets it to ``[]``) once it has kept the results.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from .cost import cost_of
from .errors import BadResponse, ConfigError, ProviderError
from .http import Http, parse_json
from .providers import Target, api_key, hints
from .providers.openai import body, parse
from .store import Store
from .types import Request, Response

MAX_LINES, MAX_BYTES = 50_000, 190 * 1024 * 1024  # the API's limits, with a margin
ENDPOINT = "/v1/chat/completions"
DONE = {"completed", "failed", "expired", "cancelled"}
META, PLAN = "openai_batches", "openai_batches_plan"
UNANSWERED = {"batch_expired", "batch_cancelled"}


async def run_batch(requests: list[tuple[str, Request]], target: Target, http: Http, *,
                    store: Store | None = None, run: str | None = None,
                    poll_seconds: float = 30.0,
                    on_status: Callable[[str, dict[str, Any]], None] | None = None,
                    ) -> dict[str, Response | ProviderError]:
    """Each custom id's Response (priced at batch rates) or the error for its line."""
    ids = [cid for cid, _ in requests]
    if len(set(ids)) != len(ids):
        raise ConfigError("run_batch: custom ids must be unique; one repeats.")
    batches = _Batches(target, http, store if run is not None else None, run or "", ids)
    if batches.ranges is not None:
        await batches.drop_failed()
        for start, end in batches.gaps():
            await batches.send(requests, start, end)
    out: dict[str, Response | ProviderError] = {}
    for batch_id in list(batches.ids):
        info = await batches.wait(batch_id, poll_seconds, on_status)
        if info["status"] == "failed":
            errors = "; ".join(_batch_error(e) for e in
                               (info.get("errors") or {}).get("data") or [])
            raise ProviderError(
                f"{target.id}: batch {batch_id} failed: {errors or 'no reason given'}. Fix the "
                "cause (or wait, for a token limit) and run again; with the same run name the "
                "failed batch is sent again and finished ones are kept.",
                provider=target.provider)
        for name in ("output_file_id", "error_file_id"):
            for line in await batches.lines(info.get(name)):
                out[line["custom_id"]] = _result(line, target)
    for custom_id in ids:
        out.setdefault(custom_id, ProviderError(
            f"{target.id}: no answer for {custom_id}: its batch expired or was cancelled before "
            "it ran. Run again to send it again.", provider=target.provider))
    return {custom_id: out[custom_id] for custom_id in ids}


class _Batches:
    """The batches of one call: their ids, which requests each holds, and the wire calls."""

    def __init__(self, target: Target, http: Http, store: Store | None, run: str,
                 custom_ids: list[str]) -> None:
        self.target, self.http, self.store, self.run = target, http, store, run
        self.n = len(custom_ids)
        self.fingerprint = hashlib.sha256("\n".join(custom_ids).encode()).hexdigest()
        self.headers = {"Authorization": f"Bearer {k}"} if (k := api_key(target)) else {}
        self.hints = {**hints(target), 404: (
            f"{target.base_url} has no such file or batch, or no Files/Batches endpoint: the "
            "Batch API needs OpenAI's API or a server that speaks it.")}
        self.ids: list[str] = list(store.get_meta(run, META) or []) if store else []
        self.resumed = bool(self.ids)
        plan = (store.get_meta(run, PLAN) or {}) if store and self.ids else {}
        ranges = [(int(s), int(e)) for s, e in plan.get("ranges") or []][:len(self.ids)]
        # None: the batches hold other requests than these (some were kept since): poll only
        known = not self.ids or (plan.get("requests") == self.fingerprint
                                 and len(ranges) == len(self.ids))
        self.ranges: list[tuple[int, int]] | None = ranges if known else None

    def _save(self) -> None:
        if self.store:  # the plan first: a crash between the two leaves ids a prefix of it
            self.store.set_meta(self.run, PLAN, {"requests": self.fingerprint,
                                                 "ranges": self.ranges})
            self.store.set_meta(self.run, META, self.ids)

    def gaps(self) -> list[tuple[int, int]]:
        """The request index ranges no batch holds yet."""
        out, at = [], 0
        for start, end in sorted(self.ranges or []):
            if start > at:
                out.append((at, start))
            at = max(at, end)
        return out + ([(at, self.n)] if at < self.n else [])

    async def drop_failed(self) -> None:
        """Forget resumed batches that failed, so their requests are sent again."""
        if not self.resumed or self.ranges is None:
            return
        keep = [(b, r) for b, r in zip(self.ids, self.ranges, strict=True)
                if (await self._status(b)).get("status") != "failed"]
        if len(keep) < len(self.ids):
            self.ids, self.ranges = [b for b, _ in keep], [r for _, r in keep]
            self._save()

    async def send(self, requests: list[tuple[str, Request]], start: int, end: int) -> None:
        for first, stop, data in _files(requests, self.target, start, end):
            r = await self._call("POST", "/files", data={"purpose": "batch"},
                                 files={"file": ("pixelproof-batch.jsonl", data,
                                                 "application/jsonl")})
            file_id = _field(parse_json(r, self.target.provider), "id", self.target)
            r = await self._call("POST", "/batches", json={
                "input_file_id": file_id, "endpoint": ENDPOINT, "completion_window": "24h"})
            self.ids.append(_field(parse_json(r, self.target.provider), "id", self.target))
            assert self.ranges is not None
            self.ranges.append((first, stop))
            self._save()

    async def wait(self, batch_id: str, poll_seconds: float,
                   on_status: Callable[[str, dict[str, Any]], None] | None) -> dict[str, Any]:
        while True:
            info = await self._status(batch_id)
            if on_status:
                on_status(batch_id, info)
            if info.get("status") in DONE:
                return info
            await asyncio.sleep(poll_seconds)

    async def lines(self, file_id: str | None) -> list[dict[str, Any]]:
        if not file_id:
            return []
        r = await self._call("GET", f"/files/{file_id}/content")
        try:
            lines = [json.loads(line) for line in r.text.splitlines() if line.strip()]
        except ValueError:
            lines = [None]
        if not all(isinstance(line, dict) and "custom_id" in line for line in lines):
            raise BadResponse(f"{self.target.id}: batch file {file_id} is not JSONL with a "
                              "custom_id on every line. Check the base URL points at the API.",
                              provider=self.target.provider)
        return lines

    async def _status(self, batch_id: str) -> dict[str, Any]:
        return parse_json(await self._call("GET", f"/batches/{batch_id}"), self.target.provider)

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return await self.http.request(method, f"{self.target.base_url}{path}",
                                       provider=self.target.provider, hints=self.hints,
                                       headers=self.headers, **kwargs)


def _files(requests: list[tuple[str, Request]], target: Target, start: int,
           end: int) -> Iterator[tuple[int, int, bytes]]:
    """Batch input files for ``requests[start:end]``: (first index, end index, JSONL bytes),
    each under the API's limits. Built one at a time, so one file is in memory at once."""
    lines: list[bytes] = []
    size, first = 0, start
    for i in range(start, end):
        custom_id, request = requests[i]
        line = json.dumps({"custom_id": custom_id, "method": "POST", "url": ENDPOINT,
                           "body": body(request, target)}).encode() + b"\n"
        if lines and (len(lines) >= MAX_LINES or size + len(line) > MAX_BYTES):
            yield first, i, b"".join(lines)
            lines, size, first = [], 0, i
        lines.append(line)
        size += len(line)
    if lines:
        yield first, end, b"".join(lines)


def _batch_error(error: dict[str, Any]) -> str:
    said = str(error.get("message") or error.get("code") or error).rstrip(".")
    return f"{said} (input line {error['line']})" if error.get("line") else said


def _field(data: dict[str, Any], name: str, target: Target) -> str:
    if not isinstance(data.get(name), str):
        raise BadResponse(f"{target.id}: the reply has no '{name}'; is the base URL an "
                          "OpenAI-compatible /v1 endpoint with the Batch API?",
                          provider=target.provider)
    return data[name]


def _result(line: dict[str, Any], target: Target) -> Response | ProviderError:
    custom_id = line["custom_id"]
    response = line.get("response") or {}
    status = response.get("status_code")
    error = line.get("error")
    if not error and (status or 0) >= 400:
        error = (response.get("body") or {}).get("error") or {}
    if error or (status or 0) >= 400 or not response:
        error = error or {}
        if isinstance(error, dict) and error.get("code") in UNANSWERED:
            return ProviderError(f"{target.id}: no answer for {custom_id}: its batch ended "
                                 "before it ran. Run again to send it again.",
                                 provider=target.provider)
        said = error.get("message") if isinstance(error, dict) else error
        return ProviderError(f"{target.id}: the batch answered {custom_id} with an error "
                             f"(HTTP {status or '?'}): {said or 'no message'}. Check the "
                             "request options, then run again.",
                             provider=target.provider, status=status)
    try:
        answer = parse(response.get("body") or {}, target)
    except BadResponse as e:
        return e
    return replace(answer, cost=cost_of(target.id, answer.usage, batch=True))
