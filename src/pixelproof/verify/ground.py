"""Grounding: each value of the data looked up on the page, a table's values on their row's
printed line and column, a labelled value next to a label that names it, text word for word."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from decimal import Decimal
from difflib import SequenceMatcher
from typing import Any

from PIL import Image as PILImage

from .. import formats, tables
from ..types import Image, OcrResult
from . import totals
from .look import second_look
from .page import (
    DEBIT,
    Page,
    Span,
    as_number,
    at_label,
    inside,
    kind_of,
    kind_of_printed,
    magnitude_match,
    mostly_negative,
    order_note,
    spans,
    text_key,
    union,
)
from .report import Box, Check, Report
from .sums import PRICE, QUANTITY, column_total_explained, printed_extras, sums
from .walk import leaves, parent, plain, row_lists


def check(image: Image | Any, data: Any, *, ocr: OcrResult | None = None) -> Report:
    """``verify`` for one loaded image (None: no second look)."""
    if ocr is None:
        from ..ocr import read
        ocr = read(image)
    ocr = tables.split_glued(ocr)
    page = Page(spans(ocr), ocr.lines, formats.day_first(  # the dates, the country's ways
        [" ".join(w.text for w in line) for line in ocr.lines]))
    labels = tables.labels(ocr)
    amounts, extras = totals.Amounts.of(labels), printed_extras(labels)
    data = plain(data)
    checks: dict[str, Check] = {}
    for rows_path, rows in row_lists(data):
        if {"key", "value"} <= set(rows[0]):
            continue  # a key/value table: checked as labelled fields below
        checks.update(_check_table(rows_path, rows, page))
    for path, name, value in leaves(data):
        if path in checks or value is None or isinstance(value, bool) or value == "":
            continue
        key_value = path.endswith(".value") and isinstance(parent(data, path), dict)
        label = str(parent(data, path).get("key", "")) if key_value else name
        checks[path] = _check_field(path, label, value, page, labels, (amounts, extras))
    ordered = second_look([checks[p] for p, _, _ in leaves(data) if p in checks],
                          image if isinstance(image, Image | PILImage.Image) and
                          ocr.read == "ocr" else None,  # a text layer is exact: no closer look
                          page.dayfirst)
    found, notes = sums(data, extras, amounts.printed())
    return Report(tuple(ordered), tuple(column_total_explained(a, labels) for a in found),
                  notes=tuple(notes), reads=(ocr.read,),
                  image=image if isinstance(image, Image) else None)


@dataclass(frozen=True)
class _Row:
    cells: dict[str, Any]
    found: dict[str, list[Span]]
    line: int | None  # the line that holds most of the row's values
    support: int  # how many of its values are on that line
    repeats: int | None = None  # the row whose line this one claims too
    claimed: tuple[Box, ...] = ()  # the text other rows are printed with, on their lines
    alone: bool = False  # placed by its amount alone: its text was not read on any line

    def hit(self, key: str, column: _Column | None = None) -> Span | None:
        """The value's shortest match on the row's line, or a text's on the line above or below
        (in its column, when the column is known), when the row was found."""
        on_line = self.hits(key, column)
        return min(on_line, key=lambda s: len(s.text)) if on_line else None

    def hits(self, key: str, column: _Column | None = None) -> list[Span]:
        """Every match ``hit`` chooses from."""
        lines = (self.line, (self.line or 0) - 1, (self.line or 0) + 1) if kind_of(
            self.cells[key]) == "text" else (self.line,)
        on_line = [s for s in self.found[key] if s.line in lines and (
            column is None or _overlap(s.box, column) > 0) and not (s.line == (
                self.line or 0) + 1 and any(inside(s.box, b) or inside(b, s.box)
                                          for b in self.claimed))]
        if self.repeats is None and (len(self.cells) == 1 or self.support >= 2):
            return on_line
        return []


_Column = tuple[float, float]  # x0, x1


def _column(boxes: list[Box], header: Box | None) -> _Column | None:
    """A column's x range from its values' boxes: those under its header, else those that
    line up with at least half of the others (a value found in another column does not
    widen it)."""
    under = [b for b in boxes if header and _overlap(b, (header[0], header[2])) > 0]
    if header is not None and (under or len(boxes) < 2):
        agreed = [header, *under]
    else:  # no header, or one set off from its values: the values that line up
        agreed = [b for b in boxes if 2 * sum(_overlap(b, (o[0], o[2])) > 0 for o in boxes) >=
                  len(boxes) + 1]
    return (min(b[0] for b in agreed) - 4, max(b[2] for b in agreed) + 4) if agreed else None


def _header(key: str, top: int, page: Page) -> Box | None:
    """The box of the column header named like ``key``, on the nearest line above line
    ``top`` (the table's first row) that has one."""
    name = text_key(key)
    heads = [s for s in page.spans if s.line < top and s.number is None and name and
             SequenceMatcher(None, name, text_key(s.text)).ratio() >= 0.8]
    return max(heads, key=lambda s: s.line).box if heads else None


def _overlap(box: Box, column: _Column) -> float:
    return min(box[2], column[1]) - max(box[0], column[0])


def _check_table(path: str, rows: list[dict[str, Any]], page: Page) -> dict[str, Check]:
    """A table's values, each looked for on the line that holds most of its row; a value that
    is not there is compared with what its cell (its row's line, its column's x range, learnt
    from the other rows) reads."""
    seen = []
    for row in rows:
        cells = {k: v for k, v in row.items() if v not in (None, "")
                 and not isinstance(v, bool) and k not in ("table", "source", "page")}
        hits = {k: page.find(v) for k, v in cells.items()}
        votes: Counter[int] = Counter()  # the row's values each line prints
        score: Counter[int] = Counter()  # the same, weighed by how well they tell the row
        for key, found_at in hits.items():
            lines = {s.line for s in found_at}
            if kind_of(cells[key]) != "text":
                score.update({line: 1 / len(lines) for line in lines})
            else:  # a description may be printed on the line above or below its figures
                near = {line + up for line in lines for up in (-1, 1)} - lines
                score.update({**{line: 0.5 for line in near}, **{line: 1.0 for line in lines}})
                lines |= near
            votes.update(lines)
        seen.append((cells, hits, votes, score))
    found = [_Row({}, {}, None, 0)] * len(seen)
    taken = _claims([(votes, score) for _, _, votes, score in seen])
    rows_at = {n: line for line, n in taken.items()}
    for n in sorted(range(len(seen)), key=lambda n: -max(seen[n][2].values(), default=0)):
        cells, hits, votes, score = seen[n]
        most = max(votes.values(), default=0)
        options = sorted((line for line, v in votes.items() if v >= min(2, most)),
                         key=lambda line: (-score[line], line))
        free = [line for line in options if line not in taken]
        line = rows_at[n] if n in rows_at else (free or options)[0] if options else None
        support = votes[line] if line is not None else 0
        if line is not None and n not in rows_at and free and support >= 2:
            taken[line] = n
        repeats = taken[line] if line is not None and taken.get(line, n) != n and \
            support >= 2 else None
        found[n] = _Row(cells, hits, line, support, repeats)
    found = _placed_by_figure(found, taken, page)
    texts = {n: [s.box for k, spans in r.found.items() if kind_of(r.cells[k]) == "text"
                 for s in spans if s.line == r.line] for n, r in enumerate(found)}
    found = [replace(r, claimed=tuple(b for m, boxes in texts.items() if m != n for b in boxes))
             for n, r in enumerate(found)]
    boxes = {key: _in_line(key, found) for key in {k for r in found for k in r.cells}}
    top = min((r.line for r in found if r.line is not None), default=0)
    columns = {k: _column(b, _header(k, top, page)) for k, b in boxes.items()}
    negative = {k for r in found for k in r.cells if mostly_negative([x.get(k) for x in rows])}
    out = {}
    for n, placed in enumerate(found):
        for key, value in placed.cells.items():
            out[f"{path}[{n}].{key}"] = _check_cell(f"{path}[{n}].{key}", key, value, placed,
                                                    columns.get(key), key in negative, page)
    return out


def _claims(seen: list[tuple[Counter[int], Counter[int]]]) -> dict[int, int]:
    """The printed line each row stands for (line -> row), for rows that two or more of their
    values place: the rows in the order they are given, down the page, as well supported as
    they can be together (a row is left out rather than take a line that fits another better);
    each row on its best line instead where that is supported better (rows given out of order)."""
    def lines(n: int) -> list[int]:
        return [line for line, v in seen[n][0].items() if v >= 2]

    greedy: dict[int, int] = {}
    for n in sorted(range(len(seen)), key=lambda n: -max(seen[n][0].values(), default=0)):
        best = sorted(lines(n), key=lambda line: (-seen[n][1][line], line))
        if free := [line for line in best if line not in greedy]:
            greedy[free[0]] = n
    paths: dict[int, tuple[float, dict[int, int]]] = {-1: (0.0, {})}  # last line -> best
    for n in range(len(seen)):
        now = dict(paths)
        for line in lines(n):
            before = max((p for last, p in paths.items() if last < line), key=lambda p: p[0])
            if before[0] + seen[n][1][line] > now.get(line, (-1.0, {}))[0]:
                now[line] = (before[0] + seen[n][1][line], {**before[1], line: n})
        paths = now
    total, ordered = max(paths.values(), key=lambda p: p[0])
    kept = sum(seen[n][1][line] for line, n in greedy.items())
    return ordered if total >= kept - 1e-9 else greedy


def _in_line(key: str, found: list[_Row]) -> list[Box]:
    """Each row's match of ``key`` that lines up with the most other rows' (a price of one
    printed both as the unit price and as the amount is in the column the others are in)."""
    every = [r.hits(key) for r in found if key in r.cells]

    def agree(span: Span) -> int:
        return sum(any(_overlap(span.box, (o.box[0], o.box[2])) > 0 for o in spans)
                   for spans in every)
    return [max(spans, key=lambda s: (agree(s), -len(s.text))).box for spans in every if spans]


_SUMMARY = re.compile(r"total|tax|gst|vat|cash|change|round|disc|service|tip|due|balance", re.I)


def _placed_by_figure(found: list[_Row], taken: dict[int, int], page: Page) -> list[_Row]:
    """Rows only one of whose values was found (OCR garbled the description), placed on the
    one free line among the table's lines that prints their amount (not a total's, a tax's
    or a payment's line)."""
    if not taken:
        return found
    low, high = min(taken) - 1, max(taken) + 1
    out = list(found)
    for n, row in enumerate(found):
        lines = {s.line for k, spans in row.found.items() if kind_of(row.cells[k]) == "number"
                 for s in spans if low <= s.line <= high and s.line not in taken
                 and re.search(r"\d[.,]\d\d", s.text) and not _SUMMARY.search(
                     " ".join(w.text for w in page.lines[s.line]))}
        if row.support == 1 and row.repeats is None and len(lines) == 1:
            line = lines.pop()
            taken[line] = n
            out[n] = replace(row, line=line, support=2, alone=True)
    return out


def _check_cell(path: str, key: str, value: Any, row: _Row, column: _Column | None,
                negative: bool, page: Page) -> Check:
    """One table value: on its row's line in its column, else compared with what its cell
    reads."""
    hit = row.hit(key, column)
    if hit is not None:
        return Check(path, value, "verified", hit.box, hit.text, order_note(value, hit.text,
                                                                              page))
    if row.line is None or row.support < 2:
        return Check(path, value, "unverified", None, None, "this row was not found in the image")
    if row.repeats is not None:
        return Check(path, value, "unverified", None, None, "its row is printed once, as "
                     f"{path.rsplit('[', 1)[0]}[{row.repeats}]: a row given twice")
    if (implied := _implied(key, value, row, page)) is not None:
        return replace(implied, path=path)
    if row.alone and kind_of(value) == "text":
        return Check(path, value, "unverified", None, None, "its row's amount is printed on a "
                     "line of the table, its text is not read there")
    flipped = [s for s in page.spans if s.line == row.line and magnitude_match(value, s)
               and (not column or _overlap(s.box, column) > 0)]
    if flipped and negative and DEBIT.search(key) and as_number(value) < 0:  # type: ignore
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
            return Check(path, value, "contradicted", union(words), text,
                         f"its cell reads {text!r}{elsewhere}")
        line = page.lines[row.line]
        cell = (column[0], min(w.box[1] for w in line), column[1], max(w.box[3] for w in line))
        return Check(path, value, "unverified", cell, None,
                     f"its cell is empty in the image{elsewhere}")
    return Check(path, value, "unverified", None, None, "not on its row's line in the image")


_QUANTITY, _PRICE = re.compile(QUANTITY), re.compile(PRICE)


def _implied(key: str, value: Any, row: _Row, page: Page) -> Check | None:
    """A line-item value that its row's line implies without printing it: a quantity of one
    where the line prints no quantity, a unit price whose product with the quantity is the
    line's printed amount."""
    name, number = text_key(key), as_number(value)
    texts = [hit.box for k in row.cells if kind_of(row.cells[k]) == "text"
             and (hit := row.hit(k)) is not None]  # "BIRKIN 35": a figure of the description
    line = [s for s in page.spans if s.line == row.line
            and not any(inside(s.box, box) for box in texts)]
    if _QUANTITY.search(name) and number == 1 and not any(
            re.fullmatch(r"(\d{1,3}([.,]000)?\s*[x×@]?|[x×]\s*\d{1,3})", s.text.strip(), re.I)
            for s in line):
        return Check("", value, "verified", None, None, "no quantity printed on its line: one")
    quantity = next((as_number(v) for k, v in row.cells.items()
                     if _QUANTITY.search(text_key(k))), None)
    if _PRICE.search(name) and number is not None and quantity and quantity > 1:
        amount = next((s for s in line if s.number == number * quantity), None)
        if amount is not None:
            return Check("", value, "verified", amount.box, amount.text,
                         f"the unit price: {quantity} x {value} is the line's amount")
    return None


def _check_field(path: str, name: str, value: Any, page: Page,
                 labels: list[tuple[str, str, Box]],
                 read: tuple[totals.Amounts, list[tuple[str, Decimal]]]) -> Check:
    """A labelled value: ``verified`` when a place that fits it supports it (a label that names
    the field, printing a value of the same kind), ``contradicted`` when every such place reads
    differently; with no such place, looked for anywhere on the page."""
    kind = kind_of(value)
    if kind == "number" and totals.is_total(name) and (
            found := _check_total(path, value, labels, *read)) is not None:
        return found
    near = [(text, box) for label, text, box in labels
            if tables.fits(name, label) and kind_of_printed(text, kind)]
    for text, box in near:
        if at_label(value, text, box, page):
            return Check(path, value, "verified", box, text, order_note(value, text, page))
    if kind == "text" and not near:
        return _check_text(path, value, page)
    if near:
        text, box = near[0]
        return Check(path, value, "contradicted", box, text, f"'{name}' reads '{text}'")
    hits = page.find(value)
    if hits:
        hit = min(hits, key=lambda s: len(s.text))
        return Check(path, value, "verified", hit.box, hit.text,
                     order_note(value, hit.text, page) or "found on the page")
    return Check(path, value, "unverified", None, None, "not found in the image")


def _check_total(path: str, value: Any, labels: list[tuple[str, str, Box]],
                 amounts: totals.Amounts, extras: list[tuple[str, Decimal]]) -> Check | None:
    """The amount payable: verified where the page prints it; contradicted when the value is
    printed only as another amount (a total before rounding, the cash tendered, the change,
    the subtotal), naming it and what the total reads. None when the page does not tell.
    ``extras``: the page's printed taxes and charges."""
    printed, others, final = amounts.totals, amounts.others, amounts.final
    number = as_number(value)
    if final is not None and final.figure == number:
        return Check(path, value, "verified", final.box, final.text)
    if final is None and (same := [p for p in printed if p.figure == number]):
        return Check(path, value, "verified", same[-1].box, same[-1].text)
    where = next((p for p in printed + others if p.figure == number), None)
    if where is None and final is not None:
        return Check(path, value, "contradicted", final.box, final.text,
                     f"'{final.label}' reads '{final.text}'")
    if where is None:
        return None
    rounds = any(re.search(r"round", label, re.I) for label, _, _ in labels)
    if final is None and number is not None and (why := totals.payable_explained(
            number, printed, others, extras, rounds)):
        return Check(path, value, "verified", where.box, where.text, why)
    if not printed:  # no total read: the subtotal may be the amount, the cash may be more
        if re.search(r"sub|sous", where.label, re.I) and not totals.charged_after(where, labels):
            return Check(path, value, "verified", where.box, where.text,
                         f"printed as '{where.label}', and no other total is read on the page")
        return Check(path, value, "unverified", where.box, where.text,
                     f"printed only at '{where.label}', and no total is read on the page")
    total = final or (printed[-1] if printed else where)
    reads = f"; '{total.label}' reads '{total.text}'" if total is not where else ""
    return Check(path, value, "contradicted", total.box, total.text,
                 f"printed at '{where.label}', not the amount payable{reads}")


def _check_text(path: str, value: str, page: Page) -> Check:
    """A text value where the page prints it best: every word in order, OCR noise allowed."""
    match, words = page.locate(value)
    if match is None or match.score < 0.5:
        return Check(path, value, "unverified", None, None, "not found in the image")
    box, text = union(words), " ".join(w.text for w in words)
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
