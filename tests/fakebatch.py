"""A local server that speaks the OpenAI Files and Batches endpoints, for Batch API tests.

Uploaded JSONL requests are answered by ``answer(body) -> str`` when the batch completes; a
batch reports validating, then in_progress, then completed on successive polls. ``fail_ids``
custom ids land in the error file; ``fail_batch`` makes the batch itself fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from fakeapi import LocalServer, QuietHandler, completion


class FakeBatchAPI(LocalServer):
    def __init__(self, answer: Callable[[dict[str, Any]], str],
                 fail_ids: tuple[str, ...] = (), fail_batch: str | None = None) -> None:
        self.answer, self.fail_ids, self.fail_batch = answer, fail_ids, fail_batch
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.uploads: list[bytes] = []
        self.created: list[dict[str, Any]] = []
        super().__init__()

    def _complete(self, batch: dict[str, Any]) -> None:
        out, errors = [], []
        for line in self.files[batch["input_file_id"]].decode().splitlines():
            req = json.loads(line)
            cid = req["custom_id"]
            if any(cid.endswith(f) for f in self.fail_ids):
                errors.append({"id": "r", "custom_id": cid, "response": {
                    "status_code": 400, "body": {"error": {"message": "bad image"}}},
                    "error": None})
            else:
                out.append({"id": "r", "custom_id": cid, "response": {
                    "status_code": 200, "body": completion(self.answer(req["body"]))},
                    "error": None})
        for name, rows in (("output_file_id", out), ("error_file_id", errors)):
            if rows:
                file_id = f"file-{len(self.files) + 1}"
                self.files[file_id] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                batch[name] = file_id

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(QuietHandler):
            def reply(self, status: int, body: Any, raw: bool = False) -> None:
                payload = body if raw else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with api.lock:
                    if self.path == "/v1/files":
                        boundary = re.search(r"boundary=(\S+)", self.headers["Content-Type"])[1]
                        part = next(p for p in raw.split(b"--" + boundary.encode())
                                    if b'name="file"' in p)
                        data = part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0]
                        assert b'name="purpose"' in raw and b"batch" in raw
                        file_id = f"file-{len(api.files) + 1}"
                        api.files[file_id] = data
                        api.uploads.append(data)
                        return self.reply(200, {"id": file_id, "object": "file",
                                                "purpose": "batch"})
                    if self.path == "/v1/batches":
                        body = json.loads(raw)
                        api.created.append(body)
                        batch_id = f"batch_{len(api.batches) + 1}"
                        api.batches[batch_id] = {"id": batch_id, "object": "batch",
                                                 "status": "validating", "polls": 0, **body}
                        return self.reply(200, api.batches[batch_id])
                self.reply(404, {"error": {"message": "no such endpoint"}})

            def do_GET(self) -> None:
                with api.lock:
                    if m := re.fullmatch(r"/v1/batches/(\w+)", self.path):
                        batch = api.batches[m[1]]
                        batch["polls"] += 1
                        if batch["id"] == api.fail_batch:
                            batch.update(status="failed", errors={"data": [
                                {"message": "input file is not valid JSONL"}]})
                        elif batch["status"] == "validating":
                            batch["status"] = "in_progress"
                        elif batch["status"] == "in_progress":
                            batch["status"] = "completed"
                            api._complete(batch)
                        return self.reply(200, batch)
                    if m := re.fullmatch(r"/v1/files/([\w-]+)/content", self.path):
                        return self.reply(200, api.files[m[1]], raw=True)
                self.reply(404, {"error": {"message": "no such endpoint"}})

        return Handler
