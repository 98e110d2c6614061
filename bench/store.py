"""What the SQLite store costs a batch: item writes per second through ``Store`` (each its own
transaction, under the lock) next to bare sqlite3 updates with the same pragmas, and a cache
hit next to the fastest possible request (a local server answering at once).

    python bench/store.py [items]
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from PIL import Image as PILImage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fakeapi import FakeAPI  # noqa: E402

from pixelproof import images  # noqa: E402
from pixelproof.extract import build_request, send  # noqa: E402
from pixelproof.http import Http  # noqa: E402
from pixelproof.store import Store  # noqa: E402
from pixelproof.types import Usage  # noqa: E402


def store_writes(path: Path, n: int) -> float:
    with Store(path) as store:
        store.open_run("bench", {})
        keys = [f"scans/{i:05}.png" for i in range(n)]
        store.add_items("bench", keys)
        t = time.perf_counter()
        for key in keys:
            store.start("bench", key)
            store.finish("bench", key, {"rows": [{"n": 1}]}, Usage(800, 50), Decimal("0.0002"))
        return time.perf_counter() - t


def bare_writes(path: Path, n: int) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE items (key TEXT PRIMARY KEY, status TEXT, result TEXT)")
    db.executemany("INSERT INTO items VALUES (?, 'pending', NULL)",
                   [(f"scans/{i:05}.png",) for i in range(n)])
    t = time.perf_counter()
    for i in range(n):
        db.execute("UPDATE items SET status = 'running' WHERE key = ?", (f"scans/{i:05}.png",))
        db.execute("UPDATE items SET status = 'done', result = ? WHERE key = ?",
                   ('{"rows": [{"n": 1}]}', f"scans/{i:05}.png"))
    took = time.perf_counter() - t
    db.close()
    return took


async def asks(path: Path, png: Path, n: int) -> tuple[float, float]:
    """Seconds per answer: sent to a local server (no cache), and served from the cache."""
    request = build_request(images.load(str(png)), "What is it?", model="openai:m")
    with FakeAPI() as api, Store(path) as store:
        async with Http() as http:
            await send(request, http, base_url=api.url, store=store)  # warm up, and cache
            t = time.perf_counter()
            for _ in range(n):
                await send(request, http, base_url=api.url)
            sent = (time.perf_counter() - t) / n
            t = time.perf_counter()
            for _ in range(n):
                assert (await send(request, http, base_url=api.url, store=store)).cached
            hit = (time.perf_counter() - t) / n
    return sent, hit


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        ours = store_writes(tmp_path / "store.db", n)
        bare = bare_writes(tmp_path / "bare.db", n)
        print(f"{n} items started and finished: Store {ours:.3f} s ({n / ours:,.0f} items/s), "
              f"bare sqlite3 {bare:.3f} s ({n / bare:,.0f} items/s), ratio {ours / bare:.2f}x")
        png = tmp_path / "a.png"
        PILImage.new("RGB", (1024, 768), "white").save(png)
        sent, hit = asyncio.run(asks(tmp_path / "cache.db", png, 100))
        print(f"one answer: local server {sent * 1000:.2f} ms, cache hit {hit * 1000:.2f} ms, "
              f"ratio {sent / hit:.1f}x")


if __name__ == "__main__":
    main()
