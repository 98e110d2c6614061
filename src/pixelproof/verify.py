"""Check extracted values against the pixels and against the document's own arithmetic.

Each value is looked up among the words the local OCR engine reads from the same image:
numbers by exact value, read with the rest of their cell (a changed, swapped or dropped digit,
sign or decimal point never passes; "(12.00)", "12.00-", "- 12.00" and "12.00 DR" are
negative), dates in any common format read the page's way round (day first when a printed
date says so), text loosely but with exact digits. A table row is found on the printed line
that holds most of its values (each line stands for one row); a value missing there is
compared with its cell, located by that line and the column's x range learnt from the other
rows. A labelled field is looked for next to its label. Each value ends ``verified`` (with
the box and text that support it), ``unverified`` (nothing supports it) or ``contradicted``
(its place on the page reads differently). Line totals, sums, subtotal + tax, running balances
(opening to closing) and total rows are checked as well; ``vote`` compares several answers.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from datetime import date
from decimal import Decimal
from difflib import SequenceMatcher
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from . import align, formats, tables
from .errors import ConfigError
from .types import Image, OcrResult, Word

Status = Literal["verified", "unverified", "contradicted"]
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Check:
    path: str
    value: Any
    status: Status
    box: Box | None = None
    ocr_text: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Arithmetic:
    name: str
    ok: bool
    expected: str
    found: str
    paths: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class Vote:
    path: str
    agreement: float
    answers: tuple[Any, ...]


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]
    arithmetic: tuple[Arithmetic, ...] = ()
    votes: tuple[Vote, ...] = field(default=())
    image: Image | None = field(default=None, repr=False, compare=False)  # what was checked

    def _repr_html_(self) -> str:
        from .view import report_html
        return report_html(self, self.image)

    def count(self, status: Status) -> int:
        return sum(c.status == status for c in self.checks)

    @property
    def counts(self) -> dict[str, int]:
        return {s: self.count(s) for s in ("verified", "unverified", "contradicted")}

    @property
    def flagged(self) -> list[Check]:
        return [c for c in self.checks if c.status != "verified"]

    @property
    def ok(self) -> bool:
        return not self.flagged and all(a.ok for a in self.arithmetic) and all(
            v.agreement == 1 for v in self.votes)

    def summary(self) -> str:
        sums = ("totals check: none found" if not self.arithmetic else
                "totals check: passed" if all(a.ok for a in self.arithmetic) else
                f"totals check: failed ({sum(not a.ok for a in self.arithmetic)} of "
                f"{len(self.arithmetic)})")
        text = (f"{len(self.checks)} values: {self.count('verified')} verified, "
                f"{self.count('unverified')} unverified, {self.count('contradicted')} "
                f"contradicted; {sums}")
        split = sum(v.agreement < 1 for v in self.votes)
        return text + (f"; votes split on {split} of {len(self.votes)} fields" if self.votes
                       else "")

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary(), **self.counts,
                "checks": [asdict(c) for c in self.checks],
                "arithmetic": [asdict(a) for a in self.arithmetic],
                "votes": [asdict(v) for v in self.votes]}


# --- reading the page -----------------------------------------------------------------------

@dataclass(frozen=True)
class _Span:
    text: str
    box: Box
    line: int
    number: Decimal | None  # what the span says as a number, read with the rest of its cell


def _spans(page: OcrResult, longest: int = 6) -> list[_Span]:
    """Every run of up to ``longest`` neighbouring words on a line, so that a value split
    over several words ("ACME  Corp.", "$ 3.20") can be found. A number is read together
    with the rest of its cell, so that "12.00" never stands for "- 12.00" or "1, 212.00"."""
    out = []
    for n, line in enumerate(page.lines):
        cells = [(c.box, _cell_number(c.text)) for c in tables.cells_of(line)]
        for i in range(len(line)):
            for j in range(i + 1, min(len(line), i + longest) + 1):
                text, box = " ".join(w.text for w in line[i:j]), _union(line[i:j])
                number = _cell_number(text)
                cell = next((c for c in cells if _inside(box, c[0])), None)
                if cell and cell[1] is not None and re.search(r"\d", text):
                    number = cell[1]
                out.append(_Span(text, box, n, number))
    lines = [tables.cells_of(line) for line in page.lines]
    for n, (above, below) in enumerate(zip(lines, lines[1:], strict=False)):
        out += [_Span(f"{a.text} {b.text}", _union_boxes(a.box, b.box), n, None)
                for a in above for b in below if min(a.box[2], b.box[2]) > max(
                    a.box[0], b.box[0])]  # a cell wrapped onto the next line
    return out


def _union_boxes(a: Box, b: Box) -> Box:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _cell_number(text: str) -> Decimal | None:
    """A cell's number; "12.00 DR" is negative, "1, 234.50" (split by the reader) 1234.50;
    marks around it are not part of it: "28.00*", "9.99 T", ".85 T2", "4x", "x2", "#24881",
    "@2.70"; "16 . 10" is 16.10 and ".88" 0.88."""
    text = re.sub(r"(?<=\d)\s*([,.])\s*(?=\d)", r"\1", text).strip()
    if m := re.fullmatch(r"(.*?\d)\s*(dr|cr)\.?", text, re.I):
        number = formats.parse_number(m[1])
        return -number if number is not None and m[2].lower() == "dr" else number
    text = re.sub(r"^([-($]?)[.,](\d\d)\b", r"\g<1>0.\2", text)  # ".88" is 0.88
    number = formats.parse_number(text)
    for mark in (r"(?:[#@x×]\s*|[ES](?=\d+[.,]\d\d$))(.*\d.*)",  # E5.99: how OCR reads £5.99
                 r"(.*\d[.,]\d\d)\s*(?:\*+|[a-z]{1,2}\d?)", r"(\d+)\s*[x×]"):
        if number is None and (m := re.fullmatch(mark, text, re.I)):
            number = formats.parse_number(m[1])
    return number


def _union(words: list[Word]) -> Box:
    return (min(w.box[0] for w in words), min(w.box[1] for w in words),
            max(w.box[2] for w in words), max(w.box[3] for w in words))


def _text_key(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


def _as_number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    if isinstance(value, str) and re.search(r"\d", value) and not re.search(r"\d[/]\d", value):
        return formats.parse_number(value)
    return None


def _same_date(value: str, printed: str, dayfirst: bool | None) -> bool | None:
    """Whether two dates agree, each read the same way round (day first, or month first when
    the page does not say), so that a swapped day and month never passes. None when ``value``
    is not a date."""
    if formats.parse_date(value, True) is None:
        return None
    found = formats.find_dates(printed)
    if len(found) != 1 or len(printed) > len(found[0]) + 12:
        return False  # one date, with a time or a word beside it at most
    ways = (dayfirst,) if dayfirst is not None or re.search(r"\d\.\d+\.\d", found[0]) else (
        True, False)  # "12.03.2024" is day first
    return any(formats.parse_date(found[0], way) == formats.parse_date(value, way) is not None
               for way in ways)


def _matches(value: Any, span: str, dayfirst: bool | None = None) -> bool:
    """Whether printed ``span`` says ``value``: numbers by value, dates by date (read the
    page's way round when it shows one), text loosely but with every digit exact."""
    span = span.strip().strip(":;,")
    number = _as_number(value)
    if number is not None:
        return _cell_number(span) == number
    if not isinstance(value, str) or not value.strip():
        return False
    same = _same_date(value.strip(), span, dayfirst)
    if same is not None:
        return same
    return _same_text(value, span)


def _same_text(value: str, printed: str) -> bool:
    """Whether ``printed`` says ``value`` word for word, allowing OCR's letter noise only."""
    a, b = align.fold(value), align.fold(printed)
    if a == b:
        return bool(a)
    if not a or abs(len(a) - len(b)) > max(2, len(a) // 4) or re.findall(
            r"\d", a) != re.findall(r"\d", b):
        return False
    match = align.locate(value, printed.split())
    return match is not None and match.ok and match.score >= 0.75


def _says(value: Any, span: _Span, dayfirst: bool | None) -> bool:
    """Whether ``span`` says ``value``: numbers as read with their cell, the rest as text."""
    number = _as_number(value)
    if number is not None:
        return span.number == number
    return _matches(value, span.text, dayfirst)


def _magnitude_match(value: Any, span: _Span) -> bool:
    """The same number with the other sign ("12.00" for -12.00), as printed in a debit
    column or written with the sign elsewhere."""
    number = _as_number(value)
    return number is not None and span.number is not None and span.number == -number != 0


_DEBIT = re.compile(r"debit|withdraw|paid out|payment|charge|out\b|spent", re.I)


# --- grounding -----------------------------------------------------------------------------

def _plain(data: Any) -> Any:
    """``data`` as plain JSON values: Pydantic objects and dataclasses dumped, dates ISO."""
    if hasattr(data, "model_dump"):
        return data.model_dump(mode="json")
    if is_dataclass(data) and not isinstance(data, type):
        data = asdict(data)
    if isinstance(data, dict):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_plain(v) for v in data]
    return data.isoformat() if isinstance(data, date) else data


