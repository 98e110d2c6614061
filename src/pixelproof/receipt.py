"""The head of a receipt or invoice: who issued it (the name printed at the top, usually the
largest text) and where (the lines under the name, up to the first phone number, tax number,
date or labelled line).
"""

from __future__ import annotations

import re
from statistics import median

from . import formats
from .types import OcrResult, Word

_NOT_A_NAME = re.compile(r"^(welcome|thank|tax invoice|invoice|receipt|official|cash ?sale|"
                         r"sales|copy|duplicate|customer|order|table|guest|server|cashier|tel|"
                         r"phone|date|time|www|http)\b", re.I)
_STOP = re.compile(r"\b(tel|phone|ph|fax|gst|vat|abn|reg|co\.? ?no|company no|date|time|invoice|"
                   r"receipt|cashier|server|table|order|www|http|e-?mail|store ?#?\d|check)\b|"
                   r"@|:\s*\S", re.I)
_SUFFIX = re.compile(r"\b(sdn\.? ?bhd|bhd|ltd|limited|inc|llc|plc|gmbh|co|corp|s/b|enterprise|"
                     r"trading)\.?\)?$", re.I)


def header(page: OcrResult, lines: int = 4) -> tuple[str, str]:
    """(name, address) from the top of ``page``; "" where none is found."""
    rows = [(" ".join(w.text for w in line), _height(line)) for line in page.lines]
    top = [n for n, (text, _) in enumerate(rows[:12]) if _wordy(text)][:3]
    if not top:
        return "", ""
    tallest = max(rows[n][1] for n in top)
    first = next(n for n in top if rows[n][1] >= 0.85 * tallest)
    name, end = [rows[first][0]], first + 1
    while end < len(rows) and len(name) < 2 and _wordy(rows[end][0]) and not re.search(
            r"\d", rows[end][0]) and abs(rows[end][1] - rows[first][1]) <= 0.12 * rows[first][
            1] and not _SUFFIX.search(name[-1]):
        name.append(rows[end][0])
        end += 1
    if end < len(rows) and _registration(rows[end][0]):
        end += 1
    address: list[str] = []
    for text, _ in rows[end:end + lines]:
        if _STOP.search(text) or _phone(text) or _has_date(text) or not re.search(
                r"[^\W\d_]{2}", text):
            break
        address.append(text)
    return " ".join(name), " ".join(address)


def _height(line: list[Word]) -> float:
    return median(w.box[3] - w.box[1] for w in line)


def _wordy(text: str) -> bool:
    """A line that may be a name: three letters or more, mostly letters, not a stock phrase."""
    letters = sum(c.isalpha() for c in text)
    return letters >= 3 and letters >= sum(c.isdigit() for c in text) and not _NOT_A_NAME.match(
        text.strip())


def _registration(text: str) -> bool:
    """A company registration number printed under the name: "(81109-A)", "Co. No. 123-K"."""
    return bool(re.fullmatch(r"\(?\s*(co\.?\s*(reg\.?)?\s*no\.?:?\s*)?[\dA-Z-]*\d[\dA-Z-]*\s*\)?",
                             text.strip(), re.I))


def _phone(text: str) -> bool:
    return bool(re.fullmatch(r"[\d()+\-. /]{7,}", text.strip()))


def _has_date(text: str) -> bool:
    return any(formats.parse_date(w.strip(",;:"), True) for w in text.split())
