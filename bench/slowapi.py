"""An OpenAI-compatible server in its own process that answers every request after a fixed
latency with the same answer: the far end for the throughput benches.

    with slowapi.serve(answer, latency=0.25) as url: ...
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

SCRIPT = """
import asyncio, socket, sys, uvicorn
ANSWER, LATENCY = sys.argv[1].encode(), float(sys.argv[2])

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await asyncio.sleep(LATENCY)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": ANSWER})

sock = socket.socket()
sock.bind(("127.0.0.1", 0))
print(f"http://127.0.0.1:{sock.getsockname()[1]}/v1", flush=True)
uvicorn.Server(uvicorn.Config(app, log_level="error")).run(sockets=[sock])
"""


@contextmanager
def serve(content: str, *, latency: float, model: str = "bench", prompt_tokens: int = 100,
          completion_tokens: int = 5) -> Iterator[str]:
    """The server's base URL, answering ``content`` as a chat completion after ``latency``
    seconds; the process is killed on leaving the block."""
    answer = json.dumps({
        "id": "c", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens}})
    server = subprocess.Popen([sys.executable, "-c", SCRIPT, answer, str(latency)],
                              stdout=subprocess.PIPE, text=True)
    try:
        yield server.stdout.readline().strip()  # type: ignore[union-attr]
    finally:
        server.kill()
