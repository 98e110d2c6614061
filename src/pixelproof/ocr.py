"""The offline OCR engine: RapidOCR (PP-OCR models bundled in its wheel) on onnxruntime.

``read(image)`` returns words with boxes in the original image's pixels, confidences, and the
visual line each belongs to, in reading order: the page is cut into blocks (recursive XY-cut,
where a vertical cut is only taken between columns whose lines do not line up, so table
columns stay on one line), blocks in order, lines top to bottom, words left to right.
Pages are read in a pool of worker processes, each page once (``submit``/``read``/``aread``,
remembered by sha256 for the run and in the store); see "the shared reader" below.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import math
import os
import select
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from statistics import median
from typing import Any, NamedTuple, Protocol

import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps

from .errors import ConfigError, InputError, OcrError
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
# The text detector's scale is chosen per page from the text it finds (bench/ocr.py, 2026-11).
# A first look with the page's shorter side scaled to DET_SIDE (RapidOCR scales small pages
# up to it by default; pixelproof also scales big pages down to it, which makes them 1.2-1.3x
# faster to read). When the smallest text boxes it found (the 10th percentile of their
# heights) are at least SAFE_HEIGHT detector pixels tall, those boxes are kept; otherwise the
# page is looked at again, scaled so those boxes would be TARGET_HEIGHT pixels tall (at most
# full size). Measured on 2560x1440 screenshots with 10-14 px glyphs: boxes 12.5 px tall at
# the first look, CER 2.3 % from those boxes, 0 % from a second look at 16, 18 or 20 px; body text
# on the bench's other pages gives boxes of 17 px and more even at a 400 px look.
DET_SIDE = 736
SAFE_HEIGHT = 16.0
TARGET_HEIGHT = 18.0
UNNAMED = "<image>"  # the source of an engine error until the caller names the page


class Engine(Protocol):
    def read(self, image: PILImage.Image) -> OcrResult: ...


class RapidEngine:
    """RapidOCR with its default bundled models; never selects a model that must be downloaded."""

    def __init__(self, settings: dict[str, Any] | None = None, staged: bool = True) -> None:
        """``settings`` are RapidOCR params (``SETTINGS`` unless given). ``staged``: the
        detector's scale is chosen from a first look (see DET_SIDE), and recognition reads
        crops of the full-size page; otherwise RapidOCR runs as it is (pages over its
        ``max_side_len``, 2000 px, shrunk before detection and recognition alike)."""
        from rapidocr import RapidOCR

        self._ocr = RapidOCR(params=dict(settings if settings is not None else SETTINGS))
        _route_rapidocr_logging()
        self._staged = staged
        self._lock = threading.Lock()
        self.looks = [0, 0]  # pages kept after the first look, pages looked at twice

    def read(self, image: PILImage.Image) -> OcrResult:
        return layout(self.read_raw(image))

    def read_raw(self, image: PILImage.Image) -> Raw:
        """What the models read, before layout: small, picklable, and what the store keeps."""
        rgb = image.convert("RGB")
        if _is_dark(rgb):
            rgb = ImageOps.invert(rgb)  # light text on a dark background
        strip = _Strip.of(rgb)  # a very thin page is read cut up and stacked
        page = strip.stacked(rgb) if strip else rgb
        pixels = np.asarray(page)[:, :, ::-1]  # RapidOCR works in BGR, like OpenCV
        try:
            with self._lock:
                out = (self._staged_read(pixels) if self._staged else
                       self._ocr(pixels, return_word_box=True))
        except Exception as e:  # RapidOCR's own errors (ResizeImgError, ...) and onnxruntime's
            raise InputError(UNNAMED, f"the offline OCR engine could not read this "
                             f"{image.width}x{image.height} image ({type(e).__name__}: {e})",
                             "Crop or resize the image, or skip the check with --no-verify."
                             ) from e
        if strip:
            out = strip.unstacked(out)
        return raw_of(out, image.width, image.height)

    def _staged_read(self, pixels: np.ndarray) -> Any:
        """RapidOCR's own steps (``RapidOCR.__call__`` in 3.10, the version pinned) with the
        detection in our hands: no shrinking to ``max_side_len`` (tiny pages are still scaled
        up to ``min_side_len``), the detector's scale from ``_detect``, the crops cut from
        the full-size page. Returns what ``RapidOCR(..., return_word_box=True)`` returns."""
        from rapidocr.ch_ppocr_cls import TextClsOutput
        from rapidocr.utils.output import RapidOCROutput
        from rapidocr.utils.process_img import apply_vertical_padding, resize_image_within_bounds

        ocr = self._ocr
        ocr.return_word_box = True
        img, ratio_h, ratio_w = resize_image_within_bounds(pixels, ocr.min_side_len, math.inf)
        record = {"preprocess": {"ratio_h": ratio_h, "ratio_w": ratio_w}}
        img, record = apply_vertical_padding(img, record, ocr.width_height_ratio,
                                             ocr.min_height)
        found = self._detect(img)
        if found.boxes is None:
            return RapidOCROutput()
        crops = ocr.crop_text_regions(img, found.boxes)
        turned, cls = ocr.cls_and_rotate(crops) if ocr.use_cls else (crops, TextClsOutput())
        return ocr.build_final_output(pixels, found, cls, ocr.recognize_txt(turned), crops,
                                      record)

    def _detect(self, img: np.ndarray) -> Any:
        """The detector's boxes (in ``img``'s pixels) at the scale the page's text needs."""
        scale = DET_SIDE / min(img.shape[:2])
        found = self._detect_at(img, scale)
        if found.boxes is None or not len(found.boxes):
            return found
        quads = np.asarray(found.boxes, dtype=np.float64)
        tall = scale * float(np.percentile(np.linalg.norm(quads[:, 3] - quads[:, 0], axis=1), 10))
        if tall >= SAFE_HEIGHT or scale >= 1:
            self.looks[0] += 1
            return found
        self.looks[1] += 1
        return self._detect_at(img, min(1.0, scale * TARGET_HEIGHT / max(tall, 1.0)))

    def _detect_at(self, img: np.ndarray, scale: float) -> Any:
        """The detector run on ``img`` scaled by ``scale`` (RapidOCR 3.10's detector reads its
        ``limit_type``/``limit_side_len`` on each call), boxes in ``img``'s pixels."""
        det = self._ocr._load_det_model()
        det.limit_type, det.limit_side_len = "max", max(32, round(max(img.shape[:2]) * scale))
        if scale > 1:  # "max" only scales down; "min" scales the shorter side up to its length
            det.limit_type, det.limit_side_len = "min", round(min(img.shape[:2]) * scale)
        return det(img)


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


