"""The offline OCR engine: RapidOCR (PP-OCR models bundled in its wheel) on onnxruntime.

``read(image)`` returns words with boxes in the original image's pixels, confidences, and the
visual line each belongs to, in reading order. The engine is created once per process.
"""

from __future__ import annotations

import logging
import os
import threading
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps

from .images import to_pil
from .types import Image, OcrResult, Word

# Speed settings, measured in bench/ocr.py: no angle classifier (documents are upright; the
# detector handles small skew) and onnxruntime threads matched to the machine's cores.
SETTINGS = {
    "Global.log_level": "warning",
    "Global.use_cls": False,
    "EngineConfig.onnxruntime.intra_op_num_threads": os.cpu_count() or 1,
    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
}


class Engine(Protocol):
    def read(self, image: PILImage.Image) -> OcrResult: ...


class RapidEngine:
    """RapidOCR with its default bundled models; never selects a model that must be downloaded."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        logging.getLogger("RapidOCR").setLevel(logging.WARNING)
        from rapidocr import RapidOCR

        self._ocr = RapidOCR(params=settings if settings is not None else SETTINGS)
        self._lock = threading.Lock()

    def read(self, image: PILImage.Image) -> OcrResult:
        rgb = image.convert("RGB")
        if _is_dark(rgb):
            rgb = ImageOps.invert(rgb)  # light text on a dark background
        pixels = np.asarray(rgb)[:, :, ::-1]  # RapidOCR works in BGR, like OpenCV
        with self._lock:
            out = self._ocr(pixels, return_word_box=True)
        return OcrResult(tuple(_words(out)), rgb.width, rgb.height)


def _is_dark(image: PILImage.Image) -> bool:
    small = np.asarray(image.convert("L").resize((64, 64)))
    return float(np.median(small)) < 100


def _skew(out: Any) -> float:
    """The page's text slope (dy/dx), from the top edges of the wider detected text boxes."""
    slopes = sorted((q[1][1] - q[0][1]) / (q[1][0] - q[0][0])
                    for q in (out.boxes if out.boxes is not None else ())
                    if q[1][0] - q[0][0] > 3 * abs(q[3][1] - q[0][1]))
    return float(slopes[len(slopes) // 2]) if slopes else 0.0


def _words(out: Any) -> list[Word]:
    """Words in reading order, each tagged with its visual line (skew-corrected)."""
    slope = _skew(out)
    pieces: list[tuple[str, tuple[float, float, float, float], float, float]] = []
    if out.boxes is None:
        return []  # nothing on the page
    for segment in out.word_results or ():
        for text, score, quad in segment:
            if text.strip():
                xs, ys = [p[0] for p in quad], [p[1] for p in quad]
                box = (min(xs), min(ys), max(xs), max(ys))
                level = (box[1] + box[3]) / 2 - slope * (box[0] + box[2]) / 2
                pieces.append((text.strip(), box, float(score), level))
    lines: list[list[tuple[str, tuple[float, float, float, float], float, float]]] = []
    for piece in sorted(pieces, key=lambda p: p[3]):
        if lines:
            last = lines[-1]
            height = sum(p[1][3] - p[1][1] for p in last) / len(last)
            centre = sum(p[3] for p in last) / len(last)
            if abs(piece[3] - centre) < 0.45 * max(height, piece[1][3] - piece[1][1]):
                last.append(piece)
                continue
        lines.append([piece])
    return [Word(text, box, score, n)
            for n, line in enumerate(lines)
            for text, box, score, _ in sorted(line, key=lambda p: p[1][0])]


@lru_cache(maxsize=16)
def _read_image(image: Image) -> OcrResult:
    return engine().read(to_pil(image))


@cache
def engine() -> RapidEngine:
    """The process's engine (loading the models takes about a second)."""
    return RapidEngine()


def read(image: Image | PILImage.Image | str | Path) -> OcrResult:
    """Read the text of an image: a pixelproof Image (remembered by its sha256, so the cost
    planner and the verifier read each image once), a PIL image or a file path."""
    if isinstance(image, Image):
        return _read_image(image)
    if isinstance(image, str | Path):
        with PILImage.open(image) as opened:
            image = opened.convert("RGB")
    return engine().read(image)