def _leaves(data: Any, path: str = "") -> list[tuple[str, str, Any]]:
    """(path, field name, value) for every scalar in plain ``data``."""
    if isinstance(data, dict):
        out = []
        for k, v in data.items():
            out += _leaves(v, f"{path}.{k}" if path else str(k)) if isinstance(
                v, dict | list) else [(f"{path}.{k}" if path else str(k), str(k), v)]
        return out
    if isinstance(data, list):
        return [leaf for n, v in enumerate(data) for leaf in _leaves(v, f"{path}[{n}]")]
    return [(path or "value", "", data)]


def _rows(data: Any, path: str = "") -> list[tuple[str, list[dict[str, Any]]]]:
    """Every list of row objects in plain ``data``, with its path."""
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return [(path, data)]
    if isinstance(data, dict):
        return [r for k, v in data.items() for r in _rows(v, f"{path}.{k}" if path else k)]
    return []


def verify(image: Image | Any, data: Any, *, ocr: OcrResult | None = None) -> Report:
    """Check ``data`` (rows, nested JSON or Pydantic objects, from any source) against what the
    local engine reads in ``image`` (a path, bytes, an Image or a PIL image); returns a Report
    with a Check per value."""
    if ocr is None:
        from .images import load
        from .ocr import read
        if isinstance(image, str | bytes) or hasattr(image, "__fspath__"):
            image = load(image)[0]
        ocr = read(image)
    return check(image, data, ocr=ocr)


