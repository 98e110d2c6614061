"""The shared reader: each image read once, in the worker pool.

``submit(image)`` hands back a Future of the page's OcrResult. Pages are known by the sha256
of their file (a PIL image by that of its pixels); a page already read, or being read, in
this process is not read again, nor is one found in an attached store (``remember_in``).
"""

from __future__ import annotations

import atexit
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from PIL import Image as PILImage

from ..images import load
from ..types import Image, OcrResult
from .engine import ENGINE_ID, named
from .layout import Raw, layout
from .pool import Pool, default_workers

# Reads kept in memory for the run, by sha256 (a page's read is about 50-150 kB of objects).
KEEP = 512


class ReadStore(Protocol):
    """Where reads outlive the process (store.Store): raw reads by sha256 and engine id."""

    def get_read(self, sha256: str, engine: str) -> str | None: ...

    def put_read(self, sha256: str, engine: str, raw: str) -> None: ...


class Reader:
    """One read per page: results by sha256 in memory (the last KEEP) and in attached stores,
    reads in flight shared, new reads in the pool."""

    def __init__(self, workers: int | None = None, pool: Pool | None = None) -> None:
        self.pool = pool or Pool(default_workers() if workers is None else workers)
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, Future[OcrResult]] = OrderedDict()
        self.stores: list[ReadStore] = []

    def submit(self, image: Image | PILImage.Image) -> Future[OcrResult]:
        key = image.sha256 if isinstance(image, Image) else pixels_sha(image)
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
        if isinstance(image, Image) and image.words is not None:
            out.set_result(text_layer(image))
            return out
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
            out.set_exception(named(e, label))
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


def text_layer(image: Image) -> OcrResult:
    """A PDF page's text layer as the page's read: its words, laid out as OCR words are."""
    assert image.words is not None
    quads = [[[x0, y0], [x1, y0], [x1, y1], [x0, y1]] for _, (x0, y0, x1, y1) in image.words]
    raw = Raw(image.width, image.height, quads,
              [(text, 1.0, quad) for (text, _), quad in zip(image.words, quads, strict=True)])
    return replace(layout(raw), read="text layer")


def pixels_sha(image: PILImage.Image) -> str:
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
