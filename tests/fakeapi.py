"""A real HTTP server on 127.0.0.1 that speaks OpenAI Chat Completions, for tests and benches.

Scripted replies come first (status, body, headers, delay); after that the default handler
answers. Every request body is recorded, so tests can assert what was sent.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict -> JSON; str/bytes sent raw; None -> default completion
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering ("never answers" = longer than the timeout)


def completion(text: str, *, model: str = "fake-model", finish: str = "stop",
               prompt_tokens: int = 100, completion_tokens: int = 20) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "finish_reason": finish,
                         "message": {"role": "assistant", "content": text, "refusal": None}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


def default_answer(body: dict[str, Any]) -> str:
    content = body["messages"][-1]["content"] if body["messages"][-1]["role"] == "user" \
        else body["messages"][1]["content"]
    n = sum(1 for part in content if part.get("type") == "image_url") \
        if isinstance(content, list) else 0
    return f"I see {n} image(s)."


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-reply (runs are cancelled, requests time out) is no error
        to print: it would land in whatever stderr a later test captures."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 for ``with``; subclasses give ``_handler()``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/v1"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeAPI(LocalServer):
    """``with FakeAPI() as api: ... api.url ...``; ``api.script`` holds replies to give first."""

    def __init__(self, answer: Callable[[dict[str, Any]], str | Reply] = default_answer,
                 latency: float = 0.0) -> None:
        self.answer = answer
        self.latency = latency
        self.script: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[Message] = []  # each request's, names matched in any case
        super().__init__()

    def _next(self, body: dict[str, Any]) -> Reply:
        with self.lock:
            self.requests.append(body)
            if self.script:
                return self.script.pop(0)
        got = self.answer(body)
        return got if isinstance(got, Reply) else Reply(body=completion(got))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                with api.lock:
                    api.headers.append(self.headers)
                reply = api._next(body)
                time.sleep(api.latency + reply.delay)
                if reply.body is None and reply.status == 200:
                    reply.body = completion(default_answer(body))
                if body.get("stream") and reply.status == 200 and isinstance(reply.body, dict):
                    return self._stream(reply.body)
                payload = reply.body if isinstance(reply.body, bytes) else (
                    reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                ).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            def _stream(self, done: dict[str, Any]) -> None:
                text = done["choices"][0]["message"]["content"] or ""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                words = [text[i:i + 8] for i in range(0, len(text), 8)] or [""]
                for piece in words:
                    chunk = {"model": done["model"], "choices": [
                        {"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                finish = done["choices"][0]["finish_reason"]
                end = {"model": done["model"], "choices": [
                    {"index": 0, "delta": {}, "finish_reason": finish}]}
                self.wfile.write(f"data: {json.dumps(end)}\n\n".encode())
                usage = {"model": done["model"], "choices": [], "usage": done["usage"]}
                self.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
                self.close_connection = True

        return Handler