def check(image: Image | Any, data: Any, *, ocr: OcrResult | None = None) -> Report:
    """``verify`` for an already loaded image."""
    if ocr is None:
        from .ocr import read
        ocr = read(image)
    ocr = tables.split_glued(ocr)
    page = _Page(_spans(ocr), ocr.lines, formats.day_first(
        [w.text for w in ocr.words if formats.parse_date(w.text, True)]))  # not "05-67-12"
    labels = tables.labels(ocr)
    data = _plain(data)
    checks: dict[str, Check] = {}
    for rows_path, rows in _rows(data):
        if {"key", "value"} <= set(rows[0]):
            continue  # a key/value table: checked as labelled fields below
        checks.update(_check_table(rows_path, rows, page))
    for path, name, value in _leaves(data):
        if path in checks or value is None or isinstance(value, bool) or value == "":
            continue
        key_value = path.endswith(".value") and isinstance(_parent(data, path), dict)
        label = str(_parent(data, path).get("key", "")) if key_value else name
        checks[path] = _check_field(path, label, value, page, labels)
    ordered = [checks[p] for p, _, _ in _leaves(data) if p in checks]
    return Report(tuple(ordered), tuple(_explained(a, labels) for a in arithmetic(data)),
                  image=image if isinstance(image, Image) else None)


def _explained(sum_: Arithmetic, labels: list[tuple[str, str, Box]]) -> Arithmetic:
    """A column total that failed because the printed total holds tax the answer left out: it
    passes when the page prints the lines' sum as a subtotal and taxes or charges that make up
    the difference."""
    if sum_.ok or "column total" not in sum_.name:
        return sum_
    expected, found = (Decimal(x.replace(",", "")) for x in (sum_.expected, sum_.found))
    figures = [(label, _cell_number(text)) for label, text, _ in labels]
    subtotal = [x for label, x in figures if tables.fits("subtotal", label) and x == expected]
    extras = [(label, x) for label, x in figures if x is not None and _EXTRA.search(
        _text_key(label)) and not tables.fits("subtotal", label)]
    if subtotal and extras and abs(expected + sum(x for _, x in extras) - found) <= Decimal(
            "0.011"):
        printed = ", ".join(f"{label} {x}" for label, x in extras)
        return replace(sum_, ok=True, note=f"the page prints the lines' sum as the subtotal, "
                       f"and {printed} make up the total")
    return sum_


@dataclass(frozen=True)
class _Page:
    spans: list[_Span]
    lines: list[list[Word]]
    dayfirst: bool | None  # how the page writes its slash dates, when one tells

    def find(self, value: Any) -> list[_Span]:
        return [s for s in self.spans if _says(value, s, self.dayfirst)]

    @cached_property
    def words(self) -> tuple[list[Word], list[int]]:
        """The words in reading order, and the cell each is in (a label's colon ends one)."""
        words: list[Word] = []
        cells: list[int] = []
        for line in self.lines:
            for group in tables.word_groups(line):
                for n, word in enumerate(group):
                    new = not cells or n == 0 or group[n - 1].text.endswith(":")
                    words.append(word)
                    cells.append(cells[-1] + new if cells else 0)
        return words, cells

    def locate(self, value: str) -> tuple[align.Match | None, list[Word]]:
        """Where text ``value`` is printed, and the words it covers there."""
        words, cells = self.words
        match = align.locate(value, [w.text for w in words], cells, [w.line for w in words])
        return match, [words[n] for n in match.words] if match else []


def _parent(data: Any, path: str) -> Any:
    node = data
    for part in re.findall(r"\[(\d+)\]|([^.\[\]]+)", path)[:-1]:
        node = node[int(part[0])] if part[0] else node[part[1]]
    return node


