"""Peak memory of `pixelproof extract -m local` over a folder of mixed, partly damaged inputs
(the hostile corpus of tests/corpus.py: 32 files, 12 of them bad), with 2 OCR workers and
with 1: the main process and its workers summed, sampled every 50 ms.

    python bench/memory.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import corpus  # noqa: E402

PIXELPROOF = str(Path(sys.executable).with_name("pixelproof"))


def peak(folder: Path, workers: int, home: Path) -> tuple[float, float]:
    """(main + workers, main alone) peak RSS in MB."""
    home.mkdir()
    env = {**os.environ, "PIXELPROOF_OCR_WORKERS": str(workers), "PIXELPROOF_HOME": str(home)}
    run = subprocess.Popen([PIXELPROOF, "extract", str(folder), "-m", "local", "-f", "json",
                            "-o", str(home / "out.json")], env=env, stderr=subprocess.DEVNULL)
    main, total, alone = psutil.Process(run.pid), 0, 0
    while run.poll() is None:
        try:
            rss = [p.memory_info().rss for p in [main, *main.children(recursive=True)]]
        except psutil.Error:
            continue
        total, alone = max(total, sum(rss)), max(alone, rss[0])
        time.sleep(0.05)
    if run.returncode != 1 or not (home / "out.json").exists():  # bad files fail, not the run
        sys.exit(f"extract exited {run.returncode} without its output: the figures are void")
    return total / 2**20, alone / 2**20


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        made = corpus.make(folder)
        print(f"{len(list(folder.iterdir()))} files ({len(made.bad)} bad)")
        for workers in (2, 1):
            total, alone = peak(folder, workers, Path(tmp) / f"home{workers}")
            print(f"--ocr-workers {workers}: peak RSS {total:.0f} MB "
                  f"(main process {alone:.0f} MB, the rest its workers)")


if __name__ == "__main__":
    main()
