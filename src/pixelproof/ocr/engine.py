"""The engine: RapidOCR (PP-OCR models bundled in its wheel) with pixelproof's settings, the
detector's scale chosen per page, and what the models read reduced to a Raw."""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from typing import Any, Protocol

import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps

from ..errors import InputError, OcrError
from ..images import to_pil
from ..types import Image, OcrResult
from .layout import Raw, layout
from .strip import Strip

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
        strip = Strip.of(rgb)  # a very thin page is read cut up and stacked
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


log = logging.getLogger("pixelproof.ocr")
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


def _is_dark(image: PILImage.Image) -> bool:
    small = np.asarray(image.convert("L").resize((64, 64)))
    return float(np.median(small)) < 100


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


def named(error: BaseException, label: str) -> BaseException:
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


# What a stored read depends on: the models and settings (the layout is redone on load).
ENGINE_ID = "rapidocr-3.10.0;" + json.dumps(
    {k: v for k, v in SETTINGS.items() if "num_threads" not in k}, sort_keys=True) + \
    f";det_side={DET_SIDE},{SAFE_HEIGHT},{TARGET_HEIGHT};full-size crops"

