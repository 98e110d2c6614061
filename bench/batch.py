"""Wall time for 500 images against a local Chat Completions server with 250 ms latency and
at most 32 requests in flight, next to the theoretical limit and a sequential loop with the
official ``openai`` SDK. The server (a minimal uvicorn app: ``pip install -e '.[web,bench]'``)
runs in its own process, so the CPU figures are pixelproof's.

    python bench/batch.py [images]
"""

from __future__ import annotations

import asyncio
import base64
import sys
import tempfile
import time
from pathlib import Path

import slowapi
from PIL import Image as PILImage

from pixelproof.batch import abatch
from pixelproof.http import Http

LATENCY, CONCURRENCY = 0.25, 32


def make_images(folder: Path, count: int) -> list[str]:
    paths = []
    for n in range(count):
        path = folder / f"{n:04d}.png"
        PILImage.new("RGB", (64, 48), (n % 256, n // 256, 7)).save(path)
        paths.append(str(path))
    return paths


async def pixelproof_run(paths: list[str], url: str) -> int:
    done = 0
    async with Http(max_connections=CONCURRENCY) as http:
        async for e in abatch(paths, model="openai:bench", base_url=url, http=http,
                              concurrency=CONCURRENCY, verify=False, detail="low"):
            done += e.ok
    return done


async def httpx_floor(paths: list[str], url: str) -> None:
    """The same requests posted with bare httpx: what the HTTP stack alone achieves here."""
    import httpx
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=CONCURRENCY)) as client:
        async def one(path: str) -> None:
            data = base64.b64encode(Path(path).read_bytes()).decode()
            async with gate:
                r = await client.post(f"{url}/chat/completions", json={
                    "model": "bench", "messages": [{"role": "user", "content": [
                        {"type": "text", "text": "extract"}, {"type": "image_url", "image_url": {
                            "url": f"data:image/png;base64,{data}", "detail": "low"}}]}]})
                r.json()
        await asyncio.gather(*(one(p) for p in paths))


def sdk_loop(paths: list[str], url: str) -> None:
    from openai import OpenAI
    client = OpenAI(base_url=url, api_key="unused")
    for path in paths:
        data = base64.b64encode(Path(path).read_bytes()).decode()
        client.chat.completions.create(model="bench", messages=[{"role": "user", "content": [
            {"type": "text", "text": "extract"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}}]}])


def main(count: int = 500) -> None:
    with slowapi.serve('[{"n": 1}]', latency=LATENCY) as url, \
            tempfile.TemporaryDirectory() as tmp:
        paths = make_images(Path(tmp), count)
        cpu, wall = time.process_time(), time.perf_counter()
        done = asyncio.run(pixelproof_run(paths, url))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        floor_cpu, floor = time.process_time(), time.perf_counter()
        asyncio.run(httpx_floor(paths, url))
        floor, floor_cpu = time.perf_counter() - floor, time.process_time() - floor_cpu
        limit = count * LATENCY / CONCURRENCY
        sample = paths[:40]
        start = time.perf_counter()
        sdk_loop(sample, url)
        per = (time.perf_counter() - start) / len(sample)
    print(f"{count} images, {LATENCY * 1000:.0f} ms latency, {CONCURRENCY} in flight")
    print(f"limit (images x latency / concurrency): {limit:.2f} s")
    print(f"pixelproof: {wall:.2f} s ({100 * (wall / limit - 1):+.1f}% over the limit; "
          f"target within 10%), {done} done; CPU {1000 * cpu / count:.2f} ms per image")
    print(f"bare httpx, same requests and concurrency: {floor:.2f} s, CPU "
          f"{1000 * floor_cpu / count:.2f} ms per image; pixelproof takes {wall / floor:.2f}x "
          f"the wall time and {1000 * (cpu - floor_cpu) / count:+.2f} ms CPU per image over it")
    print(f"openai SDK, sequential: {per * count:.1f} s for {count} "
          f"(measured {per * 1000:.0f} ms per image over {len(sample)} images, extrapolated); "
          f"pixelproof is {per * count / wall:.0f}x faster")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
