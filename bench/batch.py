"""Wall time for 500 images against a local Chat Completions server with 250 ms latency and
at most 32 requests in flight (``--no-verify``), next to a bare aiohttp client posting the same
requests to the same server in the same run (the target: within 1.10x), the same with
``--run`` (each item recorded in a fresh run store), the theoretical limit, and a sequential
loop with the official ``openai`` SDK. The contenders take turns, twice each, and their sums
are compared (the machine is shared: single runs vary). The
server (a minimal uvicorn app: ``pip install -e '.[web,bench]'``) runs in its own process, so
the CPU figures are the client's.

    python bench/batch.py [images]
"""

from __future__ import annotations

import asyncio
import base64
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import slowapi
from PIL import Image as PILImage

from pixelproof.batch import abatch
from pixelproof.http import Http
from pixelproof.store import Store

LATENCY, CONCURRENCY = 0.25, 32


def make_images(folder: Path, count: int) -> list[str]:
    paths = []
    for n in range(count):
        path = folder / f"{n:04d}.png"
        PILImage.new("RGB", (64, 48), (n % 256, n // 256, 7)).save(path)
        paths.append(str(path))
    return paths


async def pixelproof_run(paths: list[str], url: str, store: Store | None = None) -> int:
    """``pixelproof extract --no-verify`` as the library runs it (with ``store``: as
    ``--run NAME`` does, each item recorded in the run store as it starts and finishes)."""
    done = 0
    async with Http(max_connections=CONCURRENCY) as http:
        async for e in abatch(paths, model="openai:bench", base_url=url, http=http,
                              concurrency=CONCURRENCY, verify=False, detail="low",
                              store=store, run="bench" if store else None):
            done += e.ok
    return done


async def pixelproof_with_run(paths: list[str], url: str) -> int:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "store.db") as store:
        return await pixelproof_run(paths, url, store)


async def bare_aiohttp(paths: list[str], url: str) -> int:
    """The same requests posted with a bare aiohttp client: what the HTTP stack alone costs."""
    import aiohttp
    gate = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as s:
        async def one(path: str) -> int:
            data = base64.b64encode(Path(path).read_bytes()).decode()
            async with gate:
                async with s.post(f"{url}/chat/completions", json={
                    "model": "bench", "messages": [{"role": "user", "content": [
                        {"type": "text", "text": "extract"}, {"type": "image_url", "image_url": {
                            "url": f"data:image/png;base64,{data}", "detail": "low"}}]}]}) as r:
                    return bool((await r.json())["choices"])
        return sum(await asyncio.gather(*(one(p) for p in paths)))


def timed(run: Any, paths: list[str], url: str) -> tuple[float, float, int]:
    """(wall s, CPU s, items done) of one run in a fresh event loop."""
    cpu, wall = time.process_time(), time.perf_counter()
    done = asyncio.run(run(paths, url))
    return time.perf_counter() - wall, time.process_time() - cpu, done


def sdk_loop(paths: list[str], url: str) -> None:
    from openai import OpenAI
    client = OpenAI(base_url=url, api_key="unused")
    for path in paths:
        data = base64.b64encode(Path(path).read_bytes()).decode()
        client.chat.completions.create(model="bench", messages=[{"role": "user", "content": [
            {"type": "text", "text": "extract"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}}]}])


def main(count: int = 500, rounds: int = 2) -> None:
    with slowapi.serve('[{"n": 1}]', latency=LATENCY) as url, \
            tempfile.TemporaryDirectory() as tmp:
        paths = make_images(Path(tmp), count)
        asyncio.run(bare_aiohttp(paths[:CONCURRENCY], url))  # the server warm
        contenders = {"bare aiohttp": bare_aiohttp, "pixelproof": pixelproof_run,
                      "pixelproof --run": pixelproof_with_run}
        runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in contenders}
        for _ in range(rounds):
            for name, run in contenders.items():
                runs[name].append(timed(run, paths, url))
        limit = count * LATENCY / CONCURRENCY
        sample = paths[:40]
        start = time.perf_counter()
        sdk_loop(sample, url)
        per = (time.perf_counter() - start) / len(sample)
    print(f"{count} images, {LATENCY * 1000:.0f} ms latency, {CONCURRENCY} in flight, "
          f"{rounds} runs each, taking turns; limit (images x latency / concurrency) "
          f"{limit:.2f} s")
    for name, got in runs.items():
        walls = ", ".join(f"{w:.2f}" for w, _, _ in got)
        print(f"{name}: {walls} s; CPU {1000 * sum(c for _, c, _ in got) / (rounds * count):.2f}"
              f" ms per request; {min(d for _, _, d in got)} of {count} done")
    wall = {name: sum(w for w, _, _ in got) for name, got in runs.items()}
    cpu = {name: sum(c for _, c, _ in got) for name, got in runs.items()}
    for name in ("pixelproof", "pixelproof --run"):
        print(f"{name} / bare aiohttp: {wall[name] / wall['bare aiohttp']:.2f}x the wall time "
              f"(target <= 1.10x), {cpu[name] / cpu['bare aiohttp']:.2f}x the CPU")
    print(f"openai SDK, sequential: {per * count:.1f} s for {count} "
          f"(measured {per * 1000:.0f} ms per image over {len(sample)} images, extrapolated); "
          f"pixelproof is {per * count * rounds / wall['pixelproof']:.0f}x faster")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
