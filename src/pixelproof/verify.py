"""Check extracted values against the pixels and against the document's own arithmetic.

Each value is looked up among the words the local OCR engine reads from the same image:
numbers by exact value (a changed, swapped or dropped digit, sign or decimal point never
passes), dates in any common format, text loosely. A table cell is looked for on its row's
line, a labelled field next to its label. Each value ends ``verified`` (with the box and text
that support it), ``unverified`` (nothing supports it) or ``contradicted`` (its place on the
page reads differently). Sums, line totals and running balances are checked as well.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from difflib import SequenceMatcher
from typing import Any, Literal

from . import formats, tables
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

    def count(self, status: Status) -> int:
        return sum(c.status == status for c in self.checks)

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
        return text + (f"; votes: {split} fields disagree" if self.votes else "")

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary(), "verified": self.count("verified"),
                "unverified": self.count("unverified"),
                "contradicted": self.count("contradicted"),
                "checks": [asdict(c) for c in self.checks],
                "arithmetic": [asdict(a) for a in self.arithmetic],
                "votes": [asdict(v) for v in self.votes]}


# --- reading the page -----------------------------------------------------------------------

@dataclass(frozen=True)
class _Span:
    text: str
    box: Box
    line: int


def _spans(page: OcrResult, longest: int = 6) -> list[_Span]:
    """Every run of up to ``longest`` neighbouring words on a line, so that a value split
    over several words ("ACME  Corp.", "$ 3.20") can be found."""
    out = []
    for n, line in enumerate(page.lines):
        for i in range(len(line)):
            for j in range(i + 1, min(len(line), i + longest) + 1):
                words = line[i:j]
                out.append(_Span(" ".join(w.text for w in words), _union(words), n))
    return out


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


def _dates(text: str) -> set[Any]:
    readings = {formats.parse_date(text, True), formats.parse_date(text, False)}
    readings.discard(None)
    return readings


def _matches(value: Any, span: str) -> bool:
    """Whether printed ``span`` says ``value``: numbers by value, dates by date, text loosely
    but with every digit exact."""
    span = span.strip().rstrip(":;,")
    number = _as_number(value)
    if number is not None:
        printed = formats.parse_number(span)
        return printed is not None and printed == number
    if not isinstance(value, str) or not value.strip():
        return False
    dates = _dates(value)
    if dates:
        return bool(dates & _dates(span))
    a, b = _text_key(value), _text_key(span)
    if re.findall(r"\d", a) != re.findall(r"\d", b):
        return False
    if a == b:
        return True
    return len(a) >= 4 and SequenceMatcher(None, a, b).ratio() >= 0.85


def _magnitude_match(value: Any, span: str) -> bool:
    """The same number with the other sign ("12.00" for -12.00), as printed in a debit
    column or written with the sign elsewhere."""
    number, printed = _as_number(value), formats.parse_number(span.strip())
    return number is not None and printed is not None and printed == -number != 0


_DEBIT = re.compile(r"debit|withdraw|paid out|payment|charge|out\b|spent", re.I)


# --- grounding -----------------------------------------------------------------------------

def _leaves(data: Any, path: str = "") -> list[tuple[str, str, Any]]:
    """(path, field name, value) for every scalar in ``data``."""
    if hasattr(data, "model_dump"):
        data = data.model_dump(mode="json")
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
    """Every list of row objects in ``data``, with its path."""
    if hasattr(data, "model_dump"):
        data = data.model_dump(mode="json")
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
    spans = _spans(ocr)
    labels = tables.key_values(ocr)
    checks: dict[str, Check] = {}
    for rows_path, rows in _rows(data):
        if {"key", "value"} <= set(rows[0]):
            continue  # a key/value table: checked as labelled fields below
        for n, row in enumerate(rows):
            prefix = f"{rows_path}[{n}]"
            checks.update(_check_row(prefix, row, spans))
    for path, name, value in _leaves(data):
        if path in checks or value is None or isinstance(value, bool) or value == "":
            continue
        key_value = path.endswith(".value") and isinstance(_parent(data, path), dict)
        label = str(_parent(data, path).get("key", "")) if key_value else name
        checks[path] = _check_field(path, label, value, spans, labels)
    ordered = [checks[p] for p, _, _ in _leaves(data) if p in checks]
    return Report(tuple(ordered), tuple(arithmetic(data)))


def _parent(data: Any, path: str) -> Any:
    node = data.model_dump(mode="json") if hasattr(data, "model_dump") else data
    for part in re.findall(r"\[(\d+)\]|([^.\[\]]+)", path)[:-1]:
        node = node[int(part[0])] if part[0] else node[part[1]]
        if hasattr(node, "model_dump"):
            node = node.model_dump(mode="json")
    return node


def _check_row(prefix: str, row: dict[str, Any],
               spans: list[_Span]) -> dict[str, Check]:
    """A row's values, looked for on the line that holds most of them."""
    cells = {k: v for k, v in row.items() if v not in (None, "") and not isinstance(v, bool)
             and k not in ("table", "source", "page")}
    found = {k: [s for s in spans if _matches(v, s.text)] for k, v in cells.items()}
    votes = Counter(line for hits in found.values() for line in {s.line for s in hits})
    best = votes.most_common(1)[0][0] if votes else None
    out = {}
    for key, value in cells.items():
        path = f"{prefix}.{key}"
        on_line = [s for s in found[key] if s.line == best]
        if on_line and (len(cells) == 1 or votes[best] >= 2):
            hit = min(on_line, key=lambda s: len(s.text))
            out[path] = Check(path, value, "verified", hit.box, hit.text)
            continue
        flipped = [s for s in spans if s.line == best and _magnitude_match(value, s.text)]
        if flipped and _DEBIT.search(key) and _as_number(value) and _as_number(value) < 0:
            out[path] = Check(path, value, "verified", flipped[0].box, flipped[0].text,
                              "printed without its sign in a debit column")
        elif flipped:
            out[path] = Check(path, value, "contradicted", flipped[0].box, flipped[0].text,
                              "the sign differs from the page")
        elif best is not None and votes[best] >= 2:
            out[path] = Check(path, value, "unverified", None, None,
                              "not on its row's line in the image")
        else:
            out[path] = Check(path, value, "unverified", None, None,
                              "this row was not found in the image")
    return out


