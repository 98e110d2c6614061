"""Verification of a whole document: data checked against all of its pages at once.

The pages' reads are stacked into one read, page under page, so a value is found on whichever
page prints it, a table's rows continue from page to page, and sums run over all pages (the
lines of every page against the total on the last; running balances chained across pages).
Each check then keeps its page and its box on that page, and the second look reads the page
that holds the value.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from PIL import Image as PILImage

from .. import formats
from ..types import Image, OcrResult, Word
from .ground import check
from .look import second_look
from .report import Check, Report


def verify(image: Image | Any, data: Any, *,
           ocr: OcrResult | Sequence[OcrResult] | None = None) -> Report:
    """Check ``data`` (rows, nested JSON or Pydantic objects, from any source) against what the
    local engine reads in ``image``: a path or bytes (every page of a PDF or TIFF; ``#page=N``
    for one), an Image, a PIL image, or a list of them (the pages of one document). Returns a
    Report with a Check per value, each with its page when the document has several."""
    pages = _pages(image)
    if isinstance(ocr, OcrResult):
        ocr = [ocr]
    if len(pages) == 1:
        return check(pages[0], data, ocr=ocr[0] if ocr else None)
    return check_document(pages, data, reads=ocr)


def check_document(pages: Sequence[Image | PILImage.Image], data: Any, *,
                   reads: Sequence[OcrResult] | None = None) -> Report:
    """``verify`` for the loaded pages of one document (``reads``: their reads, when known)."""
    if reads is None:
        from ..ocr import submit
        reads = [f.result() for f in [submit(p) for p in pages]]
    if len(reads) != len(pages):
        raise ValueError(f"{len(reads)} reads given for {len(pages)} pages")
    report = check(None, data, ocr=stack(reads))
    tops = _tops(reads)
    numbers = [p.page or n if isinstance(p, Image) else n for n, p in enumerate(pages, 1)]
    placed = [_on_page(c, tops, numbers) for c in report.checks]
    dayfirst = formats.day_first([" ".join(w.text for w in line)
                                  for r in reads for line in r.lines])
    looked = list(placed)
    for index, page in enumerate(pages):
        mine = [n for n, (c, i) in enumerate(placed) if i == index]
        again = second_look([placed[n][0] for n in mine],
                            page if reads[index].read == "ocr" else None, dayfirst)
        for n, c in zip(mine, again, strict=True):
            looked[n] = (c, index)
    return replace(report, checks=tuple(c for c, _ in looked),
                   reads=tuple(r.read for r in reads),
                   image=pages[0] if isinstance(pages[0], Image) else None)


def stack(reads: Sequence[OcrResult]) -> OcrResult:
    """The reads of a document's pages as one read: each page under the one before, its lines
    numbered on from the last page's."""
    words: list[Word] = []
    line = 0
    for top, read in zip(_tops(reads), reads, strict=True):
        words += [Word(w.text, (w.box[0], w.box[1] + top, w.box[2], w.box[3] + top),
                       w.confidence, line + w.line) for w in read.words]
        line += max((w.line for w in read.words), default=-1) + 1
    return OcrResult(tuple(words), max(r.width for r in reads), sum(r.height for r in reads))


def _tops(reads: Sequence[OcrResult]) -> list[int]:
    tops, y = [], 0
    for read in reads:
        tops.append(y)
        y += read.height
    return tops


def _on_page(c: Check, tops: list[int], numbers: list[int]) -> tuple[Check, int | None]:
    """A check of the stacked read with its page number and its box on that page, and the
    page's index."""
    if c.box is None:
        return c, None
    index = max(i for i, top in enumerate(tops) if top <= c.box[1])
    top = tops[index]
    box = (c.box[0], c.box[1] - top, c.box[2], c.box[3] - top)
    return replace(c, box=box, page=numbers[index]), index


def _pages(image: Any) -> list[Any]:
    from ..images import load

    if isinstance(image, str | bytes) or hasattr(image, "__fspath__"):
        return load(image if isinstance(image, bytes) else os.fspath(image))
    if isinstance(image, list | tuple):
        return [p for each in image for p in _pages(each)]
    return [image]
