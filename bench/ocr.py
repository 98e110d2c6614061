"""OCR engines on rendered pages with known text: speed, peak memory, accuracy.

    python bench/ocr.py [repeats]

30 pages from tests/render.py (statements, receipts, invoices, ruled tables and app screens;
clean, 50% scaled, rotated 2 degrees, blurred, JPEG 30, inverted, noisy, two at 2x size, and
three app screens at 1x on a 2560x1440 desktop: small text on a big page) are read by:

- ``pixelproof``: ``ocr.RapidEngine()``, pixelproof's engine with its tuned settings and its
  detector scale chosen per page;
- ``pixelproof@defaults``: the same engine with RapidOCR's default settings and steps;
- ``rapidocr``: ``RapidOCR()`` with its defaults, called directly on the pixels;
- ``tesseract``: the Debian ``tesseract`` binary (``--psm 6``), when installed.

Speed: all engines in this one process, taking turns page by page (the order rotates), so a
busy machine slows them alike. Then the pool: all pages read by pixelproof's worker pool
(``ocr.Pool``, one worker per core) and by raw RapidOCR in this process, taking turns every 3
pages per core, ``repeats`` passes (default 2), each pass's ratio printed. Peak memory: each
engine alone in a child process on 5 pages.
Accuracy: character error rate against the printed lines, and the share of table cells read
exactly (rapidocr's words are put in reading order by pixelproof's layout step, so its
figures compare recognition, not layout).
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
import numpy as np  # noqa: E402
import render  # noqa: E402
from PIL import Image as PILImage  # noqa: E402

from pixelproof import ocr, tables  # noqa: E402
from pixelproof.types import OcrResult, Word  # noqa: E402

MAKERS = [render.statement, render.receipt, render.invoice, render.grid, render.screenshot]
CONDITIONS = {**render.DEGRADATIONS, "noise": render.noise}


def pages() -> list[tuple[str, render.Doc]]:
    """(condition, document with its degraded image)."""
    names = list(CONDITIONS)
    out = []
    for i, make in enumerate(MAKERS):
        for j in range(5):
            name = names[(i + j) % len(names)]
            doc = make(seed=100 + 10 * i + j)
            doc.image = CONDITIONS[name](doc.image)
            out.append((name, doc))
    for make in (render.statement, render.invoice):
        doc = make(seed=300)
        doc.image = render.scale(doc.image, 2)
        out.append(("2x size", doc))
    for seed in (400, 401, 402):
        out.append(("big screen", big_screen(render.screenshot(seed=seed, members=6))))
    return out


def big_screen(doc: render.Doc) -> render.Doc:
    """The app screen (18 px type, glyphs 10-14 px tall) at 1x, as a window on a 2560x1440
    desktop: small text on a big page."""
    desktop = PILImage.new("RGB", (2560, 1440), "#e9ecf1")
    desktop.paste(doc.image, (0, 0))
    doc.image = desktop
    return doc


def tesseract(image) -> OcrResult:
    """Tesseract's TSV words, grouped into its lines."""
    with tempfile.NamedTemporaryFile(suffix=".png") as f:
        image.save(f.name)
        tsv = subprocess.run(["tesseract", f.name, "stdout", "--psm", "6", "tsv"],
                             capture_output=True, text=True, check=True).stdout
    words, lines = [], {}
    for row in tsv.splitlines()[1:]:
        f = row.split("\t")
        if len(f) == 12 and f[11].strip() and float(f[10]) >= 0:
            x, y, w, h = map(float, f[6:10])
            line = lines.setdefault((f[2], f[3], f[4]), len(lines))
            words.append(Word(f[11], (x, y, x + w, y + h), float(f[10]) / 100, line))
    return OcrResult(tuple(words), image.width, image.height)


def readers(names: list[str]) -> dict:
    """name -> read(image): an OcrResult, or (raw RapidOCR) a function that lays out its
    output, so that the layout step is timed apart."""
    from rapidocr import RapidOCR

    def direct():
        raw = RapidOCR(params=dict(ocr.DEFAULTS))

        def read(image):
            out = raw(np.asarray(image.convert("RGB"))[:, :, ::-1], return_word_box=True)
            return lambda: ocr.from_rapidocr(out, image.width, image.height)
        return read

    make = {"pixelproof": lambda: ocr.RapidEngine().read,
            "pixelproof@defaults": lambda: ocr.RapidEngine(ocr.DEFAULTS, staged=False).read,
            "rapidocr": direct, "tesseract": lambda: tesseract}
    return {name: make[name]() for name in names}


def cell_accuracy(doc: render.Doc, page: OcrResult) -> float:
    """Share of the truth table's cells read exactly, rows matched in order (the found table
    with the truth's header, else the one with most rows)."""
    found = tables.find_tables(page)
    best = next((t for t in found if list(t.header) == doc.header),
                max(found, key=lambda t: len(t.rows), default=None))
    rows = best.rows if best else ()
    right = sum(a == b for want, got in zip(doc.rows, rows, strict=False)
                for a, b in zip(want, got, strict=False))
    return right / sum(len(r) for r in doc.rows)


def memory(name: str) -> float:
    """Peak RSS in MB of a child process that loads one engine and reads 5 pages."""
    docs = [doc for _, doc in pages()[::6]]
    read = readers([name])[name]
    for doc in docs:
        result = read(doc.image)
        if callable(result):
            result()
    who = resource.RUSAGE_CHILDREN if name == "tesseract" else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