class Raw(NamedTuple):
    """RapidOCR's output reduced to plain values: the text boxes the detector found (quads,
    for the skew estimate) and each recognised word with its score and quad."""

    width: int
    height: int
    boxes: list[list[list[float]]]
    words: list[tuple[str, float, list[list[float]]]]

    def to_json(self) -> str:
        return json.dumps([self.width, self.height, self.boxes, self.words],
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Raw:
        width, height, boxes, words = json.loads(text)
        return cls(width, height, boxes, [(t, s, q) for t, s, q in words])


def raw_of(out: Any, width: int, height: int) -> Raw:
    """RapidOCR's output (called with ``return_word_box=True``) as a Raw."""
    if out.boxes is None or not len(out.boxes):
        return Raw(width, height, [], [])
    boxes = [[[float(x), float(y)] for x, y in quad] for quad in out.boxes]
    words = [(str(text), float(score), [[float(x), float(y)] for x, y in quad])
             for segment in out.word_results or () for text, score, quad in segment]
    return Raw(width, height, boxes, words)


def from_rapidocr(out: Any, width: int, height: int) -> OcrResult:
    """RapidOCR's output (called with ``return_word_box=True``) as words in reading order."""
    return layout(raw_of(out, width, height))


def layout(raw: Raw) -> OcrResult:
    """The words of a Raw read in reading order, grouped in lines."""
    width, height = raw.width, raw.height
    if not raw.boxes:
        return OcrResult((), width, height)  # nothing on the page
    slope = _skew(raw.boxes)
    pieces = []
    for text, score, quad in raw.words:
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
    lines = [row for block in _blocks(pieces, height_) for line in _lines(block, height_)
             for row in _unstack(line)]
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


def _unstack(line: list[_Piece]) -> list[list[_Piece]]:
    """A line that holds two printed lines (a photo's lines tilted each its own way, set close
    together) split in them: words stacked over one another are not on one line. Left to
    right, each word goes on the line whose course (its slope so far) passes nearest."""
    if not any(_over(a, b) for a, b in zip(line, line[1:], strict=False)):
        return [line]
    rows: list[list[_Piece]] = []
    for piece in line:
        free = [row for row in rows if not _over(row[-1], piece)]
        if not free:
            rows.append([piece])
            continue
        slopes = [_slope(row) for row in rows if len(row) > 1]
        guess = sum(slopes) / len(slopes) if slopes else 0.0
        min(free, key=lambda row: abs(_level(row[-1]) + (
            _slope(row) if len(row) > 1 else guess) * (_mid(piece) - _mid(row[-1]))
            - _level(piece))).append(piece)
    return sorted(rows, key=lambda row: sum(map(_level, row)) / len(row))


def _over(a: _Piece, b: _Piece) -> bool:
    """Whether two words overlap across more than a fifth of the narrower one."""
    width = min(a.flat[2] - a.flat[0], b.flat[2] - b.flat[0])
    return min(a.flat[2], b.flat[2]) - max(a.flat[0], b.flat[0]) > 0.2 * width


def _slope(row: list[_Piece]) -> float:
    return (_level(row[-1]) - _level(row[0])) / max(1.0, _mid(row[-1]) - _mid(row[0]))


def _mid(piece: _Piece) -> float:
    return (piece.flat[0] + piece.flat[2]) / 2


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


def worker_read(engine_: RapidEngine, page: Image | PILImage.Image) -> tuple[bool, Any]:
    """A worker's answer for ``page``: (True, its Raw), or (False, the engine's error as text,
    which ``engine_error`` turns back into an error)."""
    try:
        return True, engine_.read_raw(to_pil(page) if isinstance(page, Image) else page)
    except Exception as e:
        return False, str(e) if isinstance(e, InputError) else f"{type(e).__name__}: {e}"


def engine_error(message: str) -> Exception:
    """The error a worker reported reading a page (as text), as the pool raises it."""
    return InputError(UNNAMED, message.removeprefix(f"{UNNAMED}: ")) \
        if message.startswith(UNNAMED) else OcrError(f"the OCR engine failed: {message}")


def _named(error: BaseException, label: str) -> BaseException:
    """An engine error from a page read without its name, given the image's name."""
    if isinstance(error, InputError) and error.source == UNNAMED:
        return InputError(label, str(error).removeprefix(f"{UNNAMED}: "))
    return error


_engine: RapidEngine | None = None
_engine_lock = threading.Lock()


def engine() -> RapidEngine:
    """This process's engine, created on first use (loading the models takes about a second).
    ``read()`` uses it only with ``workers=0``; otherwise pages go to the worker pool."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = RapidEngine()
        return _engine


# --- the shared reader: each image read once, in a pool of worker processes -----------------
#
# ``submit(image)`` hands back a Future of the page's OcrResult. Pages are known by the sha256
# of their file (a PIL image by that of its pixels); a page already read, or being read, in
# this process is not read again, nor is one found in an attached store (``remember_in``).
# Reads run in worker processes, each building the engine once, each page on one worker with
# the cores shared out between the workers (onnxruntime threads = cores // workers). A worker
# that dies, or takes longer than the time limit over a page (hung, or stopped), is killed and
# replaced, and the page retried once on the new one; a second failure fails that page alone.

# Memory one worker takes with the models loaded and pages in flight (bench/pipeline.py,
# 2026-11: 555 and 583 MB peak RSS for its two workers on pages 456-1408 px wide); the
# default pool starts no more workers than the available memory holds at this much each.
WORKER_MB = 600
# Reads kept in memory for the run, by sha256 (a page's read is about 50-150 kB of objects).
KEEP = 512
# The longest a worker may take over a page before it is taken for hung: this many seconds per
# 4 megapixels (at least this many; ``$PIXELPROOF_OCR_TIMEOUT`` sets it). Measured 2026-11 on
# one onnxruntime thread of the 2-core machine at load average 6: a 2.7 Mpx statement of 30
# rows 8.0 s, a 32 Mpx mosaic of twelve 12.7 s (the detector sees it scaled down).
READ_SECONDS = 120.0
START_SECONDS = 120.0  # the longest a new worker may take to load its models
# What a stored read depends on: the models and settings (the layout is redone on load).
ENGINE_ID = "rapidocr-3.10.0;" + json.dumps(
    {k: v for k, v in SETTINGS.items() if "num_threads" not in k}, sort_keys=True) + \
    f";det_side={DET_SIDE},{SAFE_HEIGHT},{TARGET_HEIGHT};full-size crops"


class ReadStore(Protocol):
    """Where reads outlive the process (store.Store): raw reads by sha256 and engine id."""

    def get_read(self, sha256: str, engine: str) -> str | None: ...

    def put_read(self, sha256: str, engine: str, raw: str) -> None: ...


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _available_mb() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError):
        pass
    return None


def default_workers() -> int:
    """``$PIXELPROOF_OCR_WORKERS``, else one per core, fewer when the available memory does
    not hold WORKER_MB for each. 0 reads in this process (no pool)."""
    env = os.environ.get("PIXELPROOF_OCR_WORKERS", "").strip()
    if env:
        try:
            return max(0, int(env))
        except ValueError:
            raise ConfigError(f"PIXELPROOF_OCR_WORKERS={env!r} is not a number; set it to "
                              "the number of OCR worker processes (0: read in-process).") \
                from None
    n = cores()
    mb = _available_mb()
    return max(1, min(n, mb // WORKER_MB)) if mb is not None else n


def read_seconds() -> float:
    """``$PIXELPROOF_OCR_TIMEOUT``, else READ_SECONDS."""
    env = os.environ.get("PIXELPROOF_OCR_TIMEOUT", "").strip()
    try:
        seconds = float(env) if env else READ_SECONDS
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ConfigError(f"PIXELPROOF_OCR_TIMEOUT={env!r} is not a positive number of seconds "
                          "(the longest an OCR worker may take over a page of 4 megapixels).")
    return seconds


def _serve(threads: int) -> None:
    """A worker process: build the engine, say so (an empty message), then read pages sent on
    stdin, answering on stdout (each message a pickle with its length in front), until stdin
    closes."""
    import pickle
    import struct

    reply = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to stderr, not into the answers
    if os.environ.get("PIXELPROOF_DEBUG"):  # the engine's log lines, as the parent shows them
        logging.basicConfig(format="%(name)s: %(levelname)s: %(message)s")
        logging.getLogger("pixelproof").setLevel(logging.DEBUG)
    requests = os.fdopen(0, "rb")
    engine_ = RapidEngine({**SETTINGS, "EngineConfig.onnxruntime.intra_op_num_threads": threads})
    reply.write(struct.pack("<Q", 0))
    reply.flush()
    while head := requests.read(8):
        page = pickle.loads(requests.read(struct.unpack("<Q", head)[0]))
        data = pickle.dumps(worker_read(engine_, page), protocol=pickle.HIGHEST_PROTOCOL)
        reply.write(struct.pack("<Q", len(data)) + data)
        reply.flush()


def _wait(fd: int, event: int, deadline: float) -> bool:
    """Whether ``fd`` is ready for ``event`` by ``deadline`` (poll: any fd number, unlike
    select's 1024)."""
    poll = select.poll()
    poll.register(fd, event)
    return bool(poll.poll(max(0.0, deadline - time.monotonic()) * 1000))


class _Hung(Exception):
    """The worker gave no answer within the time limit."""


class _Worker:
    """One worker process and the thread that feeds it pages from the pool's queue. A worker
    that dies or hangs is replaced, and its page retried once on the new one."""

    def __init__(self, pool: Pool, n: int) -> None:
        self.pool = pool
        self.proc: Any = None
        self.thread = threading.Thread(target=self._loop, name=f"pixelproof-ocr-{n}",
                                       daemon=True)
        self.thread.start()

    def _start(self) -> Any:
        import subprocess
        import sys

        here = str(Path(__file__).resolve().parent.parent)  # the pixelproof package's folder
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [here] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
        threads = max(1, cores() // self.pool.workers)
        return subprocess.Popen(
            [sys.executable, "-c", f"from pixelproof.ocr import _serve; _serve({threads})"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0)

    def _ask(self, page: Image | PILImage.Image, seconds: float) -> tuple[bool, Any]:
        """Send one page and wait for the answer, both within ``seconds``; EOFError/OSError
        when the worker died, _Hung when it took longer."""
        import pickle
        import struct

        self._ready()
        data = pickle.dumps(page, protocol=pickle.HIGHEST_PROTOCOL)
        deadline = time.monotonic() + seconds
        self._write(struct.pack("<Q", len(data)) + data, deadline)
        return pickle.loads(self._receive(deadline))

    def _ready(self) -> None:
        """This worker, or a new one, with its models loaded."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
            os.set_blocking(self.proc.stdin.fileno(), False)  # writes wait in _write
            self._receive(time.monotonic() + START_SECONDS)

    def _write(self, data: bytes, deadline: float) -> None:
        fd, left = self.proc.stdin.fileno(), memoryview(data)
        while left:
            if not _wait(fd, select.POLLOUT, deadline):
                raise _Hung
            try:
                left = left[os.write(fd, left):]
            except BlockingIOError:
                continue

    def _receive(self, deadline: float) -> bytes:
        """One message from the worker (its length, then the pickle), by ``deadline``."""
        import struct

        size = struct.unpack("<Q", self._read(8, deadline))[0]
        return self._read(size, deadline)

    def _read(self, size: int, deadline: float) -> bytes:
        fd, got = self.proc.stdout.fileno(), bytearray()
        while len(got) < size:
            if not _wait(fd, select.POLLIN, deadline):
                raise _Hung
            chunk = os.read(fd, size - len(got))
            if not chunk:
                raise EOFError
            got += chunk
        return bytes(got)

    def _loop(self) -> None:
        while (job := self.pool.jobs.get()) is not None:
            page, out = job
            if not out.set_running_or_notify_cancel():
                continue
            seconds = self.pool.seconds * max(1.0, page.width * page.height / 4e6)
            for tries in (0, 1):
                self.pool.count()
                try:
                    ok, answer = self._ask(page, seconds)
                except (EOFError, OSError, _Hung) as e:
                    self._stop(kill=True)
                    if self.pool.closed:
                        out.set_exception(OcrError("the OCR pool was shut down while reading "
                                                   "the page."))
                        break
                    self.pool.restarts += 1
                    if tries == 0:
                        continue
                    label = page.label if isinstance(page, Image) else "an image"
                    out.set_exception(OcrError(
                        f"{label}: the OCR worker took over {seconds:.0f} s reading it, twice, "
                        "and was stopped. Crop or resize the image, or give it more time with "
                        "PIXELPROOF_OCR_TIMEOUT (seconds per 4 megapixels)." if
                        isinstance(e, _Hung) else
                        f"{label}: the OCR worker process died reading it, twice. The page "
                        "may be too big for the memory left: try --ocr-workers 1."))
                    break
                except Exception as e:  # a page that cannot be sent: its item fails, not the pool
                    self._stop(kill=True)
                    out.set_exception(OcrError(f"the page could not be sent to the OCR worker "
                                               f"({type(e).__name__}: {e})."))
                    break
                if ok:
                    out.set_result(answer)
                else:
                    out.set_exception(engine_error(answer))
                break
        self._stop(kill=False)

    def _stop(self, kill: bool) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if kill:
                proc.kill()
            else:
                proc.stdin.close()
            proc.wait(timeout=10)
        except Exception:
            proc.kill()


class Pool:
    """``workers`` worker processes reading pages in turn from one queue (0: one thread of
    this process, with the process's engine). A worker starts on its first page, and may take
    ``seconds`` over a page of 4 megapixels (None: ``read_seconds()``), in proportion over a
    larger one, before it is taken for hung."""

    def __init__(self, workers: int, seconds: float | None = None) -> None:
        import queue

        self.workers = workers
        self.seconds = read_seconds() if seconds is None else seconds
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.calls = 0  # pages handed to the engine (a retry counts again)
        self.restarts = 0  # workers replaced after dying
        self._threads: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False

    def count(self) -> None:
        with self._lock:
            self.calls += 1

    def submit(self, page: Image | PILImage.Image) -> Future[Raw]:
        out: Future[Raw] = Future()
        with self._lock:
            if self._closed:
                raise OcrError("the OCR pool was shut down; pixelproof.ocr.configure() starts "
                               "a new one.")
            if self.workers == 0:
                if not self._threads:
                    threading.Thread(target=self._in_process, daemon=True,
                                     name="pixelproof-ocr").start()
                    self._threads.append(None)  # type: ignore[arg-type]
            elif len(self._threads) < self.workers:
                self._threads.append(_Worker(self, len(self._threads)))
        self.jobs.put((page, out))
        return out

    def _in_process(self) -> None:
        while (job := self.jobs.get()) is not None:
            page, out = job
            if out.set_running_or_notify_cancel():
                self.count()
                try:
                    out.set_result(engine().read_raw(
                        to_pil(page) if isinstance(page, Image) else page))
                except Exception as e:
                    out.set_exception(e)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the workers once the pages queued are read (``wait=False``: now, pages in
        flight abandoned, as at exit)."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self.jobs.put(None)
        for worker in threads:
            if worker is None:
                continue
            if not wait and worker.proc is not None:
                worker.proc.kill()
            else:
                worker.thread.join(timeout=60)

    @property
    def closed(self) -> bool:
        return self._closed

    def pids(self) -> list[int]:
        """The worker processes' ids (for tests and benches)."""
        return [w.proc.pid for w in self._threads if w is not None and w.proc is not None]


class Reader:
    """One read per page: results by sha256 in memory (the last KEEP) and in attached stores,
    reads in flight shared, new reads in the pool."""

    def __init__(self, workers: int | None = None, pool: Pool | None = None) -> None:
        self.pool = pool or Pool(default_workers() if workers is None else workers)
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, Future[OcrResult]] = OrderedDict()
        self.stores: list[ReadStore] = []

    def submit(self, image: Image | PILImage.Image) -> Future[OcrResult]:
        key = image.sha256 if isinstance(image, Image) else _pixels_sha(image)
        with self._lock:
            got = self._kept.get(key)
            if got is not None and not (got.done() and (got.cancelled() or
                                                         got.exception() is not None)):
                self._kept.move_to_end(key)
                return got
            out: Future[OcrResult] = Future()
            self._kept[key] = out
            while len(self._kept) > KEEP:
                self._kept.popitem(last=False)
        stored = self._stored(key)
        if stored is not None:
            out.set_result(layout(stored))
            return out
        try:
            raw = self.pool.submit(image)
        except BaseException as e:  # a shut-down pool: the failure is the answer
            out.set_exception(e)
            return out
        label = image.label if isinstance(image, Image) else "an image"
        raw.add_done_callback(lambda f: self._finish(key, f, out, label))
        return out

    def _stored(self, key: str) -> Raw | None:
        for store in list(self.stores):
            try:
                text = store.get_read(key, ENGINE_ID)
            except Exception:  # a closed or broken store is only a missed shortcut
                continue
            if text is not None:
                try:
                    return Raw.from_json(text)
                except (ValueError, TypeError):
                    continue
        return None

    def _finish(self, key: str, raw: Future[Raw], out: Future[OcrResult], label: str) -> None:
        try:
            result = raw.result()
            page = layout(result)
        except BaseException as e:
            out.set_exception(_named(e, label))
            return
        out.set_result(page)
        if self.stores:
            text = result.to_json()
            for store in list(self.stores):
                try:
                    store.put_read(key, ENGINE_ID, text)
                except Exception:  # noqa: S112 - keeping the read is best effort
                    continue

    @property
    def calls(self) -> int:
        return self.pool.calls

    def forget(self) -> None:
        """Drop the reads kept in memory (stores keep theirs)."""
        with self._lock:
            self._kept.clear()


def _pixels_sha(image: PILImage.Image) -> str:
    digest = hashlib.sha256(f"{image.mode}:{image.width}x{image.height}:".encode())
    digest.update(image.tobytes())
    return "pil:" + digest.hexdigest()


_reader: Reader | None = None
_reader_lock = threading.Lock()


def reader() -> Reader:
    """The process's reader (and its pool), created on first use."""
    global _reader
    with _reader_lock:
        if _reader is None:
            _reader = Reader()
            atexit.register(_close)
        return _reader


def _close() -> None:
    if _reader is not None:
        _reader.pool.shutdown(wait=False)


def configure(workers: int | None = None, pool: Pool | None = None) -> Reader:
    """Start over with ``workers`` OCR processes (None: ``default_workers()``), or with
    ``pool`` (anything with Pool's ``submit``, ``calls`` and ``shutdown``: pixelproof.ray's
    actors): the old pool is shut down and the reads kept in memory are dropped; attached
    stores stay attached."""
    global _reader
    with _reader_lock:
        old, _reader = _reader, Reader(workers, pool)
        if old is not None:
            _reader.stores = old.stores
    if old is not None:
        old.pool.shutdown()
    return _reader


@contextmanager
def remember_in(store: ReadStore | None) -> Iterator[None]:
    """Within the block, reads are looked up in ``store`` first and kept there."""
    if store is None:
        yield
        return
    stores = reader().stores
    stores.append(store)
    try:
        yield
    finally:
        stores.remove(store)


def submit(image: Image | PILImage.Image) -> Future[OcrResult]:
    """Start reading ``image`` now (unless it is read or being read); the Future's result is
    what ``read`` returns."""
    return reader().submit(image)


async def aread(image: Image | PILImage.Image) -> OcrResult:
    """``read`` for the event loop: waits without holding a thread."""
    import asyncio
    return await asyncio.wrap_future(submit(image))


def read(image: Image | PILImage.Image | str | Path) -> OcrResult:
    """Read the text of an image: a pixelproof Image (known by its sha256, so the cost
    planner, the verifier and the local answer share one read), a PIL image, or a file path
    (loaded like any input, so EXIF orientation is applied; a PDF's first page)."""
    if isinstance(image, str | Path):
        image = load(image)[0]
    return submit(image).result()
