"""Reading the page: the spans of OCR words a value may be printed as, and whether a printed
text says a value (numbers by exact value read with their cell, dates the page's way round,
text word for word with OCR's letter noise)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property, lru_cache
from typing import Any

from .. import align, formats, tables
from ..types import OcrResult, Word
from .report import Box

CLEAR = 0.995  # a word OCR read with at least this confidence: one wrong letter forgiven at most


@dataclass(frozen=True)
class Span:
    text: str
    box: Box
    line: int
    number: Decimal | None  # what the span says as a number, read with the rest of its cell


def spans(page: OcrResult, longest: int = 6) -> list[Span]:
    """Every run of up to ``longest`` neighbouring words on a line, so that a value split
    over several words ("ACME  Corp.", "$ 3.20") can be found. A number is read together
    with the rest of its cell, so that "12.00" never stands for "- 12.00" or "1, 212.00"."""
    out = []
    for n, line in enumerate(page.lines):
        cells = [(c.box, cell_number(c.text)) for c in tables.cells_of(line)]
        for i in range(len(line)):
            for j in range(i + 1, min(len(line), i + longest) + 1):
                text, box = " ".join(w.text for w in line[i:j]), union(line[i:j])
                number = cell_number(text)
                cell = next((c for c in cells if inside(box, c[0])), None)
                if cell and cell[1] is not None and re.search(r"\d", text):
                    number = cell[1]
                out.append(Span(text, box, n, number))
    lines = [tables.cells_of(line) for line in page.lines]
    for n, (above, below) in enumerate(zip(lines, lines[1:], strict=False)):
        out += [Span(f"{a.text} {b.text}", union_boxes(a.box, b.box), n, None)
                for a in above for b in below if min(a.box[2], b.box[2]) > max(
                    a.box[0], b.box[0])]  # a cell wrapped onto the next line
    return out


def union_boxes(a: Box, b: Box) -> Box:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def cell_number(text: str) -> Decimal | None:
    """A cell's number; "12.00 DR" is negative, "1, 234.50" (split by the reader) 1234.50;
    marks around it are not part of it: "28.00*", "9.99 T", ".85 T2", "4x", "x2", "#24881",
    "@2.70"; "16 . 10" is 16.10 and ".88" 0.88."""
    text = re.sub(r"(?<=\d)\s*([,.])\s*(?=\d)", r"\1", text).strip()
    if m := re.fullmatch(r"(.*?\d)\s*(dr|cr)\.?", text, re.I):
        number = formats.parse_number(m[1])
        return -number if number is not None and m[2].lower() == "dr" else number
    text = re.sub(r"^([-($]?)[.,](\d\d)\b(?![.,]\d)", r"\g<1>0.\2", text)  # ".88" is 0.88
    number = formats.parse_number(text)
    for mark in (r"(?:[#@x×]\s*|[ES](?=\d+[.,]\d\d$))(.*\d.*)",  # E5.99: how OCR reads £5.99
                 r"(.*\d[.,]\d\d)\s*(?:\*+|[a-z]{1,2}\d?)", r"(\d+)\s*[x×]"):
        if number is None and (m := re.fullmatch(mark, text, re.I)):
            number = formats.parse_number(m[1])
    if number is None and (m := _MONEY.fullmatch(text)):
        number = formats.parse_number(m["sign"] + m["figure"].translate(_DIGITS))
    return number


# Money with a currency glued before it and a tax code after, as OCR reads them: "RH117.90 s"
# (RM117.90 S), "RMI11.90" (RM111.90: a 1 read as I after the currency), "1,007.50 ZRL".
_MONEY = re.compile(r"(?P<sign>-?)"
                    r"(?:(?:RM|RH|MYR|USD|SGD|EUR|GBP|INR|IDR|RP|RS|[SAU]?\$|€|£|¥)\.?\s*(?=[IlO\d])|[.,·]?(?=\d))"
                    r"(?P<figure>[\dIlO][\d,IlO]*[.,]\d\d)(?:\s*[A-Z*]{1,3})?", re.I)
_DIGITS = str.maketrans("IlO", "110")


def union(words: list[Word]) -> Box:
    return (min(w.box[0] for w in words), min(w.box[1] for w in words),
            max(w.box[2] for w in words), max(w.box[3] for w in words))


def text_key(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


def as_number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
        return number if number.is_finite() else None  # NaN and infinity are no figures
    if isinstance(value, str) and re.search(r"\d", value) and not re.search(r"\d[/]\d", value):
        return _text_number(value)
    return None


_text_number = lru_cache(maxsize=65536)(formats.parse_number)  # a page asks of each span
_date = lru_cache(maxsize=65536)(formats.parse_date)


def num(value: Any) -> Decimal | None:
    return as_number(value) if value not in (None, "") else None


def _same_date(value: str, printed: str, dayfirst: bool | None) -> bool | None:
    """Whether two dates agree, each read the same way round (day first, or month first when
    the page does not say), so that a swapped day and month never passes. None when ``value``
    is not a date."""
    if _date(value, True) is None:
        return None
    found = formats.find_dates(printed)
    if len(found) != 1 or len(printed) > len(found[0]) + 12:
        return False  # one date, with a time or a word beside it at most
    ways = (dayfirst,) if dayfirst is not None or re.search(r"\d\.\d+\.\d", found[0]) else (
        True, False)  # "12.03.2024" is day first
    return any(formats.parse_date(found[0], way) == formats.parse_date(value, way) is not None
               for way in ways)


def matches(value: Any, span: str, dayfirst: bool | None = None) -> bool:
    """Whether printed ``span`` says ``value``: numbers by value, dates by date (read the
    page's way round when it shows one), text loosely but with every digit exact."""
    span = span.strip().strip(":;,")
    number = as_number(value)
    if number is not None:
        return cell_number(span) == number
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
            r"\d", a) != _figure_digits(printed):
        return False
    if sum((_letters(a) & _letters(b)).values()) < 0.75 * len(a):
        return False  # too few letters in common for the match below to reach 0.75
    match = align.locate(value, printed.split())
    return match is not None and match.ok and match.score >= 0.75


