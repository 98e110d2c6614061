"""The offline OCR engine: RapidOCR (PP-OCR models bundled in its wheel) on onnxruntime.

``read(image)`` returns words with boxes in the original image's pixels, confidences, and the
visual line each belongs to, in reading order: the page is cut into blocks (recursive XY-cut,
where a vertical cut is only taken between columns whose lines do not line up, so table
columns stay on one line), blocks in order, lines top to bottom, words left to right.
The engine is created once per process (``engine()``) and is safe to share between threads.
"""

from __future__ import annotations

import logging
import os
import threading
from functools import lru_cache
from pathlib import Path
from statistics import median
from typing import Any, NamedTuple, Protocol

import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps

from .errors import InputError
from .images import load, to_pil
from .types import Image, OcrResult, Word

# RapidOCR's own settings (as ``RapidOCR()`` runs), with quiet logging.
DEFAULTS: dict[str, Any] = {"Global.log_level": "warning"}
# pixelproof's settings, measured in bench/ocr.py: no angle classifier (documents are upright;
# the detector handles small skew); recognition batches padded to at least 160 px wide instead
# of 320 (short cells such as dates and amounts no longer carry half a batch of padding);
# onnxruntime on one thread per core (2 on the bench machine), one inter-op thread.
SETTINGS: dict[str, Any] = {
    **DEFAULTS,
    "Global.use_cls": False,
    "Rec.rec_img_shape": [3, 48, 160],
    "EngineConfig.onnxruntime.intra_op_num_threads": os.cpu_count() or 1,
    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
}
# The text detector sees every page scaled so its shorter side is this long: RapidOCR
# scales small pages up to it by default, pixelproof also scales big pages down to it.
DET_SIDE = 736


class Engine(Protocol):
    def read(self, image: PILImage.Image) -> OcrResult: ...


class RapidEngine:
    """RapidOCR with its default bundled models; never selects a model that must be downloaded."""

    def __init__(self, settings: dict[str, Any] | None = None,
                 det_side: int | None = DET_SIDE) -> None:
        """``settings`` are RapidOCR params (``SETTINGS`` unless given); ``det_side`` scales
        each page for detection so its shorter side has that length (None: RapidOCR's own
        rule, which only scales up). Recognition always reads crops of the full-size page."""
        from rapidocr import RapidOCR

        self._ocr = RapidOCR(params=dict(settings if settings is not None else SETTINGS))
        _route_rapidocr_logging()
        self._det_side = det_side
        self._lock = threading.Lock()

    def read(self, image: PILImage.Image) -> OcrResult:
        rgb = image.convert("RGB")
        if _is_dark(rgb):
            rgb = ImageOps.invert(rgb)  # light text on a dark background
        strip = _Strip.of(rgb)  # a very thin page is read cut up and stacked
        page = strip.stacked(rgb) if strip else rgb
        pixels = np.asarray(page)[:, :, ::-1]  # RapidOCR works in BGR, like OpenCV
        try:
            with self._lock:
                if self._det_side:
                    self._scale_detection(*pixels.shape[:2])
                out = self._ocr(pixels, return_word_box=True)
        except Exception as e:  # RapidOCR's own errors (ResizeImgError, ...) and onnxruntime's
            raise InputError("<image>", f"the offline OCR engine could not read this "
                             f"{image.width}x{image.height} image ({type(e).__name__}: {e})",
                             "Crop or resize the image, or skip the check with --no-verify."
                             ) from e
        if strip:
            out = strip.unstacked(out)
        return from_rapidocr(out, image.width, image.height)

    def _scale_detection(self, height: int, width: int) -> None:
        """Point the detector at this page's scale (RapidOCR 3.10's detector reads its
        ``limit_type``/``limit_side_len`` on each call; the version is pinned)."""
        det = self._ocr._load_det_model()
        short, long = sorted((height, width))
        if short > self._det_side:  # "max": the longer side scaled down to this length
            det.limit_type, det.limit_side_len = "max", round(long * self._det_side / short)
        else:  # "min": the shorter side scaled up to this length
            det.limit_type, det.limit_side_len = "min", self._det_side


class _RapidLog(logging.Handler):
    """RapidOCR's log records, passed on to the ``pixelproof.ocr`` logger (quiet unless the
    application configures logging)."""

    def emit(self, record: logging.LogRecord) -> None:
        log.log(record.levelno, "RapidOCR: %s", record.getMessage())


log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())  # quiet unless the application configures logging


def _route_rapidocr_logging() -> None:
    """RapidOCR prints coloured lines to stderr with a handler of its own: replace it with
    ours (it sets its logger's level on each ``RapidOCR()``, so this runs after that)."""
    rapid = logging.getLogger("RapidOCR")
    for handler in list(rapid.handlers):
        if not isinstance(handler, _RapidLog):
            rapid.removeHandler(handler)
    if not rapid.handlers:
        rapid.addHandler(_RapidLog())
    rapid.propagate = False
    rapid.setLevel(logging.INFO)


