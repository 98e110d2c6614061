"""OCR engines on rendered pages with known text: speed, peak memory, accuracy.

Compares pixelproof's engine (its tuned settings), the same engine with RapidOCR's default
settings, RapidOCR called directly with its defaults, and Tesseract (when installed). Each
engine runs in its own process over the same 24 pages (statements, receipts, invoices and
ruled tables; clean, 50% scaled, rotated 2 degrees, blurred, JPEG 30, inverted).

    python bench/ocr.py
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
import numpy as np  # noqa: E402
import render  # noqa: E402

from pixelproof import ocr, tables  # noqa: E402
from pixelproof.types import OcrResult, Word  # noqa: E402

ENGINES = ["pixelproof", "pixelproof-defaults", "rapidocr-raw", "tesseract"]


def pages() -> list[render.Doc]:
    docs = []
    for n, make in enumerate([render.statement, render.receipt, render.invoice, render.grid]):
        for m, degrade in enumerate(render.DEGRADATIONS.values()):
            doc = make(seed=200 + 10 * n + m)
            doc.image = degrade(doc.image)
            docs.append(doc)
    return docs


def tesseract(image) -> OcrResult:
    """Tesseract's TSV words, grouped into its lines."""
    path = Path("/tmp/pixelproof-bench-ocr.png")
    image.save(path)
    tsv = subprocess.run(["tesseract", str(path), "stdout", "--psm", "6", "tsv"],
                         capture_output=True, text=True, check=True).stdout
    words, lines = [], {}
    for row in tsv.splitlines()[1:]:
        f = row.split("\t")
        if len(f) == 12 and f[11].strip() and float(f[10]) >= 0:
            x, y, w, h = map(float, f[6:10])
            line = lines.setdefault((f[2], f[3], f[4]), len(lines))
            words.append(Word(f[11], (x, y, x + w, y + h), float(f[10]) / 100, line))
    return OcrResult(tuple(words), image.width, image.height)


def reader(name: str):
    if name == "pixelproof":
        return ocr.RapidEngine().read
    if name == "pixelproof-defaults":
        return ocr.RapidEngine({"Global.log_level": "warning"}).read
    if name == "rapidocr-raw":
        from rapidocr import RapidOCR
        raw = RapidOCR(params={"Global.log_level": "warning"})

        def read(image):
            out = raw(np.asarray(image.convert("RGB"))[:, :, ::-1], return_word_box=True)
            return OcrResult(tuple(ocr._words(out)), image.width, image.height)
        return read
    return tesseract


def cell_accuracy(doc: render.Doc, page: OcrResult) -> float:
    found = tables.find_tables(page)
    rows = max(found, key=lambda t: len(t.rows)).rows if found else ()
    right = sum(a == b for want, got in zip(doc.rows, rows, strict=False)
                for a, b in zip(want, got, strict=False))
    return right / sum(len(r) for r in doc.rows)


def one(name: str) -> dict:
    docs = pages()
    read = reader(name)
    read(docs[0].image)  # load models before timing
    start = time.perf_counter()
    results = [read(doc.image) for doc in docs]
    seconds = time.perf_counter() - start
    return {"engine": name, "pages": len(docs), "pages_per_s": len(docs) / seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "cer": sum(render.cer(d.text, r.text) for d, r in zip(docs, results, strict=True))
            / len(docs),
            "cells": sum(cell_accuracy(d, r) for d, r in zip(docs, results, strict=True))
            / len(docs)}


def main() -> None:
    rows = []
    for name in ENGINES:
        if name == "tesseract" and not shutil.which("tesseract"):
            print("tesseract: not installed (apt-get install tesseract-ocr), skipped")
            continue
        out = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True,
                             text=True, check=True).stdout
        rows.append(json.loads(out.splitlines()[-1]))
    print(f"{'engine':22} {'pages/s':>8} {'peak RSS':>9} {'CER':>7} {'cells':>7}")
    for r in rows:
        print(f"{r['engine']:22} {r['pages_per_s']:8.2f} {r['peak_rss_mb']:7.0f}MB "
              f"{100 * r['cer']:6.2f}% {100 * r['cells']:6.1f}%")
    by = {r["engine"]: r for r in rows}
    raw, ours = by["rapidocr-raw"], by["pixelproof"]
    same = by["pixelproof-defaults"]
    print(f"pixelproof overhead at RapidOCR's default settings: "
          f"{100 * (raw['pages_per_s'] / same['pages_per_s'] - 1):+.1f}% time per page")
    print(f"pixelproof (tuned) vs raw RapidOCR: {ours['pages_per_s'] / raw['pages_per_s']:.2f}x "
          f"the pages per second, CER {100 * ours['cer']:.2f}% vs {100 * raw['cer']:.2f}%")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(one(sys.argv[2])))
    else:
        main()