def main(repeats: int) -> None:
    docs = pages()
    names = ["pixelproof", "pixelproof@defaults", "rapidocr"]
    if shutil.which("tesseract"):
        names.append("tesseract")
    engines = readers(names)
    for read in engines.values():  # load the models before timing
        result = read(docs[0][1].image)
        if callable(result):
            result()
    seconds = dict.fromkeys(names, 0.0)
    spent = {(name, c): 0.0 for name in names for c, _ in docs}
    layout = 0.0
    results: dict[str, list[OcrResult]] = {n: [] for n in names}
    for k, (_, doc) in enumerate(docs):
        for name in names[k % len(names):] + names[:k % len(names)]:
            start = time.perf_counter()
            result = engines[name](doc.image)
            took = time.perf_counter() - start
            seconds[name] += took
            spent[name, docs[k][0]] += took
            if callable(result):  # raw RapidOCR: layout for scoring, timed apart
                start = time.perf_counter()
                result = result()
                layout += time.perf_counter() - start
            results[name].append(result)
    peak = {n: float(subprocess.run([sys.executable, __file__, "--memory", n],
                                    capture_output=True, text=True, check=True)
                     .stdout.split()[-1]) for n in names}
    n = len(docs)
    print(f"{n} pages: " + ", ".join(sorted({c for c, _ in docs})))
    print()
    print("| engine | pages/s | peak RSS | CER | table cells exact |")
    print("|---|---:|---:|---:|---:|")
    score = {}
    for name in names:
        cer = sum(render.cer(d.text, r.text) for (_, d), r in zip(docs, results[name],
                                                                   strict=True)) / n
        cells = sum(cell_accuracy(d, r) for (_, d), r in zip(docs, results[name],
                                                             strict=True)) / n
        score[name] = (cer, cells)
        print(f"| {name} | {n / seconds[name]:.2f} | {peak[name]:.0f} MB | {100 * cer:.2f}% "
              f"| {100 * cells:.1f}% |")
    if "tesseract" not in names:
        print("tesseract: not installed (apt-get install tesseract-ocr), skipped")
    print()
    conditions = list(dict.fromkeys(c for c, _ in docs))
    print("| CER by condition | " + " | ".join(conditions) + " |")
    print("|---|" + "---:|" * len(conditions))
    for name in names:
        by = [np.mean([render.cer(d.text, r.text) for (c, d), r in
                       zip(docs, results[name], strict=True) if c == cond])
              for cond in conditions]
        print(f"| {name} | " + " | ".join(f"{100 * v:.2f}%" for v in by) + " |")
    print()
    print("| pages/s by condition | " + " | ".join(conditions) + " |")
    print("|---|" + "---:|" * len(conditions))
    for name in names:
        by = [sum(c == cond for c, _ in docs) / spent[name, cond] for cond in conditions]
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in by) + " |")
    print()
    raw, same, tuned = seconds["rapidocr"], seconds["pixelproof@defaults"], seconds["pixelproof"]
    print(f"pixelproof's overhead over raw RapidOCR at the same settings: "
          f"{100 * (same / raw - 1):+.1f}% time per page (end to end; the layout step alone: "
          f"{100 * layout / raw:.1f}% of RapidOCR's time)")
    print(f"pixelproof's tuned engine vs raw RapidOCR: {raw / tuned:.2f}x the pages per second; "
          f"CER {100 * score['pixelproof'][0]:.2f}% vs {100 * score['rapidocr'][0]:.2f}%, "
          f"cells {100 * score['pixelproof'][1]:.1f}% vs {100 * score['rapidocr'][1]:.1f}%")
    looks = engines["pixelproof"].__self__.looks  # the warm-up read included
    print(f"pixelproof's detector: {looks[0]} pages kept from the first look, {looks[1]} "
          "looked at twice (small text)")
    pool_vs_raw(docs, engines["rapidocr"], repeats)


def pool_vs_raw(docs: list, raw, repeats: int) -> None:
    """pixelproof's pool (one worker per core) and raw RapidOCR in this process, each reading
    every page: the two take turns every few pages, so a busy machine slows them alike."""
    workers = ocr.cores()
    pool = ocr.Pool(workers)
    for future in [pool.submit(doc.image) for _, doc in docs[:workers]]:  # start the workers
        future.result()
    step = 3 * workers
    ratios = []
    for n in range(repeats):
        raw_s = pool_s = 0.0
        for k in range(0, len(docs), step):
            chunk = [doc.image for _, doc in docs[k:k + step]]
            start = time.perf_counter()
            for image in chunk:
                raw(image)
            raw_s += time.perf_counter() - start
            start = time.perf_counter()
            for future in [pool.submit(image) for image in chunk]:
                future.result()
            pool_s += time.perf_counter() - start
        ratios.append(raw_s / pool_s)
        print(f"pass {n + 1}: pixelproof's pool of {workers} {len(docs) / pool_s:.2f} pages/s, "
              f"raw RapidOCR in one process {len(docs) / raw_s:.2f} pages/s: "
              f"{ratios[-1]:.2f}x")
    pool.shutdown()
    print(f"pixelproof's pool vs raw RapidOCR: {min(ratios):.2f}-{max(ratios):.2f}x the pages "
          f"per second over {repeats} passes")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--memory"]:
        print(memory(sys.argv[2]))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