@dataclass(frozen=True)
class _Row:
    cells: dict[str, Any]
    found: dict[str, list[_Span]]
    line: int | None  # the line that holds most of the row's values
    support: int  # how many of its values are on that line
    repeats: int | None = None  # the row whose line this one claims too

    def hit(self, key: str, column: _Column | None = None) -> _Span | None:
        """The value's shortest match on the row's line, or a text's on the line above (in its
        column, when the column is known), when the row was found."""
        lines = (self.line, (self.line or 0) - 1) if _kind(self.cells[key]) == "text" else (
            self.line,)
        on_line = [s for s in self.found[key] if s.line in lines and (
            column is None or _overlap(s.box, column) > 0)]
        if on_line and self.repeats is None and (len(self.cells) == 1 or self.support >= 2):
            return min(on_line, key=lambda s: len(s.text))
        return None


_Column = tuple[float, float]  # x0, x1


def _column(boxes: list[Box], header: Box | None) -> _Column | None:
    """A column's x range from its values' boxes: those under its header, else those that
    line up with at least half of the others (a value found in another column does not
    widen it)."""
    under = [b for b in boxes if header and _overlap(b, (header[0], header[2])) > 0]
    if under or header and len(boxes) < 2:
        agreed = [header, *under]  # type: ignore[list-item]
    else:  # no header, or one set off from its values: the values that line up
        agreed = [b for b in boxes if 2 * sum(_overlap(b, (o[0], o[2])) > 0 for o in boxes) >=
                  len(boxes) + 1]
    return (min(b[0] for b in agreed) - 4, max(b[2] for b in agreed) + 4) if agreed else None


def _header(key: str, top: int, page: _Page) -> Box | None:
    """The box of the column header named like ``key``, on the nearest line above line
    ``top`` (the table's first row) that has one."""
    name = _text_key(key)
    heads = [s for s in page.spans if s.line < top and s.number is None and name and
             SequenceMatcher(None, name, _text_key(s.text)).ratio() >= 0.8]
    return max(heads, key=lambda s: s.line).box if heads else None


def _overlap(box: Box, column: _Column) -> float:
    return min(box[2], column[1]) - max(box[0], column[0])


def _check_table(path: str, rows: list[dict[str, Any]], page: _Page) -> dict[str, Check]:
    """A table's values, each looked for on the line that holds most of its row; a value that
    is not there is compared with what its cell (its row's line, its column's x range, learnt
    from the other rows) reads."""
    seen = []
    for row in rows:
        cells = {k: v for k, v in row.items() if v not in (None, "")
                 and not isinstance(v, bool) and k not in ("table", "source", "page")}
        hits = {k: page.find(v) for k, v in cells.items()}
        seen.append((cells, hits, Counter(line for k, spans in hits.items() for line in {
            s.line + up for s in spans for up in ((0, 1) if _kind(cells[k]) == "text" else (0,))
        })))  # a description may be printed on the line above its figures
    found = [_Row({}, {}, None, 0)] * len(seen)
    taken: dict[int, int] = {}  # each printed line stands for one row: best supported first
    for n in sorted(range(len(seen)), key=lambda n: -max(seen[n][2].values(), default=0)):
        cells, hits, votes = seen[n]
        support = max(votes.values(), default=0)
        lines = sorted(line for line, v in votes.items() if v == support)
        free = [line for line in lines if line not in taken]
        line = (free or lines)[0] if lines else None
        if line is not None and free and support >= 2:
            taken[line] = n
        repeats = taken[line] if line is not None and not free and support >= 2 else None
        found[n] = _Row(cells, hits, line, support, repeats)
    boxes: dict[str, list[Box]] = {}
    for row in found:
        for key in row.cells:
            if (hit := row.hit(key)) is not None:
                boxes.setdefault(key, []).append(hit.box)
    top = min((r.line for r in found if r.line is not None), default=0)
    columns = {k: _column(b, _header(k, top, page)) for k, b in boxes.items()}
    negative = {k for r in found for k in r.cells if _mostly_negative([x.get(k) for x in rows])}
    out = {}
    for n, row in enumerate(found):
        for key, value in row.cells.items():
            out[f"{path}[{n}].{key}"] = _check_cell(f"{path}[{n}].{key}", key, value, row,
                                                    columns.get(key), key in negative, page)
    return out


def _mostly_negative(values: list[Any]) -> bool:
    numbers = [x for v in values if (x := _num(v))]
    return bool(numbers) and sum(x < 0 for x in numbers) * 2 > len(numbers)


