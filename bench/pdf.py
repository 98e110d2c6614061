"""Peak memory of a long PDF: ``pixelproof extract big.pdf --no-verify --detail high`` (no OCR)
against a local server (250 ms a request), which renders each page as its item starts, next to
loading every page up front (``images.load(pdf)``, as ``describe`` does to send them together),
for a 30-page and a 300-page PDF of A4 statement-like pages (rendered at 200 dpi: 1654x2339
px). Peak RSS of the process, sampled every 50 ms; pages per second for the batch.

    python bench/pdf.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import slowapi
from PIL import Image, ImageDraw

PIXELPROOF = str(Path(sys.executable).with_name("pixelproof"))
UP_FRONT = "import sys; from pixelproof import images; print(len(images.load(sys.argv[1])))"


def make_pdf(path: Path, pages: int) -> None:
    ims = []
    for n in range(pages):
        im = Image.new("L", (1240, 1754), 255)  # A4 at 150 dpi
        draw = ImageDraw.Draw(im)
        for line in range(40):
            draw.text((80, 80 + 40 * line), f"Page {n + 1}   2026-11-{line % 28 + 1:02d}   "
                      f"Payment {line:02d}   {n * 7 + line * 13:>8}.{line:02d}", fill=0)
        ims.append(im.convert("1"))
    ims[0].save(path, save_all=True, append_images=ims[1:], resolution=150)


def peak(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(peak RSS MB, wall s) of a child process; exits if it fails."""
    start = time.perf_counter()
    run = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    proc, top = psutil.Process(run.pid), 0
    while run.poll() is None:
        try:
            top = max(top, proc.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    if run.returncode != 0:
        sys.exit(f"{' '.join(args[:3])} exited {run.returncode}: "
                 f"{run.stderr.read().decode()[-400:]}")  # type: ignore[union-attr]
    return top / 2**20, time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, \
            slowapi.serve("| Date | Amount |\n|---|---|\n| 2026-11-01 | 7.00 |",
                          latency=0.25) as url:
        env = {**os.environ, "PIXELPROOF_HOME": tmp, "OPENAI_API_KEY": "sk-bench-unused"}
        got = {}
        for pages in (30, 300):
            pdf = Path(tmp) / f"doc{pages}.pdf"
            make_pdf(pdf, pages)
            rss, wall = peak([PIXELPROOF, "extract", str(pdf), "-m", "openai:gpt-4o",
                              "--base-url", url, "--no-verify", "--detail", "high",
                              "--concurrency", "16",
                              "-o", str(Path(tmp) / f"out{pages}.jsonl")], env)
            front, _ = peak([sys.executable, "-c", UP_FRONT, str(pdf)], env)
            got[pages] = rss, front
            print(f"{pages} pages ({pdf.stat().st_size / 2**20:.1f} MB): extract page by page "
                  f"peak RSS {rss:.0f} MB, {pages / wall:.1f} pages/s; every page loaded up "
                  f"front {front:.0f} MB")
        grow = [(got[300][k] - got[30][k]) / 2.7 for k in (0, 1)]
        print(f"growth per 100 pages: page by page {grow[0]:+.0f} MB, up front {grow[1]:+.0f} MB")


if __name__ == "__main__":
    main()
