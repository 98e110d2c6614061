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
from dataclasses import dataclass
from decimal import Decimal
from difflib import SequenceMatcher
from typing import Any

from .. import formats, ocr, tables
from ..errors import ConfigError
from ..http import Http
from ..page import issuer, totals
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
            notes: list[str] = []
            text = json.dumps(fill(request.json_schema, pages, request.date_order, notes),
                              ensure_ascii=False, indent=1)
            text += "".join(f"\n\nNote: {note}" for note in notes)
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
    found = tables.find_tables(page)
    parts = [formats.to_markdown([dict(zip(_keys(t.header), row, strict=True)) for row in t.rows])
             for t in found]
    pairs = tables.key_values(page, found)
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


_NAME = re.compile(r"company|store|shop|merchant|vendor|seller|business|restaurant|supplier|"
                   r"issuer|payee|brand", re.I)
_ADDRESS = re.compile(r"addr|location", re.I)
_TOTAL = re.compile(r"total|amount|sum|due", re.I)


@dataclass
class _Pages:
    """What the engine read, as the filler looks it up."""

    pages: list[OcrResult]
    order: str | None = None  # how the dates are written, when told
    notes: list[str] | None = None  # what the reader could not settle, for the answer

    def __post_init__(self) -> None:
        self.pages = [tables.split_glued(p) for p in self.pages]
        found = [tables.find_tables(page) for page in self.pages]
        places = [tables.labels(page, ts) for page, ts in zip(self.pages, found, strict=True)]
        self.labels = [(k, v) for page in places for k, v, _ in page]
        self.placed = [(k, v) for page in places for k, v, _ in sorted(
            page, key=lambda p: (p[2][1] + p[2][3]) / 2)]  # in the pages' order
        self.figures = [n for page in places for _, v, _ in sorted(page, key=lambda p: p[2][1])
                        if (n := totals.figure(v)) is not None]  # in the pages' order
        self.tables = [t for ts in found for t in ts]
        self.texts = [" ".join(w.text for w in line) for p in self.pages for line in p.lines]
        self.order = self.order or formats.date_order(self.texts)
        self.head = issuer.header(self.pages[0]) if self.pages else ("", "")


def fill(schema: dict[str, Any], pages: list[OcrResult], date_order: str | None = None,
         notes: list[str] | None = None) -> Any:
    """A value for ``schema`` from what was read: fields by label (the store's name and address
    from the head of a receipt, a date anywhere), rows by column header. A value that does not
    read as its field's type is left null. Numeric dates are read in ``date_order`` ("dmy",
    "mdy", "ymd"), else in the order the page shows (``formats.date_order``); a date that reads
    both ways on a page that does not say is left as printed, with a line in ``notes``."""
    if date_order not in (None, "dmy", "mdy", "ymd"):
        raise ConfigError(f"date_order {date_order!r} is not one of dmy, mdy, ymd.")
    return _fill(schema, schema.get("$defs", {}), _Pages(pages, date_order, notes))


def _fill(schema: dict[str, Any], defs: dict[str, Any], found: _Pages, name: str = "") -> Any:
    if "$ref" in schema:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
    for option in schema.get("anyOf", []):
        if option.get("type") != "null":
            return _fill(option, defs, found, name)
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else (kinds or [])
    if "object" in kinds or "properties" in schema:
        return {key: _fill(sub, defs, found, key)
                for key, sub in schema.get("properties", {}).items()}
    if "array" in kinds:
        item = schema.get("items", {})
        if "$ref" in item:
            item = defs.get(item["$ref"].rsplit("/", 1)[-1], {})
        props = list(item.get("properties", {}))
        rows = _rows(props, found.tables) if props else []
        if rows or not props:
            return rows
        record = _fill(item, defs, found, name)  # fields that are no table's columns
        return [record] if any(v is not None for v in record.values()) else []
    kind = next((k for k in kinds if k != "null"), "string")
    return _typed(_field(name, kind, schema.get("format"), found), kind, schema.get("format"),
                  found, name)


def _field(name: str, kind: str, fmt: str | None, found: _Pages) -> Any:
    """The printed text for field ``name``: at a label that names it, else by its role."""
    places = [v for k, v in found.labels if tables.fits(name, k)]
    if kind in ("number", "integer"):
        numbers = [n for v in places if (n := totals.figure(v)) is not None]
        if _is_total(name) and (numbers or not places):  # not at a label of words
            return totals.total(name, found.placed, found.figures)
        return numbers[0] if numbers else None
    if fmt == "date" or "date" in name.lower():
        dates = [d for v in places for d in formats.find_dates(v)] or [
            d for text in found.texts for d in formats.find_dates(text)] or [
            d for text in found.texts if re.search(r"\bdate", text, re.I) for d in re.findall(
                r"(?<!\d)(?:19|20)\d{6}(?!\d)", text) if formats.parse_date(d)]  # "20180428"
        return dates[0] if dates else None
    if places:
        return places[0]
    if _ADDRESS.search(name):
        return found.head[1] or None
    if _NAME.search(name) and not re.search(r"\b(no|number|id|tel|phone)\b", _norm(name)):
        return found.head[0] or None
    index = _best(name, [k for k, _ in found.labels]) if name else None
    return found.labels[index][1] if index is not None else None