def _check_cell(path: str, key: str, value: Any, row: _Row, column: _Column | None,
                negative: bool, page: _Page) -> Check:
    """One table value: on its row's line in its column, else compared with what its cell
    reads."""
    hit = row.hit(key, column)
    if hit is not None:
        return Check(path, value, "verified", hit.box, hit.text, _order_note(value, hit.text,
                                                                              page))
    if row.line is None or row.support < 2:
        return Check(path, value, "unverified", None, None, "this row was not found in the image")
    if row.repeats is not None:
        return Check(path, value, "unverified", None, None, "its row is printed once, as "
                     f"{path.rsplit('[', 1)[0]}[{row.repeats}]: a row given twice")
    flipped = [s for s in page.spans if s.line == row.line and _magnitude_match(value, s)
               and (not column or _overlap(s.box, column) > 0)]
    if flipped and negative and _DEBIT.search(key) and _as_number(value) < 0:  # type: ignore
        return Check(path, value, "verified", flipped[0].box, flipped[0].text,
                     "printed without its sign in a debit column")
    if flipped:
        return Check(path, value, "contradicted", flipped[0].box, flipped[0].text,
                     "the sign differs from the page")
    elsewhere = "; the value is printed in another column" if row.hit(key) else ""
    if column:
        words = [w for w in page.lines[row.line]
                 if 2 * _overlap(w.box, column) >= w.box[2] - w.box[0]]
        if words:
            text = " ".join(w.text for w in words)
            return Check(path, value, "contradicted", _union(words), text,
                         f"its cell reads {text!r}{elsewhere}")
        return Check(path, value, "unverified", None, None,
                     f"its cell is empty in the image{elsewhere}")
    return Check(path, value, "unverified", None, None, "not on its row's line in the image")


def _check_field(path: str, name: str, value: Any, page: _Page,
                 labels: list[tuple[str, str, Box]]) -> Check:
    """A labelled value: ``verified`` when a place that fits it supports it (a label that names
    the field, printing a value of the same kind), ``contradicted`` when every such place reads
    differently; with no such place, looked for anywhere on the page."""
    kind = _kind(value)
    near = [(text, box) for label, text, box in labels
            if tables.fits(name, label) and _kind_of_printed(text, kind)]
    for text, box in near:
        if _at_label(value, text, box, page):
            return Check(path, value, "verified", box, text, _order_note(value, text, page))
    if kind == "text" and not near:
        return _check_text(path, value, page)
    if near:
        text, box = near[0]
        return Check(path, value, "contradicted", box, text, f"'{name}' reads '{text}'")
    hits = page.find(value)
    if hits:
        hit = min(hits, key=lambda s: len(s.text))
        return Check(path, value, "verified", hit.box, hit.text,
                     _order_note(value, hit.text, page) or "found on the page")
    return Check(path, value, "unverified", None, None, "not found in the image")


def _check_text(path: str, value: str, page: _Page) -> Check:
    """A text value where the page prints it best: every word in order, OCR noise allowed."""
    match, words = page.locate(value)
    if match is None or match.score < 0.5:
        return Check(path, value, "unverified", None, None, "not found in the image")
    box, text = _union(words), " ".join(w.text for w in words)
    if match.wrong:
        differ = ", ".join(f"'{a}' reads '{b}'" for a, b in match.wrong)
        return Check(path, value, "contradicted", box, text, differ)
    if match.extra:
        return Check(path, value, "unverified", box, text,
                     "not printed: " + ", ".join(f"'{w}'" for w in match.extra))
    if match.missing:
        return Check(path, value, "unverified", box, text,
                     "left out: " + ", ".join(f"'{w}'" for w in match.missing))
    return Check(path, value, "verified", box, text)


def _kind(value: Any) -> str:
    if _as_number(value) is not None:
        return "number"
    if isinstance(value, str) and formats.parse_date(value.strip(), True) is not None:
        return "date"
    return "text"


def _kind_of_printed(text: str, kind: str) -> bool:
    """Whether a label's printed ``text`` can hold a value of ``kind`` (a time next to "Date:"
    cannot hold a date, nor a rate "6%" next to "GST" an amount)."""
    if kind == "number":
        return bool(re.search(r"\d(?![\d.,]*\s*%)", text))
    if kind == "date":
        return any(formats.parse_date(w.strip(",;"), True) for w in text.split())
    return bool(re.search(r"[^\W\d_]{2}", text))


def _order_note(value: Any, printed: str, page: _Page) -> str:
    """A warning when a date matched only because the page does not show whether it writes
    the day or the month first ("03/04/2024" for 2024-04-03 or 2024-03-04)."""
    if page.dayfirst is not None or not isinstance(value, str) or _as_number(value) is not None:
        return ""
    readings = {formats.parse_date(printed, True), formats.parse_date(printed, False)}
    if None in readings or len(readings) < 2 or formats.parse_date(value, True) is None:
        return ""
    return "day and month order not shown on the page; read either way round"


def _at_label(value: Any, text: str, box: Box, page: _Page) -> bool:
    """Whether the text printed by a label (``text`` in ``box``) says ``value``."""
    number, printed = _as_number(value), _cell_number(text)
    if number is not None and printed is not None:
        return number == printed
    return _matches(value, text, page.dayfirst) or any(
        _matches(value, word, page.dayfirst) for word in text.split()) or any(
        _says(value, s, page.dayfirst) for s in page.spans if _inside(s.box, box))


def _inside(inner: Box, outer: Box) -> bool:
    return inner[0] >= outer[0] - 2 and inner[2] <= outer[2] + 2 and \
        inner[1] >= outer[1] - 2 and inner[3] <= outer[3] + 2


