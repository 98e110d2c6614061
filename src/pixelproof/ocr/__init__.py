"""The offline OCR engine: RapidOCR (PP-OCR models bundled in its wheel) on onnxruntime.

``read(image)`` returns words with boxes in the original image's pixels, confidences, and the
visual line each belongs to, in reading order (``layout``). Pages are read in a pool of worker
processes (``pool``), each page once (``submit``/``read``/``aread``, remembered by sha256 for
the run and in the store: ``reader``). ``engine`` holds RapidOCR and its settings, ``strip``
the reading of very thin pages.
"""

from ..errors import OcrError
from ..types import OcrResult
from .engine import (
    DEFAULTS,
    ENGINE_ID,
    SETTINGS,
    Engine,
    RapidEngine,
    engine,
    engine_error,
    from_rapidocr,
    raw_of,
    worker_read,
)
from .layout import Raw, layout
from .pool import Pool, cores, default_workers, read_seconds
from .reader import (
    Reader,
    ReadStore,
    aread,
    configure,
    read,
    reader,
    remember_in,
    submit,
)

__all__ = [
    "DEFAULTS", "ENGINE_ID", "SETTINGS", "Engine", "OcrError", "OcrResult", "Pool",
    "RapidEngine", "Raw", "ReadStore", "Reader", "aread", "configure", "cores",
    "default_workers", "engine", "engine_error", "from_rapidocr", "layout", "raw_of", "read",
    "read_seconds", "reader", "remember_in", "submit", "worker_read",
]