def _check_field(path: str, name: str, value: Any, spans: list[_Span],
                 labels: list[tuple[str, str, Box]]) -> Check:
    """A labelled value: next to its label when the label is on the page, else anywhere."""
    key = _text_key(name)
    near = [(label, text, box) for label, text, box in labels
            if key and SequenceMatcher(None, key, _text_key(label)).ratio() >= 0.8]
    for _, text, box in near:
        if _matches(value, text) or any(_matches(value, s.text) for s in spans
                                        if _inside(s.box, box)):
            return Check(path, value, "verified", box, text)
    if near:
        _, text, box = near[0]
        return Check(path, value, "contradicted", box, text, f"'{name}' reads '{text}'")
    hits = [s for s in spans if _matches(value, s.text)]
    if hits:
        hit = min(hits, key=lambda s: len(s.text))
        return Check(path, value, "verified", hit.box, hit.text, "found on the page")
    return Check(path, value, "unverified", None, None, "not found in the image")


def _inside(inner: Box, outer: Box) -> bool:
    return inner[0] >= outer[0] - 2 and inner[2] <= outer[2] + 2 and \
        inner[1] >= outer[1] - 2 and inner[3] <= outer[3] + 2


# --- arithmetic ----------------------------------------------------------------------------

def _field(row: dict[str, Any], *patterns: str) -> str | None:
    for pattern in patterns:
        for key in row:
            if re.search(pattern, str(key), re.I):
                return str(key)
    return None