# --- arithmetic ----------------------------------------------------------------------------

def _field(row: dict[str, Any], *patterns: str) -> str | None:
    for pattern in patterns:
        for key in row:
            if re.search(pattern, _text_key(str(key))):
                return str(key)
    return None


def _num(value: Any) -> Decimal | None:
    return _as_number(value) if value not in (None, "") else None


def arithmetic(data: Any) -> list[Arithmetic]:
    """The document's own sums: quantity x price = amount per line, the lines against the
    subtotal or total, subtotal + tax = total, running balances and total rows. Rows of
    several tables in one list (a ``table`` column) are taken table by table; a key/value
    table supplies labelled totals like top-level fields do."""
    data = _plain(data)
    scalars = {p: (name, v) for p, name, v in _leaves(data) if not re.search(r"\[\d+\]", p)}
    tables: list[tuple[str, list[tuple[int, dict[str, Any]]]]] = []
    for path, rows in _rows(data):
        groups: dict[Any, list[tuple[int, dict[str, Any]]]] = {}
        for i, row in enumerate(rows):
            groups.setdefault(row.get("table"), []).append((i, row))
        for members in groups.values():
            if {"key", "value"} <= set(members[0][1]):
                scalars.update({f"{path}[{i}].value": (str(r["key"]), r["value"])
                                for i, r in members})
            else:
                tables.append((path, members))
    return [check for path, members in tables for check in _row_checks(path, members, scalars)
            ] + _totals(scalars)


def _row_checks(path: str, indexed: list[tuple[int, dict[str, Any]]],
                scalars: dict[str, tuple[str, Any]]) -> list[Arithmetic]:
    out: list[Arithmetic] = []
    rows = [r for _, r in indexed]
    at = [f"{path}[{i}]" for i, _ in indexed]
    first = rows[0]
    qty = _field(first, r"^q(ty|uantity)|units?$")
    price = _field(first, r"price|rate|unit")
    amount = _field(first, r"amount|line total|^total$|value")
    if amount == price:
        amount = None
    balance = _field(first, r"balance")
    debit = _field(first, r"debit|withdraw|paid out")
    credit = _field(first, r"credit|deposit|paid in")
    body = rows
    label_col = next((k for k in first if k != "table"), None)
    if label_col and str(rows[-1].get(label_col, "")).strip().lower().startswith("total"):
        body = rows[:-1]
        for col in first:
            values = [_num(r.get(col)) for r in body]
            total = _num(rows[-1].get(col))
            if col not in (label_col, "table") and total is not None and None not in values:
                out.append(_sum_check(f"{col} column total", sum(values, Decimal(0)), total,
                                      [f"{a}.{col}" for a in at]))
    if qty and price and amount:
        for n, r in enumerate(body):
            q, p, a = _num(r.get(qty)), _num(r.get(price)), _num(r.get(amount))
            if None not in (q, p, a):
                out.append(_sum_check(f"line {n + 1}: {qty} x {price} = {amount}", q * p, a,
                                      [f"{at[n]}.{k}" for k in (qty, price, amount)]))
    if balance:
        # debits taken off whether written 12.00 or -12.00, as long as the column is consistent
        out_sign = 1 if debit and _mostly_negative([r.get(debit) for r in body]) else -1
        in_sign = -1 if credit and _mostly_negative([r.get(credit) for r in body]) else 1
        before = _scalar(scalars, r"opening|brought forward|previous balance|start")
        for n, row in enumerate(body):
            cur = _num(row.get(balance))
            if before is not None and cur is not None:
                if debit or credit:
                    d = _num(row.get(debit)) if debit else None
                    c = _num(row.get(credit)) if credit else None
                    expected = before[1] + (d or 0) * out_sign + (c or 0) * in_sign
                    used = [k for k in (debit, credit) if k and row.get(k) not in (None, "")]
                elif amount and (a := _num(row.get(amount))) is not None:
                    expected, used = before[1] + a, [amount]
                else:
                    used = None
                if used is not None:
                    out.append(_sum_check(f"running balance, row {n + 1}", expected, cur,
                                          [before[0]] + [f"{at[n]}.{k}" for k in used +
                                                         [balance]]))
            before = None if cur is None else (f"{at[n]}.{balance}", cur)
        closing = _scalar(scalars, r"closing|carried forward|ending balance|new balance")
        if closing and before:
            out.append(_sum_check("last balance = closing balance", before[1], closing[1],
                                  [before[0], closing[0]]))
    if amount and not balance:
        lines = [_num(r.get(amount)) for r in body]
        label_col = next((k for k in first if isinstance(first[k], str) and k != amount), None)
        lines = [-abs(n) if n is not None and label_col and _LESS.search(str(
            r.get(label_col, ""))) else n for n, r in zip(lines, body, strict=True)]
        subtotal = _scalar(scalars, _SUBTOTAL)
        total = _scalar(scalars, _TOTAL)
        extras = _extras(scalars)
        if None not in lines and lines and (subtotal or total):
            paths = [f"{a}.{amount}" for a in at[:len(body)]]
            if subtotal:
                out.append(_sum_check(f"{amount} lines = {scalars[subtotal[0]][0]}",
                                      sum(lines, Decimal(0)), subtotal[1],
                                      [subtotal[0], *paths]))
            elif total:
                names = " + ".join([f"{amount} lines"] + [scalars[p][0] for p, _ in extras])
                out.append(_sum_check(f"{names} = {scalars[total[0]][0]}", sum(
                    lines + [x for _, x in extras], Decimal(0)), total[1],
                    [total[0], *paths, *(p for p, _ in extras)]))
    return out