@lru_cache(maxsize=65536)
def _letters(folded: str) -> Counter[str]:
    return Counter(folded.translate(align.LOOKALIKE))


def _figure_digits(printed: str) -> list[str]:
    """The digits of printed text, but those OCR reads for letters: a 0 or 1 between two
    letters of a word ("CHEVR0N", "Mi1k"), a 0 starting a word of letters ("0RG")."""
    words = (re.sub(r"(?<=[^\W\d_])[01](?=[^\W\d_])|^0(?=[^\W\d_]{2,}$)", "o", align.fold(w))
             for w in printed.split())
    return [c for w in words for c in w if c.isdigit()]


def says(value: Any, span: Span, dayfirst: bool | None) -> bool:
    """Whether ``span`` says ``value``: numbers as read with their cell, the rest as text."""
    number = as_number(value)
    if number is not None:
        return span.number == number
    return matches(value, span.text, dayfirst)


def magnitude_match(value: Any, span: Span) -> bool:
    """The same number with the other sign ("12.00" for -12.00), as printed in a debit
    column or written with the sign elsewhere."""
    number = as_number(value)
    return number is not None and span.number is not None and span.number == -number != 0


def mostly_negative(values: list[Any]) -> bool:
    numbers = [x for v in values if (x := num(v))]
    return bool(numbers) and sum(x < 0 for x in numbers) * 2 > len(numbers)


DEBIT = re.compile(r"debit|withdraw|paid out|payment|charge|out\b|spent", re.I)


@dataclass(frozen=True)
class Page:
    spans: list[Span]
    lines: list[list[Word]]
    dayfirst: bool | None  # how the page writes its slash dates, when one tells

    def find(self, value: Any) -> list[Span]:
        number = as_number(value)  # as ``says``, the value's number found once
        if number is not None:
            return [s for s in self.spans if s.number == number]
        return [s for s in self.spans if matches(value, s.text, self.dayfirst)]

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
        match = align.locate(value, [w.text for w in words], cells, [w.line for w in words],
                             [w.confidence >= CLEAR for w in words])
        return match, [words[n] for n in match.words] if match else []


def kind_of(value: Any) -> str:
    if as_number(value) is not None:
        return "number"
    if isinstance(value, str) and formats.parse_date(value.strip(), True) is not None:
        return "date"
    return "text"


def kind_of_printed(text: str, kind: str) -> bool:
    """Whether a label's printed ``text`` can hold a value of ``kind`` (a time next to "Date:"
    cannot hold a date, nor a rate "6%" next to "GST" an amount)."""
    if kind == "number":
        return bool(re.search(r"\d(?![\d.,]*\s*%)", text))
    if kind == "date":
        return any(formats.parse_date(w.strip(",;"), True) for w in text.split())
    return bool(re.search(r"[^\W\d_]{2}", text))


def order_note(value: Any, printed: str, page: Page) -> str:
    """A warning when a date matched only because the page does not show whether it writes
    the day or the month first ("03/04/2024" for 2024-04-03 or 2024-03-04)."""
    if page.dayfirst is not None or not isinstance(value, str) or as_number(value) is not None:
        return ""
    readings = {formats.parse_date(printed, True), formats.parse_date(printed, False)}
    if None in readings or len(readings) < 2 or formats.parse_date(value, True) is None:
        return ""
    return "day and month order not shown on the page; read either way round"


def at_label(value: Any, text: str, box: Box, page: Page) -> bool:
    """Whether the text printed by a label (``text`` in ``box``) says ``value``."""
    number, printed = as_number(value), cell_number(text)
    if number is not None and printed is not None:
        return number == printed
    return matches(value, text, page.dayfirst) or any(
        matches(value, word, page.dayfirst) for word in text.split()) or any(
        says(value, s, page.dayfirst) for s in page.spans if inside(s.box, box))


def inside(inner: Box, outer: Box) -> bool:
    return inner[0] >= outer[0] - 2 and inner[2] <= outer[2] + 2 and \
        inner[1] >= outer[1] - 2 and inner[3] <= outer[3] + 2