def _num(value: Any) -> Decimal | None:
    return _as_number(value) if value not in (None, "") else None


def arithmetic(data: Any) -> list[Arithmetic]:
    """The document's own sums: quantity x price = amount per line, the lines against the
    subtotal or total, subtotal + tax = total, running balances and total rows. Rows of
    several tables in one list (a ``table`` column) are taken table by table; a key/value
    table supplies labelled totals like top-level fields do."""
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
    return [check for path, members in tables for check in _row_checks(path, members, scalars)]


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
        for n in range(1, len(body)):
            prev, cur = _num(body[n - 1].get(balance)), _num(body[n].get(balance))
            if prev is None or cur is None:
                continue
            if debit or credit:
                d = _num(body[n].get(debit)) if debit else None
                c = _num(body[n].get(credit)) if credit else None
                expected = prev - abs(d or 0) + abs(c or 0)
                used = [k for k in (debit, credit) if k and body[n].get(k) not in (None, "")]
            elif amount and _num(body[n].get(amount)) is not None:
                expected, used = prev + _num(body[n].get(amount)), [amount]  # type: ignore
            else:
                continue
            out.append(_sum_check(f"running balance, row {n + 1}", expected, cur,
                                  [f"{at[n - 1]}.{balance}"] +
                                  [f"{at[n]}.{k}" for k in used + [balance]]))
    if amount and not balance:
        lines = [_num(r.get(amount)) for r in body]
        subtotal = _scalar(scalars, r"sub ?total")
        total = _scalar(scalars, r"^(grand )?total$|amount due|total due")
        tax = _scalar(scalars, r"tax|vat|gst")
        if None not in lines and lines:
            target = subtotal or (total if not tax else None)
            if target:
                label = scalars[target[0]][0]
                out.append(_sum_check(f"{amount} lines = {label}", sum(lines, Decimal(0)),
                                      target[1], [target[0]] + [f"{a}.{amount}"
                                                                for a in at[:len(body)]]))
        if subtotal and tax and total:
            out.append(_sum_check("subtotal + tax = total", subtotal[1] + tax[1], total[1],
                                  [subtotal[0], tax[0], total[0]]))
    return out


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


# --- votes and overlay ---------------------------------------------------------------------

def vote(answers: list[Any]) -> list[Vote]:
    """Per-field agreement across several answers to the same question."""
    flat = [dict((p, v) for p, _, v in _leaves(a)) for a in answers]
    paths = list(dict.fromkeys(p for f in flat for p in f))
    out = []
    for path in paths:
        values = [f.get(path) for f in flat]
        top = Counter(map(repr, values)).most_common(1)[0][1]
        out.append(Vote(path, top / len(values), tuple(values)))
    return out


def draw_overlay(image: Image | Any, report: Report | dict[str, Any], path: str) -> None:
    """The image with a box per value: green verified, red flagged, each labelled with its
    path. ``report`` may be a Report or its ``to_dict()`` (as stored for a run)."""
    from PIL import ImageDraw

    from .images import to_pil
    canvas = (to_pil(image) if isinstance(image, Image) else image).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    checks = report.to_dict()["checks"] if isinstance(report, Report) else report["checks"]
    for check in checks:
        if check["box"] is None:
            continue
        colour = "#16a34a" if check["status"] == "verified" else "#dc2626"
        box = tuple(check["box"])
        draw.rectangle(box, outline=colour, width=3)
        draw.text((box[0], max(0, box[1] - 12)), check["path"], fill=colour)
    canvas.save(path)


def is_clean(report: dict[str, Any]) -> bool:
    """A report (as ``to_dict()``) with nothing unverified, contradicted, failed or split."""
    return not report["unverified"] and not report["contradicted"] and all(
        a["ok"] for a in report["arithmetic"]) and all(v["agreement"] == 1
                                                       for v in report["votes"])