_SUBTOTAL = r"sub ?total"
_TOTAL = r"^(grand )?total( amount| due| payable| paid)?$|amount due|balance due"
_LESS = re.compile(r"discount|coupon|promo|saving|less\b|off\b|rebate|voucher", re.I)
_EXTRA = re.compile(r"tax|vat|gst|sst|hst|service|tip|gratuity|rounding|round|discount|coupon|"
                    r"saving|voucher|rebate|deposit")


def _extras(scalars: dict[str, tuple[str, Any]]) -> list[tuple[str, Decimal]]:
    """The labelled figures between a subtotal and its total, each with the sign it adds
    with: taxes, service, tips and rounding as printed, discounts taken off."""
    out = []
    for path, (name, value) in scalars.items():
        key, number = _text_key(name), _num(value)
        if number is not None and _EXTRA.search(key) and not re.search(
                r"rate|percent|%|sub ?total|^(grand )?total", key):
            out.append((path, -abs(number) if _LESS.search(key) else number))
    return out


def _totals(scalars: dict[str, tuple[str, Any]]) -> list[Arithmetic]:
    """subtotal + taxes and charges - discounts (+ rounding) = total, from labelled figures."""
    subtotal, total, extras = _scalar(scalars, _SUBTOTAL), _scalar(scalars, _TOTAL), _extras(
        scalars)
    if not (subtotal and total and extras):
        return []
    names = " + ".join(["subtotal"] + [_text_key(scalars[p][0]) for p, _ in extras])
    return [_sum_check(f"{names} = total", subtotal[1] + sum(x for _, x in extras), total[1],
                       [subtotal[0], *(p for p, _ in extras), total[0]])]


def _scalar(scalars: dict[str, tuple[str, Any]], pattern: str) -> tuple[str, Decimal] | None:
    """The first labelled number whose label matches ``pattern``: (its path, its value)."""
    for path, (name, value) in scalars.items():
        number = _num(value)
        if number is not None and re.search(pattern, _text_key(name)):
            return path, number
    return None


def _sum_check(name: str, expected: Decimal, found: Decimal, paths: list[str]) -> Arithmetic:
    return Arithmetic(name, abs(expected - found) <= Decimal("0.011"), f"{expected:,.2f}",
                      f"{found:,.2f}", tuple(paths))


# --- data from a file ------------------------------------------------------------------------

def load_data(spec: str | Path, image: str = "") -> Any:
    """The data in a file (``-`` for stdin) to verify: JSON (an object or rows), JSON Lines, a
    Markdown table or CSV. From the output of ``pixelproof extract -f json`` (or a stored run
    item) the data part is taken: when it holds several images', that of ``image`` (a label,
    as the extract command was given it). Raises ConfigError naming the file."""
    name = "<stdin>" if spec == "-" else str(spec)
    try:
        raw = sys.stdin.buffer.read() if spec == "-" else Path(spec).read_bytes()
        text = raw.decode("utf-8-sig").strip()
    except OSError as e:
        raise ConfigError(f"{name}: cannot read it ({e.strerror or e}).") from e
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: not a text file. Give the data as JSON, a Markdown table "
                          "or CSV.") from None
    if not text:
        raise ConfigError(f"{name}: the file is empty. Give the data as JSON, a Markdown table "
                          "or CSV.")
    data = _parse_data(text, name)
    if isinstance(data, dict) and "verification" in data and {"data", "records"} & set(data):
        return _data_part(data, name, image)
    return data


def _parse_data(text: str, name: str) -> Any:
    if text[0] in "[{":
        try:
            return json.loads(text)
        except ValueError as e:
            try:
                return [json.loads(line) for line in text.splitlines() if line.strip()]
            except ValueError:
                raise ConfigError(f"{name}: not valid JSON ({e}). Fix it, or give a Markdown "
                                  "table or CSV.") from None
    if formats.markdown_tables(text):
        return formats.tables_rows(text)
    rows = formats.csv_rows(text)
    if rows and len(rows[0]) > 1:
        return rows
    raise ConfigError(f"{name}: neither JSON nor a Markdown table nor CSV. Give the data as a "
                      "JSON object or array of rows, e.g. from `pixelproof extract -f json`.")