def _is_total(name: str) -> bool:
    """Whether field ``name`` is a document's total ("total", "amount_due"), not another
    amount ("tax_amount", "tip_amount", "subtotal")."""
    return bool(_TOTAL.search(name)) and not tables.qualified(name) and not tables.fits(
        "subtotal", name)


def _typed(value: Any, kind: str, fmt: str | None, found: _Pages, name: str) -> Any:
    """``value`` as its field's type, or None when it does not read as one; an ambiguous date
    on a page that does not show its order stays as printed."""
    if value is None:
        return None
    if kind in ("number", "integer"):
        number = value if isinstance(value, Decimal) else totals.figure(str(value))
        if number is None or kind == "integer" and number != number.to_integral_value():
            return None
        return int(number) if kind == "integer" else float(number)
    if kind == "boolean":
        coerced = formats.coerce(value, "boolean")
        return coerced if isinstance(coerced, bool) else None
    if fmt == "date":
        dates = formats.find_dates(str(value)) or [str(value)]
        parsed = formats.parse_date(dates[0], found.order) if dates else None
        if parsed is None and dates and formats.ambiguous(dates[0]):
            if found.notes is not None:
                found.notes.append(f"{name}: {dates[0]!r} left as printed: the page does not "
                                   "show whether the day or the month comes first (give "
                                   "date_order, --date-order dmy|mdy|ymd)")
            return dates[0]
        return parsed.isoformat() if parsed else None
    return str(value)


def _rows(props: list[str], found: list[Any]) -> list[dict[str, Any]]:
    """Rows of the table whose header matches at least half of ``props`` (most first);
    unmatched fields stay null."""
    best: tuple[int, list[dict[str, Any]]] = (0, [])
    for table in found:
        columns = {p: _best(p, list(table.header), 0.75) for p in props}
        matched = sum(c is not None for c in columns.values())
        if matched > best[0] and 2 * matched >= len(props):
            rows = [{p: (row[c] or None) if c is not None else None for p, c in columns.items()}
                    for row in table.rows]
            best = (matched, rows)
    return best[1]


# --- where each value was read, for the notebook view ----------------------------------------

def places(data: Any, page: OcrResult) -> list[dict[str, Any]]:
    """Each value of an offline answer (``data``, as ``fill`` or the tables answer made it) with
    the box of the words it was read from on ``page``: ``{"path", "value", "box", "ocr_text"}``
    (no box where the words are not found, such as a total the page's arithmetic chose)."""
    words = [w for line in page.lines for w in line]
    plain = [re.sub(r"[\W_]+", "", w.text.casefold()) for w in words]
    used: set[int] = set()
    out = []
    for path, value in _leaves(data, ""):
        run = _run(value, words, plain, used)
        used |= set(run)
        out.append({"path": path, "value": value, "box": tables._union(
            [words[k].box for k in run]) if run else None,
                    "ocr_text": " ".join(words[k].text for k in run)})
    return out


def _leaves(data: Any, path: str) -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        return [leaf for k, v in data.items() for leaf in _leaves(v, f"{path}.{k}".lstrip("."))]
    if isinstance(data, list):
        return [leaf for n, v in enumerate(data) for leaf in _leaves(v, f"{path}[{n}]")]
    return [] if data is None else [(path, data)]


def _run(value: Any, words: list[Any], plain: list[str], used: set[int]) -> list[int]:
    """The indexes of the first unused run of ``words`` that prints ``value``: a number or a
    date as any of its printed forms, text word for word (spaces and marks aside)."""
    want = re.sub(r"[\W_]+", "", str(value).casefold())
    iso = formats.parse_date(value) if isinstance(value, str) and re.fullmatch(
        r"\d{4}-\d\d-\d\d", value) else None
    for start in range(len(words)):
        if start in used:
            continue
        if isinstance(value, int | float) and not isinstance(value, bool) or iso:
            for end in range(start + 1, min(start + 4, len(words)) + 1):
                if words[end - 1].line != words[start].line:
                    break
                text = " ".join(w.text for w in words[start:end])
                number = None if iso else totals.figure(text)
                if iso and any(formats.parse_date(d, way) == iso for d in formats.find_dates(
                        text) for way in ("dmy", "mdy")) or number is not None and float(
                        number) == float(value):
                    return list(range(start, end))
            continue
        joined, end = "", start
        while end < len(words) and want.startswith(joined + plain[end]) and (
                plain[end] or joined):
            joined += plain[end]
            end += 1
            if joined == want:
                return list(range(start, end))
    return []
