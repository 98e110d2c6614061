"""A local server that speaks the OpenAI Files and Batches endpoints, for Batch API tests.

``POST /v1/files`` (multipart, purpose ``batch``), ``POST /v1/batches``, ``GET
/v1/batches/{id}`` and ``GET /v1/files/{id}/content``. Successive polls of a batch report
validating, in_progress, finalizing, then completed; on completion every line of the uploaded
JSONL is answered by ``answer(body) -> str``. The input is checked as the API does (JSONL,
custom_id, method, url, unique ids, ``max_lines``); a bad file fails the batch with
``errors.data``. Knobs: ``fail_ids`` (custom ids answered with a 400 line in the error file),
``garble_ids`` (a 200 line whose body is not a chat completion), ``fail_batches`` (batch ids
that fail as a whole), ``expire_after`` (the batch expires with only that many lines answered;
the rest are ``batch_expired`` lines in the error file when ``expired_lines``, else missing),
``refuse_upload`` (upload attempt number -> HTTP status).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any

from fakeapi import LocalServer, QuietHandler, completion

STEPS = ("validating", "in_progress", "finalizing", "completed")


class FakeBatchAPI(LocalServer):
    def __init__(self, answer: Callable[[dict[str, Any]], str], *,
                 fail_ids: tuple[str, ...] = (), garble_ids: tuple[str, ...] = (),
                 fail_batches: tuple[str, ...] = (), expire_after: int | None = None,
                 expired_lines: bool = True, refuse_upload: dict[int, int] | None = None,
                 max_lines: int = 50_000) -> None:
        self.answer, self.fail_ids, self.garble_ids = answer, fail_ids, garble_ids
        self.fail_batches, self.expire_after, self.expired_lines = (
            fail_batches, expire_after, expired_lines)
        self.refuse_upload, self.max_lines = refuse_upload or {}, max_lines
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.polls: dict[str, int] = {}
        self.upload_attempts = 0
        self.uploads: list[bytes] = []  # accepted uploads, in order
        self.created: list[dict[str, Any]] = []  # POST /batches bodies
        self.replies: list[dict[str, Any]] = []  # every Batch object sent
        self.auth: set[str | None] = set()
        super().__init__()

    def _file(self, data: bytes) -> str:
        file_id = f"file-{len(self.files) + 1}"
        self.files[file_id] = data
        return file_id

    def _invalid(self, data: bytes, endpoint: str) -> dict[str, Any] | None:
        """The API's validation: the first problem as a BatchError, or None."""
        seen: set[str] = set()
        lines = data.decode().splitlines()
        if len(lines) > self.max_lines:
            return {"code": "too_many_requests", "line": None,
                    "message": f"{len(lines)} requests; the limit is {self.max_lines}."}
        for n, text in enumerate(lines, 1):
            try:
                req = json.loads(text)
                ok = req["method"] == "POST" and req["url"] == endpoint and \
                    isinstance(req["body"], dict) and req["custom_id"] not in seen
                seen.add(req["custom_id"])
            except (ValueError, KeyError, TypeError):
                ok = False
            if not ok:
                return {"code": "invalid_request", "line": n,
                        "message": f"line {n} is not a valid request for {endpoint}."}
        return None

    def _advance(self, batch: dict[str, Any]) -> None:
        polls = self.polls[batch["id"]] = self.polls[batch["id"]] + 1
        if batch["status"] in ("failed", "expired", "completed"):
            return
        error = self._invalid(self.files[batch["input_file_id"]], batch["endpoint"])
        if batch["id"] in self.fail_batches:
            error = {"code": "token_limit_exceeded", "line": None,
                     "message": "Enqueued token limit reached for gpt-4o-mini."}
        if error and polls >= 2:
            batch.update(status="failed", failed_at=1, errors={"object": "list", "data": [error]})
            return
        batch["status"] = STEPS[min(polls - 1, 3)]
        if batch["status"] == "completed":
            self._finish(batch)

    def _finish(self, batch: dict[str, Any]) -> None:
        out, errors = [], []
        reqs = [json.loads(line) for line in self.files[batch["input_file_id"]].splitlines()]
        for n, req in enumerate(reqs):
            cid = req["custom_id"]
            line: dict[str, Any] = {"id": f"batch_req_{n}", "custom_id": cid, "error": None}
            if self.expire_after is not None and n >= self.expire_after:
                if self.expired_lines:
                    errors.append({**line, "response": None, "error": {
                        "code": "batch_expired", "message": "This request could not be "
                        "executed before the completion window expired."}})
                continue
            if cid in self.fail_ids:
                errors.append({**line, "response": {"status_code": 400, "request_id": "q",
                                                    "body": {"error": {
                                                        "message": "bad image",
                                                        "type": "invalid_request_error"}}}})
            else:
                reply = {"object": "error"} if cid in self.garble_ids else \
                    completion(self.answer(req["body"]))
                out.append({**line, "response": {"status_code": 200, "request_id": "q",
                                                 "body": reply}})
        for name, rows in (("output_file_id", out), ("error_file_id", errors)):
            if rows:
                batch[name] = self._file("".join(json.dumps(r) + "\n" for r in rows).encode())
        done = "completed" if self.expire_after is None else "expired"
        batch.update(status=done, request_counts={"total": len(reqs), "completed": len(out),
                                                  "failed": len(reqs) - len(out)})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(QuietHandler):
            def reply(self, status: int, body: Any, raw: bool = False) -> None:
                payload = body if raw else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream" if raw
                                 else "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def batch(self, batch: dict[str, Any]) -> None:
                api.replies.append(json.loads(json.dumps(batch)))
                self.reply(200, batch)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with api.lock:
                    api.auth.add(self.headers.get("Authorization"))
                    if self.path == "/v1/files":
                        api.upload_attempts += 1
                        if status := api.refuse_upload.get(api.upload_attempts):
                            return self.reply(status, {"error": {"message": "refused"}})
                        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n"
                        form = BytesParser(policy=HTTP).parsebytes(head.encode() + raw)
                        parts = {p.get_param("name", header="content-disposition"): p
                                 for p in form.iter_parts()}
                        if parts["purpose"].get_content() != "batch":
                            return self.reply(400, {"error": {"message": "purpose"}})
                        data = parts["file"].get_payload(decode=True)
                        api.uploads.append(data)
                        return self.reply(200, {"id": api._file(data), "object": "file",
                                                "bytes": len(data), "created_at": 0,
                                                "filename": parts["file"].get_filename(),
                                                "purpose": "batch"})
                    if self.path == "/v1/batches":
                        body = json.loads(raw)
                        api.created.append(body)
                        if body.get("input_file_id") not in api.files:
                            return self.reply(400, {"error": {"message": "no such file"}})
                        batch_id = f"batch_{len(api.batches) + 1}"
                        api.polls[batch_id] = 0
                        api.batches[batch_id] = {
                            "id": batch_id, "object": "batch", "endpoint": body["endpoint"],
                            "input_file_id": body["input_file_id"],
                            "completion_window": body["completion_window"],
                            "status": "validating", "created_at": 0,
                            "request_counts": {"total": 0, "completed": 0, "failed": 0}}
                        return self.batch(api.batches[batch_id])
                self.reply(404, {"error": {"message": "no such endpoint"}})

            def do_GET(self) -> None:
                with api.lock:
                    api.auth.add(self.headers.get("Authorization"))
                    if m := re.fullmatch(r"/v1/batches/(\w+)", self.path):
                        if m[1] not in api.batches:
                            return self.reply(404, {"error": {"message": "no such batch"}})
                        api._advance(api.batches[m[1]])
                        return self.batch(api.batches[m[1]])
                    if m := re.fullmatch(r"/v1/files/([\w-]+)/content", self.path):
                        return self.reply(200, api.files[m[1]], raw=True)
                self.reply(404, {"error": {"message": "no such endpoint"}})

        return Handler
