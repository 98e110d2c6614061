"""The default extraction of 40 pages against a server answering in 1 s, next to raw RapidOCR
reading the same pages once, in the same run.

40 pages drawn by tests/render.py (statements, receipts, invoices, tables and app screens,
about 500-1400 px wide) are extracted as ``pixelproof extract pages/ -m openai:gpt-4o
--concurrency 16`` does with its defaults (``--detail auto``, verification on, the store in a
fresh folder), from a local Chat Completions server (its own process) that answers every
request after 1 s with a small Markdown table. RapidOCR with its default settings
(``RapidOCR()``, one process) reads the same 40 pages once before and once after (the mean is
compared: other work on the machine changes its speed). Printed: both wall times, their
ratio (target <= 0.6x on 2 cores), engine calls per page, the verification counts (to compare
across versions), and peak RSS (pixelproof's process and its OCR workers, summed, sampled every
50 ms; RapidOCR's child process); then the same pixelproof run again on the same store (what a
re-run costs: no engine calls).

    python bench/pipeline.py [pages] [ocr-workers]
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
import render  # noqa: E402
import slowapi  # noqa: E402

LATENCY, CONCURRENCY = 1.0, 16
ANSWER = "| Description | Amount |\n|---|---|\n| Total | 12.34 |\n| Tax | 1.20 |"
RAW = """
import sys, time, resource
from rapidocr import RapidOCR
engine = RapidOCR()
engine(sys.argv[1])  # models loaded and warm before timing
start = time.perf_counter()
for path in sys.argv[1:]:
    engine(path, return_word_box=True)
use = resource.getrusage(resource.RUSAGE_SELF)
print(time.perf_counter() - start, use.ru_maxrss / 1024, use.ru_utime + use.ru_stime)
"""
MAKERS = [render.statement, render.receipt, render.invoice, render.grid, render.screenshot]
SCALES = (0.6, 0.8, 1.0, 1.1)  # 450-1400 px wide


def make_pages(folder: Path, count: int) -> list[str]:
    paths = []
    for n in range(count):
        make = MAKERS[n % len(MAKERS)]
        im = render.scale(make(seed=700 + n).image, SCALES[n // len(MAKERS) % len(SCALES)])
        path = folder / f"page{n:02d}.png"
        im.save(path)
        paths.append(str(path))
    return paths


def raw_pass(paths: list[str]) -> tuple[float, float, float]:
    """RapidOCR's one pass in a child process: wall s, peak RSS MB, CPU s."""
    out = subprocess.run([sys.executable, "-c", RAW, *paths], capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def _cpu() -> float:
    import resource
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


class PeakRss:
    """Peak of this process's RSS plus its children's, sampled every 50 ms (MB)."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            total = 0
            for pid in [me, *_children(me)]:
                try:
                    with open(f"/proc/{pid}/statm") as f:
                        total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
                except (OSError, ValueError, IndexError):
                    pass
            self.peak = max(self.peak, total / 2 ** 20)
            self._stop.wait(0.05)


def _children(pid: int) -> list[int]:
    """Every descendant (children started by any thread, and theirs)."""
    out = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return out + [d for child in out for d in _children(child)]


async def pixelproof_run(paths: list[str], url: str, store_path: Path) -> list:
    from pixelproof.batch import abatch
    from pixelproof.http import Http
    from pixelproof.store import Store

    with Store(store_path) as store:
        async with Http(max_connections=max(10, CONCURRENCY)) as http:
            return [e async for e in abatch(paths, model="openai:gpt-4o", base_url=url,
                                            http=http, store=store, concurrency=CONCURRENCY)]


def main(count: int = 40, workers: int | None = None) -> None:
    os.environ.setdefault("OPENAI_API_KEY", "unused")
    from pixelproof import ocr
    reader = ocr.configure(workers)
    load = os.getloadavg()[0]
    with slowapi.serve(ANSWER, latency=LATENCY, model="gpt-4o", prompt_tokens=800,
                       completion_tokens=40) as url, tempfile.TemporaryDirectory() as tmp:
        paths = make_pages(Path(tmp), count)
        widths = sorted(render.Image.open(p).width for p in paths)
        raws = [raw_pass(paths)]  # before and after pixelproof: the machine's load drifts
        with PeakRss() as rss:
            cpu0, start = _cpu(), time.perf_counter()
            results = asyncio.run(pixelproof_run(paths, url, Path(tmp) / "store.db"))
            wall = time.perf_counter() - start
        calls = reader.calls
        worker_rss = []
        for pid in reader.pool.pids():
            with open(f"/proc/{pid}/status") as f:
                worker_rss += [int(line.split()[1]) / 1024 for line in f
                               if line.startswith("VmHWM")]
        ocr.configure(workers)  # a new process's memory: nothing kept but the store
        start = time.perf_counter()
        again = asyncio.run(pixelproof_run(paths, url, Path(tmp) / "store.db"))
        rerun, rerun_calls = time.perf_counter() - start, ocr.reader().calls
        ocr.reader().pool.shutdown()
        reader.pool.shutdown()
        cpu = _cpu() - cpu0  # the workers' CPU counts once they are reaped
        raws.append(raw_pass(paths))
    raw_wall = sum(r[0] for r in raws) / 2
    raw_rss = max(r[1] for r in raws)
    raw_cpu = sum(r[2] for r in raws) / 2
    checks = Counter(c.status for e in results if e.verification is not None
                     for c in e.verification.checks)
    ok = sum(e.ok for e in results)
    print(f"{count} pages ({widths[0]}-{widths[-1]} px wide), a server answering in "
          f"{LATENCY:.0f} s, {CONCURRENCY} in flight, {ocr.cores()} cores, "
          f"{reader.pool.workers} OCR workers; load average {load:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end (other work on the machine slows both runs)")
    print(f"pixelproof extract, defaults (detail auto, verification): {wall:.1f} s, {ok} done; "
          f"{calls / count:.2f} engine calls per page; peak RSS {rss.peak:.0f} MB with its "
          f"workers (each worker's peak {', '.join(f'{m:.0f}' for m in worker_rss)} MB)")
    print(f"raw RapidOCR (defaults, one process), one read of each page: {raw_wall:.1f} s "
          f"(mean of {raws[0][0]:.1f} s before and {raws[1][0]:.1f} s after), "
          f"{raw_cpu:.0f} s CPU; peak RSS {raw_rss:.0f} MB")
    print(f"CPU: pixelproof {cpu:.0f} s (process and workers, the re-run included) against "
          f"raw RapidOCR's {raw_cpu:.0f} s")
    print(f"ratio: {wall / raw_wall:.2f}x raw RapidOCR's one pass (target <= 0.6x)")
    print(f"verification: {dict(checks)}")
    print(f"re-run on the same store: {rerun:.1f} s, {rerun_calls} engine calls, "
          f"{sum(e.ok for e in again)} done")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40,
         int(sys.argv[2]) if len(sys.argv) > 2 else None)
