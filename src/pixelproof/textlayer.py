"""A PDF page's text layer as words with boxes, in the pixels the page is rendered at.

A born-digital page states every word it draws; that text is the page's read, exact and free.
A page is taken as scanned (and left to OCR) when it has no text, when its text is drawn
invisibly (someone's OCR laid over a scan), when an image covers most of it, or when its fonts
map characters to nothing readable.
"""

from __future__ import annotations

import ctypes
from typing import Any

Box = tuple[float, float, float, float]
Words = tuple[tuple[str, Box], ...]

INVISIBLE = {3, 7}  # text render modes that draw nothing (OCR text laid over a scan)
IMAGE_SHARE = 0.3  # an image covering this share of the page makes it a scan
GAP = 0.5  # a horizontal gap of this many text heights, without a space, ends a word


def page_words(page: Any, width: int, height: int) -> Words | None:
    """The words of a pypdfium2 page rendered at ``width`` x ``height`` px, in reading order
    of the file, or None when the page is to be read by OCR (see the module's docstring)."""
    import pypdfium2.raw as pdfium_c

    if _scanned(page, pdfium_c):
        return None
    text = page.get_textpage()
    try:
        chars = [(text.get_text_range(i, 1), text.get_charbox(i, loose=True))
                 for i in range(text.count_chars())]
    finally:
        text.close()
    readable = [c for c, _ in chars if c.strip()]
    if not readable or sum(_garbled(c) for c in readable) > 0.1 * len(readable):
        return None
    to_px = _device(page, width, height, pdfium_c)
    return tuple(_words([(c, to_px(box)) for c, box in chars]))


def _scanned(page: Any, pdfium_c: Any) -> bool:
    texts = list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_TEXT], max_depth=3))
    if not texts or sum(pdfium_c.FPDFTextObj_GetTextRenderMode(o.raw) in INVISIBLE
                        for o in texts) * 2 >= len(texts):
        return True
    area = page.get_width() * page.get_height()
    for o in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3):
        left, bottom, right, top = o.get_bounds()
        if (right - left) * (top - bottom) >= IMAGE_SHARE * area:
            return True
    return False


def _garbled(char: str) -> bool:
    code = ord(char[0])
    return char == "\ufffd" or code < 32 or 0xE000 <= code <= 0xF8FF


def _device(page: Any, width: int, height: int, pdfium_c: Any) -> Any:
    """A function from a box in page units to the box in rendered pixels (rotation included,
    as pdfium renders the page)."""
    x, y = ctypes.c_int(), ctypes.c_int()

    def point(px: float, py: float) -> tuple[int, int]:
        pdfium_c.FPDF_PageToDevice(page.raw, 0, 0, width, height, 0, px, py,
                                   ctypes.byref(x), ctypes.byref(y))
        return x.value, y.value

    def to_px(box: tuple[float, float, float, float]) -> Box:
        (x0, y0), (x1, y1) = point(box[0], box[1]), point(box[2], box[3])
        return (float(min(x0, x1)), float(min(y0, y1)), float(max(x0, x1)), float(max(y0, y1)))

    return to_px


def _words(chars: list[tuple[str, Box]]) -> list[tuple[str, Box]]:
    """Characters joined into words: a word ends at white space, at a change of line, and at
    a gap wider than GAP text heights."""
    out: list[tuple[str, Box]] = []
    text, box = "", (0.0, 0.0, 0.0, 0.0)
    for char, (x0, y0, x1, y1) in chars:
        if not char.strip() or x1 <= x0:
            text, box = _end(out, text, box)
            continue
        if text:
            h = box[3] - box[1]
            same_line = abs((y0 + y1) / 2 - (box[1] + box[3]) / 2) < h / 2
            if not same_line or x0 - box[2] > GAP * h or x0 < box[0]:
                text, box = _end(out, text, box)
        if text:
            text += char
            box = (min(box[0], x0), min(box[1], y0), max(box[2], x1), max(box[3], y1))
        else:
            text, box = char, (x0, y0, x1, y1)
    _end(out, text, box)
    return out


def _end(out: list[tuple[str, Box]], text: str, box: Box) -> tuple[str, Box]:
    if text:
        out.append((text, box))
    return "", (0.0, 0.0, 0.0, 0.0)
