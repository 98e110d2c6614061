"""``pixelproof serve``'s app on a free port of 127.0.0.1, in a thread: ``with served(settings)
as url:``; leaving the block shuts it down as a restart would (jobs stop mid-way)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from pixelproof.web.app import create_app
from pixelproof.web.service import Settings


@contextmanager
def served(settings: Settings | None = None) -> Iterator[str]:
    config = uvicorn.Config(create_app(settings or Settings()), host="127.0.0.1", port=0,
                            log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)
