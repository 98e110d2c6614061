"""Pages per second of a local run and of a Ray run on this machine, what Ray costs per item,
and those measured costs turned into a projection for N nodes of C cores under a provider's
rate limit. Needs the ``ray`` and ``bench`` extras; starts its own Ray instance in this
process (all cores) and the slow server (bench/slowapi.py) in another.

    python bench/scale.py [pages] [requests]

1. OCR: core-seconds per page, one engine on one thread reading the sample pages in turn.
2. Verified pages (extract, every value checked against the page's read), local pool vs Ray:
   pages/s, and the driver's CPU per page (what the one driver must do for every page).
3. Requests only (describe --detail low, no read): items/s local vs Ray; the difference per
   item is Ray's dispatch cost, the driver's CPU per item what bounds a very wide cluster.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import slowapi
from PIL import Image as PILImage

from pixelproof import ocr
from pixelproof.batch import abatch
from pixelproof.http import Http
from pixelproof.store import Store

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
MODEL, LATENCY = "openai:gpt-4o-mini", 0.25
ANSWER = json.dumps([{"total": "12.50"}])


def pages(folder: Path, count: int) -> list[str]:
    """``count`` distinct pages: the samples in turn, each with one pixel changed (a new
    sha256, so every page is read)."""
    samples = sorted(SAMPLES.glob("*.png"))
    out = []
    for n in range(count):
        page = PILImage.open(samples[n % len(samples)]).convert("RGB")
        page.putpixel((n % page.width, 0), (n % 256, 255 - n % 256, 0))
        path = folder / f"page{n:03d}.png"
        page.save(path)
        out.append(str(path))
    return out


def ocr_core_seconds(paths: list[str]) -> float:
    engine = ocr.RapidEngine({**ocr.SETTINGS,
                              "EngineConfig.onnxruntime.intra_op_num_threads": 1})
    engine.read(PILImage.open(paths[0]))  # warm
    start = time.perf_counter()
    for path in paths[1:]:
        engine.read(PILImage.open(path))
    return (time.perf_counter() - start) / (len(paths) - 1)


async def timed(paths: list[str], url: str, store: Store, run: str, executor: object,
                **options: object) -> tuple[float, float, int]:
    """Wall seconds, driver CPU seconds and items done."""
    wall, cpu = time.perf_counter(), time.process_time()
    done = 0
    async with Http(max_connections=64) as http:
        async for e in abatch(paths, model=MODEL, base_url=url, http=http, store=store,
                              run=run, executor=executor, **options):
            done += e.ok
    return time.perf_counter() - wall, time.process_time() - cpu, done


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 24
    requests = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
    from pixelproof.ray import Executor, connect

    cores = ocr.cores()
    with tempfile.TemporaryDirectory() as tmp, slowapi.serve(ANSWER, latency=LATENCY) as url:
        folder = Path(tmp)
        paths = pages(folder, count)
        per_page = ocr_core_seconds(paths[: min(len(paths), 7)])
        print(f"{cores} cores; OCR: {per_page:.2f} core-seconds per page (sample pages, "
              "one thread)")

        connect("local")
        executor = Executor("local")
        executor.start()
        tiny = []
        for n in range(requests):
            path = folder / f"tiny{n:04d}.png"
            PILImage.new("RGB", (64, 48), (n % 256, n // 256, 7)).save(path)
            tiny.append(str(path))
        figures = {}
        for name, ex in (("local", None), ("ray", executor)):
            store = Store(folder / f"{name}.db")
            asyncio.run(timed(tiny[:2], url, store, "warm", ex, fields="total:number"))
            figures[name, "pages"] = asyncio.run(timed(
                paths, url, store, "pages", ex, fields="total:number", concurrency=8))
            figures[name, "requests"] = asyncio.run(timed(
                tiny, url, store, "requests", ex, task="describe", prompt="What is it?",
                detail="low", concurrency=32))
            store.close()
        executor.close()

    print(f"\nverified pages ({count}, server latency {LATENCY * 1000:.0f} ms):")
    for name in ("local", "ray"):
        wall, cpu, done = figures[name, "pages"]
        print(f"  {name:5}: {done / wall:5.2f} pages/s ({done} done), driver CPU "
              f"{cpu / done * 1000:6.1f} ms/page")
    ratio = (figures["ray", "pages"][0] / figures["local", "pages"][0])
    print(f"  Ray/local wall time: {ratio:.2f}")
    print(f"\nrequests only ({requests} tiny images, --detail low, concurrency 32):")
    for name in ("local", "ray"):
        wall, cpu, done = figures[name, "requests"]
        print(f"  {name:5}: {done / wall:6.1f} items/s, driver CPU {cpu / done * 1000:5.2f} "
              "ms/item")
    extra = (figures["ray", "requests"][0] - figures["local", "requests"][0]) / requests
    print(f"  Ray's cost per item: {extra * 1000:+.1f} ms of wall time at concurrency 32")
    wall, cpu, done = figures["ray", "pages"]
    driver = cpu / done

    print("\nprojection: pages/hour = min(OCR: N*C*3600 / ocr_s, provider: rpm*60, driver: "
          "3600 / driver_s)")
    print(f"  ocr_s = {per_page:.2f} core-s/page, driver_s = {driver * 1000:.1f} ms CPU/page "
          "(both measured above: the Ray driver's CPU per verified page)")
    for rpm in (10_000, 30_000):
        for nodes, c in ((1, 16), (4, 16), (16, 16), (64, 16)):
            by_ocr = nodes * c / per_page * 3600
            by_rate = rpm * 60
            by_driver = 3600 / driver
            best = min(by_ocr, by_rate, by_driver)
            bound = {by_ocr: "OCR", by_rate: "rate limit", by_driver: "driver"}[best]
            print(f"  rpm {rpm:>6}, {nodes:>2} nodes x {c} cores: {best:>11,.0f} pages/h "
                  f"({bound})")


if __name__ == "__main__":
    main()
