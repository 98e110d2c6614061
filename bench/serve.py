"""Requests per second and p50/p99 latency of ``pixelproof serve`` for ``model: "local"`` at 1, 4
and 16 concurrent clients (the openai SDK's wire format over httpx), beside calling the library
directly in the same run. The server runs in its own process (``pip install -e '.[web]'``).

    python bench/serve.py [requests per level]
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx
from PIL import Image, ImageDraw

import pixelproof


def receipt() -> bytes:
    im = Image.new("RGB", (360, 200), "white")
    draw = ImageDraw.Draw(im)
    for n, line in enumerate(["CORNER SHOP", "Bread 2.40", "Milk 1.10", "TOTAL 3.50"]):
        draw.text((20, 20 + 40 * n), line, fill="black", font_size=22)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def level(url: str, body: dict, clients: int, total: int) -> list[float]:
    times: list[float] = []
    queue = list(range(total))
    async with httpx.AsyncClient(timeout=300) as http:
        async def client() -> None:
            while queue:
                queue.pop()
                start = time.perf_counter()
                r = await http.post(url, json=body)
                r.raise_for_status()
                times.append(time.perf_counter() - start)

        await asyncio.gather(*(client() for _ in range(clients)))
    return times


def line(name: str, times: list[float], seconds: float) -> str:
    p = statistics.quantiles(times, n=100) if len(times) > 1 else times * 99
    return (f"{name:24} {len(times) / seconds:6.2f} req/s  p50 {p[49] * 1000:7.0f} ms  "
            f"p99 {p[98] * 1000:7.0f} ms")


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    data = receipt()
    body = {"model": "local", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Extract the values"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,"
                                                   + base64.b64encode(data).decode()}}]}]}
    times = []
    start = time.perf_counter()
    for _ in range(total):
        t = time.perf_counter()
        pixelproof.describe(data, "Extract the values", model="local")
        times.append(time.perf_counter() - t)
    print(line("library, sequential", times, time.perf_counter() - start))
    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        server = subprocess.Popen([sys.executable, "-m", "pixelproof", "serve", "--port",
                                   str(port), "--cache-dir", home],
                                  env={**os.environ, "PIXELPROOF_HOME": home})
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    httpx.get(base + "/healthz")
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            asyncio.run(level(base + "/v1/chat/completions", body, 1, 2))  # warm up
            for clients in (1, 4, 16):
                start = time.perf_counter()
                times = asyncio.run(level(base + "/v1/chat/completions", body, clients, total))
                print(line(f"serve, {clients} clients", times, time.perf_counter() - start))
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
