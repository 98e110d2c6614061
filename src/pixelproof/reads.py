"""Reading pages for a face: the store's cache of what the offline engine read, the words
of many inputs printed (``pixelproof ocr``), and a data file checked against an image with
no model (``pixelproof verify``)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

import click

from . import formats, summary
from .batch import load_document
from .console import fail, load_inputs
from .errors import ConfigError, PixelproofError
from .store import Store
from .types import Image


@contextlib.contextmanager
def kept_reads() -> Iterator[None]:
    """Pages read in the block are looked up in the default store first and kept there (not
    kept when the store cannot be opened)."""
    from . import ocr as engine
    try:
        store: Store | None = Store()
    except PixelproofError:
        store = None
    try:
        with engine.remember_in(store):
            yield
    finally:
        if store is not None:
            store.close()


def read_words(image: Image, page: Any) -> dict[str, Any]:
    """``pixelproof ocr --json``'s record of one page: its size and every word with its box."""
    return {"source": image.source, "page": image.page, "width": page.width,
            "height": page.height, "words": [
                {"text": w.text, "box": [round(v, 1) for v in w.box],
                 "confidence": round(w.confidence, 3), "line": w.line} for w in page.words]}


def print_reads(images: tuple[str, ...], *, as_json: bool, tables: bool,
                pool: Any = None) -> None:
    """Read IMAGES with the offline engine (in ``pool`` when given, all at once) and print the
    text, the tables found (``tables``) or every word with its box (``as_json``); exits 1
    when an input could not be read."""
    from . import ocr as engine
    from .providers.local import answer_tables

    if pool is not None:
        engine.configure(pool=pool)

    loaded, failed = load_inputs(images)
    if not loaded:
        sys.exit(1)
    results = []
    with kept_reads():
        reading = [engine.submit(image) for image in loaded]  # all read at once, in the pool
        pages = [p.result() for p in reading]
    for image, page in zip(loaded, pages, strict=True):
        if as_json:
            results.append(read_words(image, page))
            continue
        if len(loaded) > 1:
            click.echo(f"== {image.label} ==")
        click.echo(answer_tables(page) if tables else page.text)
    if as_json:
        click.echo(json.dumps(results if len(images) > 1 or len(loaded) > 1 else results[0],
                              indent=1))
    if failed:
        sys.exit(1)


def check_file(image: str, data: str, *, show: bool, strict: bool, overlay: str | None,
               fmt: str) -> None:
    """Check DATA against IMAGE (every page of a document) with no model; the report on stdout
    as JSON (``fmt="json"``) or its summary line; exits 2 when IMAGE or DATA cannot be used,
    1 when ``strict`` and anything is flagged."""
    from .verify import draw_overlay, is_clean, load_data, overlay_ready, verify

    try:
        if image == data == "-":
            raise ConfigError("IMAGE and DATA cannot both be - (stdin); give one as a file.")
        pages = load_document(image)
        values = load_data(data, pages[0].label if len(pages) == 1 else image)
        if overlay:
            overlay_ready(overlay)
    except PixelproofError as e:
        fail(str(e))
        sys.exit(2)
    with kept_reads():
        rep = verify(pages, values).to_dict()
    if fmt == "json":
        click.echo(formats.to_json(rep), nl=False)
    click.echo(summary.report_text(pages[0].label if len(pages) == 1 else image, rep, show),
               err=fmt == "json")
    if overlay:
        draw_overlay(pages if len(pages) > 1 else pages[0], rep, overlay)
    if strict and not is_clean(rep):
        fail(summary.STRICT_FAILED)
        sys.exit(1)