def _label(d: dict[str, Any]) -> str:
    return f"{d.get('source')}#page={d['page']}" if d.get("page") else str(d.get("source"))


def _data_part(doc: dict[str, Any], name: str, image: str) -> Any:
    """An extract output's data for ``image``: its records, untagged when the output holds
    several images, and the one object (not a list) when that is what was verified."""
    if "data" in doc:
        return doc["data"]
    reports = doc["verification"] if isinstance(doc["verification"], list) \
        else [doc["verification"]]
    records = doc["records"]
    labels = [_label(r) for r in reports]
    if records and all(isinstance(r, dict) and _label(r) in labels for r in records):
        if image not in labels and len(labels) > 1:
            raise ConfigError(f"{name}: holds the data of {len(labels)} images "
                              f"({', '.join(labels)}); give IMAGE as it is written there.")
        image = image if image in labels else labels[0]
        reports = [reports[labels.index(image)]]
        records = [{k: v for k, v in r.items() if k not in ("source", "page")}
                   for r in records if _label(r) == image]
    paths = [c["path"] for r in reports[:1] for c in r.get("checks", [])]
    if len(records) == 1 and paths and not any(p.startswith("[") for p in paths):
        return records[0]  # the answer was one object, and was verified as one
    return records


def overlay_ready(path: str) -> None:
    """Make ``path``'s folder and check that an overlay can be written there, before any OCR
    work is done."""
    from PIL import Image as PILImage

    target = Path(path)
    problem = ""
    if target.suffix.lower() not in PILImage.registered_extensions():
        problem = f"'{target.suffix or 'no'}' extension is not an image format"
    elif target.is_dir():
        problem = "it is a folder"
    else:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            problem = f"cannot make its folder ({e.strerror or e})"
        else:
            if not os.access(target.parent, os.W_OK):
                problem = "its folder is not writable"
    if problem:
        raise ConfigError(f"cannot write the overlay {path}: {problem}. Give a writable path "
                          "ending in .png or .jpg.")


# --- votes and overlay ---------------------------------------------------------------------

def vote(answers: list[Any]) -> list[Vote]:
    """Per-field agreement across several answers to the same question."""
    flat = [dict((p, v) for p, _, v in _leaves(_plain(a))) for a in answers]
    paths = list(dict.fromkeys(p for f in flat for p in f))
    out = []
    for path in paths:
        values = [f.get(path) for f in flat]
        top = Counter(map(repr, values)).most_common(1)[0][1]
        out.append(Vote(path, top / len(values), tuple(values)))
    return out


def draw_overlay(image: Image | Any, report: Report | dict[str, Any], path: str) -> None:
    """The image with a box per value: green verified, red flagged, each labelled with its
    path; flagged values without a place on the page and failed sums are listed in red under
    it. ``report`` may be a Report or its ``to_dict()`` (as stored for a run)."""
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFont

    from .images import to_pil
    page = (to_pil(image) if isinstance(image, Image) else image).convert("RGB")
    rep = report.to_dict() if isinstance(report, Report) else report
    size = max(11, page.height // 90)
    font = ImageFont.load_default(size)
    notes = [f"{c['status']}: {c['path']} = {c['value']!r} ({c['note']})"
             for c in rep["checks"] if c["box"] is None and c["status"] != "verified"]
    notes += [f"sum failed: {a['name']}: expected {a['expected']}, found {a['found']}"
              for a in rep["arithmetic"] if not a["ok"]]
    canvas = PILImage.new("RGB", (page.width, page.height + (size + 4) * len(notes) +
                                  (8 if notes else 0)), "white")
    canvas.paste(page)
    draw = ImageDraw.Draw(canvas)
    pad = max(2, size // 4)
    for check in rep["checks"]:
        if check["box"] is None:
            continue
        colour = "#16a34a" if check["status"] == "verified" else "#dc2626"
        x0, y0, x1, y1 = check["box"]
        draw.rectangle((x0 - pad, y0 - pad, x1 + pad, y1 + pad), outline=colour,
                       width=max(2, size // 5))
        draw.text((x0 - pad, max(0, y0 - pad - size - 2)), check["path"], fill=colour,
                  font=font)
    for n, note in enumerate(notes):
        draw.text((pad, page.height + 4 + n * (size + 4)), note, fill="#dc2626", font=font)
    try:
        canvas.save(path)
    except (OSError, ValueError) as e:
        raise ConfigError(f"could not write the overlay {path}: {e}. Check the path and its "
                          "extension (.png, .jpg).") from e


def is_clean(report: dict[str, Any]) -> bool:
    """A report (as ``to_dict()``) with nothing unverified, contradicted, failed or split."""
    return not report["unverified"] and not report["contradicted"] and all(
        a["ok"] for a in report["arithmetic"]) and all(v["agreement"] == 1
                                                       for v in report["votes"])