STRIP = 25  # a page whose long side is over this many times its short side is a strip


class _Strip(NamedTuple):
    """A very thin page (a text line, a 20000x20 strip) cut into overlapping pieces along its
    long side, stacked with blank gaps into a squarish page (RapidOCR cannot resize extreme
    aspect ratios, and its detector would scale the short side up to hundreds of pixels).
    Each word is kept from the one piece whose own stretch holds its centre."""

    wide: bool  # wider than tall: pieces are stacked top to bottom, else left to right
    short: int
    step: int  # the stretch of the long side each piece owns
    overlap: int  # read on each side beyond it, so a word cut at one edge is whole in a piece
    count: int

    @classmethod
    def of(cls, image: PILImage.Image) -> _Strip | None:
        short, long = sorted(image.size)
        if long <= STRIP * max(short, 1):
            return None
        gap = max(short, 16)
        count = max(2, round((long / (short + gap)) ** 0.5))
        step = -(-long // count)
        return cls(image.width >= image.height, short, step, min(step, 10 * gap), count)

    @property
    def pitch(self) -> int:  # from one piece to the next on the stacked page
        return self.short + max(self.short, 16)

    def stacked(self, image: PILImage.Image) -> PILImage.Image:
        span = self.step + 2 * self.overlap
        size = (span, self.count * self.pitch) if self.wide else (self.count * self.pitch, span)
        page = PILImage.new("RGB", size, "white")
        for n in range(self.count):
            lo = max(0, n * self.step - self.overlap)
            hi = n * self.step + self.step + self.overlap
            if self.wide:
                piece = image.crop((lo, 0, min(hi, image.width), image.height))
                page.paste(piece, (lo - n * self.step + self.overlap, n * self.pitch))
            else:
                piece = image.crop((0, lo, image.width, min(hi, image.height)))
                page.paste(piece, (n * self.pitch, lo - n * self.step + self.overlap))
        return page

    def _back(self, quad: Any) -> tuple[list[list[float]], float, int]:
        """A quad on the stacked page in the strip's pixels, its centre along the long side
        and the piece it was read in."""
        pts = [(float(x), float(y)) for x, y in quad]
        cx, cy = sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)
        along_c, across_c = (cx, cy) if self.wide else (cy, cx)
        n = min(self.count - 1, max(0, int(across_c // self.pitch)))
        shift = n * self.step - self.overlap
        moved = [[x + shift, y - n * self.pitch] if self.wide else [x - n * self.pitch, y + shift]
                 for x, y in pts]
        return moved, along_c + shift, n

    def unstacked(self, out: Any) -> Any:
        """RapidOCR's output on the stacked page, in the strip's pixels, each word once."""
        from types import SimpleNamespace

        if out.boxes is None or not len(out.boxes):
            return out
        boxes = np.asarray([self._back(q)[0] for q in out.boxes], dtype=np.float64)
        segments = []
        for segment in out.word_results or ():
            kept = []
            for text, score, quad in segment:
                if quad is None:
                    continue
                moved, centre, n = self._back(quad)
                if n * self.step <= centre < (n + 1) * self.step:
                    kept.append((text, score, moved))
            segments.append(tuple(kept))
        return SimpleNamespace(boxes=boxes, word_results=tuple(segments))


def _is_dark(image: PILImage.Image) -> bool:
    small = np.asarray(image.convert("L").resize((64, 64)))
    return float(np.median(small)) < 100


class _Piece(NamedTuple):
    text: str
    box: tuple[float, float, float, float]  # in image pixels
    score: float
    flat: tuple[float, float, float, float]  # the box with the page's skew taken out


def from_rapidocr(out: Any, width: int, height: int) -> OcrResult:
    """RapidOCR's output (called with ``return_word_box=True``) as words in reading order."""
    if out.boxes is None or not len(out.boxes):
        return OcrResult((), width, height)  # nothing on the page
    slope = _skew(out.boxes)
    pieces = []
    for segment in out.word_results or ():
        for text, score, quad in segment:
            if text.strip():
                xs, ys = [p[0] for p in quad], [p[1] for p in quad]
                box = (min(xs), min(ys), max(xs), max(ys))
                cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
                dx, dy = slope * cy, -slope * cx  # a small rotation about the origin
                flat = (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)
                pieces.append(_Piece(text.strip(), box, float(score), flat))
    if not pieces:
        return OcrResult((), width, height)
    height_ = median(p.flat[3] - p.flat[1] for p in pieces)
    lines = [line for block in _blocks(pieces, height_) for line in _lines(block, height_)]
    words = [Word(p.text, p.box, p.score, n) for n, line in enumerate(lines) for p in line]
    return OcrResult(tuple(words), width, height)


def _skew(boxes: Any) -> float:
    """The page's text slope (dy/dx). A first guess from the top edges of the wider text boxes
    (the detector often draws short ones level), refined twice by the slope between the
    centres of boxes far apart on the same line (table cells, label and value)."""
    quads = np.asarray(boxes, dtype=np.float64)
    quads = quads[:: max(1, len(quads) // 400)]  # pairs below cost O(n^2): 400 boxes will do
    top = quads[:, 1] - quads[:, 0]
    tall = quads[:, 3, 1] - quads[:, 0, 1]
    wide = top[:, 0] > 3 * np.abs(tall)
    slope = float(np.median(top[wide, 1] / top[wide, 0])) if wide.any() else 0.0
    centre = quads.mean(axis=1)
    dx = centre[None, :, 0] - centre[:, None, 0]
    dy = centre[None, :, 1] - centre[:, None, 1]
    height = float(np.median(np.abs(tall)))
    for _ in range(2):
        pair = (dx > 4 * height) & (np.abs(dy - slope * dx) < 0.5 * height)
        if not pair.any():
            break
        slope = float(np.median(dy[pair] / dx[pair]))
    return slope


def _lines(pieces: list[_Piece], height: float) -> list[list[_Piece]]:
    """Pieces grouped into visual lines, top to bottom, each left to right."""
    lines: list[list[_Piece]] = []
    for piece in sorted(pieces, key=_level):
        if lines:
            last = lines[-1]
            centre = sum(map(_level, last)) / len(last)
            if abs(_level(piece) - centre) < 0.45 * max(height, piece.flat[3] - piece.flat[1]):
                last.append(piece)
                continue
        lines.append([piece])
    return [sorted(line, key=lambda p: p.flat[0]) for line in lines]


def _level(piece: _Piece) -> float:
    return (piece.flat[1] + piece.flat[3]) / 2


def _gaps(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Empty (start, end) stretches between the union of ``spans``."""
    out, reach = [], None
    for start, end in sorted(spans):
        if reach is not None and start > reach:
            out.append((reach, start))
        reach = end if reach is None else max(reach, end)
    return out


def _blocks(pieces: list[_Piece], height: float) -> list[list[_Piece]]:
    """Recursive XY-cut at the widest empty band. A vertical band (at least 1.5 text heights
    wide) is a cut only when most lines on its two sides do not share a baseline: beside a
    sidebar they fall out of step, across a table's columns they line up."""
    if len(pieces) < 2:
        return [pieces]
    across = _gaps([(p.flat[1], p.flat[3]) for p in pieces])
    best = max(across, key=lambda g: g[1] - g[0], default=None)
    size = best[1] - best[0] if best else 0.0
    for x0, x1 in sorted(_gaps([(p.flat[0], p.flat[2]) for p in pieces]),
                         key=lambda g: g[0] - g[1]):
        if x1 - x0 < max(1.5 * height, size):
            break
        left = [p for p in pieces if p.flat[2] <= x0]
        right = [p for p in pieces if p.flat[0] >= x1]
        if not _in_step(_lines(left, height), _lines(right, height), height):
            return _blocks(left, height) + _blocks(right, height)
    if best is None:
        return [pieces]
    cut = (best[0] + best[1]) / 2
    return (_blocks([p for p in pieces if p.flat[3] <= cut], height)
            + _blocks([p for p in pieces if p.flat[1] >= cut], height))


def _in_step(a: list[list[_Piece]], b: list[list[_Piece]], height: float) -> bool:
    """Whether most lines of the side with fewer lines share a baseline with the other side."""
    fewer, more = sorted((a, b), key=len)
    levels = [sum(map(_level, line)) / len(line) for line in more]
    matched = sum(any(abs(sum(map(_level, line)) / len(line) - y) < 0.35 * height
                      for y in levels) for line in fewer)
    return matched > 0.6 * len(fewer)


@lru_cache(maxsize=16)
def _read_image(image: Image) -> OcrResult:
    try:
        return engine().read(to_pil(image))
    except InputError as e:
        if e.source != "<image>":
            raise
        raise InputError(image.label, str(e).removeprefix("<image>: ")) from e.__cause__


_engine: RapidEngine | None = None
_engine_lock = threading.Lock()


def engine() -> RapidEngine:
    """The process's engine, created on first use (loading the models takes about a second)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = RapidEngine()
        return _engine


def read(image: Image | PILImage.Image | str | Path) -> OcrResult:
    """Read the text of an image: a pixelproof Image (remembered by its sha256, so the cost
    planner and the verifier read each image once), a PIL image, or a file path (loaded like
    any input, so EXIF orientation is applied; a PDF's first page)."""
    if isinstance(image, str | Path):
        image = load(image)[0]
    if isinstance(image, Image):
        return _read_image(image)
    return engine().read(image)
