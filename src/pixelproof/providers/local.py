"""The ``local`` model: the offline OCR engine answering like a provider, with no key and no cost.

``extract`` gets the tables it finds as Markdown and the labelled values as a key/value table;
with a schema it fills the fields it can match by label or column header and leaves the rest null.
``describe`` says honestly what it can see: size, the text read and the tables found.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from difflib import SequenceMatcher
from typing import Any

from .. import formats, ocr, tables
from ..http import Http
from ..types import Image, OcrResult, Request, Response, Usage
from . import Target


class Local:
    async def complete(self, request: Request, target: Target, http: Http) -> Response:
        start = time.perf_counter()
        pages = list(await asyncio.gather(*(ocr.aread(im) for im in request.images)))
        if request.task == "describe":
            text = "\n\n".join(describe(im, page) for im, page in zip(request.images, pages,
                                                                        strict=True))
        elif request.json_schema is not None:
            text = json.dumps(fill(request.json_schema, pages), ensure_ascii=False, indent=1)
        else:
            text = "\n\n".join(answer_tables(page) for page in pages)
        return Response(text=text, model="local", usage=Usage(), finish_reason="stop",
                        seconds=time.perf_counter() - start, cost=Decimal(0))

    async def stream(self, request: Request, target: Target,
                     http: Http) -> AsyncIterator[str | Response]:
        response = await self.complete(request, target, http)
        yield response.text
        yield response


def describe(image: Image, page: OcrResult) -> str:
    found = tables.find_tables(page)
    lines = [f"{image.label}: a {image.width}x{image.height} {image.mime.split('/')[-1].upper()} "
             "image, read by pixelproof's offline OCR engine."]
    if page.words:
        lines.append(f"Text ({len(page.lines)} lines):")
        lines += [f"  {line}" for line in page.text.splitlines()]
    else:
        lines.append("No text was found.")
    if found:
        shapes = ", ".join(f"{len(t.rows)} rows x {len(t.header)} columns" for t in found)
        lines.append(f"Tables: {len(found)} ({shapes}).")
    lines.append("The local engine reads text only; to understand the scene (objects, people, "
                 "charts), use a vision model, for example -m openai:gpt-4o-mini.")
    return "\n".join(lines)


def answer_tables(page: OcrResult) -> str:
    """Every table as Markdown, then the labelled values as a key/value table."""
    parts = [formats.to_markdown([dict(zip(_keys(t.header), row, strict=True)) for row in t.rows])
             for t in tables.find_tables(page)]
    pairs = tables.key_values(page)
    if pairs:
        parts.append(formats.to_markdown([{"key": k, "value": v} for k, v, _ in pairs]))
    return "\n".join(parts) or "| key | value |\n|---|---|\n"  # nothing found: no rows


def _keys(header: Any) -> list[str]:
    return [h or f"column_{n}" for n, h in enumerate(header, 1)]


# --- schema filling --------------------------------------------------------------------------

def _norm(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", label.lower()).strip()


def _similar(a: str, b: str) -> float:
    a, b = _norm(a), _norm(b)
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    if set(a.split()) <= set(b.split()) or set(b.split()) <= set(a.split()):
        return 0.9
    return SequenceMatcher(None, a, b).ratio()


def _best(name: str, labels: list[str], threshold: float = 0.8) -> int | None:
    scored = [(_similar(name, label), i) for i, label in enumerate(labels)]
    score, index = max(scored, default=(0.0, None))
    return index if score >= threshold else None


def fill(schema: dict[str, Any], pages: list[OcrResult]) -> Any:
    """A value for ``schema`` from what was read: fields by label, rows by column header."""
    pairs = [(k, v) for page in pages for k, v, _ in tables.key_values(page)]
    found = [t for page in pages for t in tables.find_tables(page)]
    return _fill(schema, schema.get("$defs", {}), pairs, found)


def _fill(schema: dict[str, Any], defs: dict[str, Any], pairs: list[tuple[str, str]],
          found: list[Any], name: str = "") -> Any:
    if "$ref" in schema:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
    for option in schema.get("anyOf", []):
        if option.get("type") != "null":
            return _fill(option, defs, pairs, found, name)
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else (kinds or [])
    if "object" in kinds or "properties" in schema:
        return {key: _fill(sub, defs, pairs, found, key)
                for key, sub in schema.get("properties", {}).items()}
    if "array" in kinds:
        item = schema.get("items", {})
        if "$ref" in item:
            item = defs.get(item["$ref"].rsplit("/", 1)[-1], {})
        props = list(item.get("properties", {}))
        return _rows(props, found) if props else []
    index = _best(name, [k for k, _ in pairs]) if name else None
    return pairs[index][1] if index is not None else None


def _rows(props: list[str], found: list[Any]) -> list[dict[str, Any]]:
    """Rows of the table whose header matches most of ``props``; unmatched fields stay null."""
    best: tuple[int, list[dict[str, Any]]] = (0, [])
    for table in found:
        columns = {p: _best(p, list(table.header), 0.75) for p in props}
        matched = sum(c is not None for c in columns.values())
        if matched > best[0]:
            rows = [{p: (row[c] or None) if c is not None else None for p, c in columns.items()}
                    for row in table.rows]
            best = (matched, rows)
    return best[1]
