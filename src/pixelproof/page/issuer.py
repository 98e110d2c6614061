"""The head of a receipt or invoice: who issued it (the registered company, or the name in the
largest type at the top) and where (the lines that read as an address under it, before the
first phone number, tax number, date or labelled line).
"""

from __future__ import annotations

import re
from statistics import median

from .. import formats
from ..types import OcrResult, Word

_NOT_A_NAME = re.compile(r"\b(welcome|thank|invoice|receipt|official|cash ?sale|copy|"
                         r"duplicate|customers?|order|table|guests?|server|cashier|number|closed|"
                         r"www|http)\b|^\W*(tel|phone|date|time|sales)\b", re.I)
_STOP = re.compile(r"\b(te[l1]|phone|ph|fax|gst|vat|abn|reg|co\.? ?no|company no|date|time|"
                   r"invoice|receipt|cashier|server|table|order|www|http|e-?mail|store ?#? ?\d+|"
                   r"check)\b|@|:\s*\S|\d{8}", re.I)


def header(page: OcrResult, lines: int = 6) -> tuple[str, str]:
    """(name, address) from the head of ``page``; "" where none is found. The issuer is the
    line that names a registered company ("... SDN BHD", "LTD", "GmbH") or sits over a
    registration number, above the address; a line in much larger type above it, read with
    full confidence, is a brand printed as a logo and is taken instead; a line read with
    little confidence (handwriting, a stamp) never. Else the largest type among the first
    lines that read as a name. The registration number is left out. The address is the lines
    under the name, up to ``lines``, before the first phone, tax or date line."""
    rows = [(" ".join(w.text for w in line), _height(line),
             min(w.confidence for w in line)) for line in page.lines]
    top = [n for n, (text, _, sure) in enumerate(rows[:12]) if _wordy(text) and sure >= 0.5][:3]
    first = next((n for n in top if rows[n][1] >= 0.85 * max(rows[k][1] for k in top)), None)
    registered = _registered(rows[:15])
    if registered is not None and (first is None or first >= registered or rows[first][
            2] < 0.9 or rows[registered][1] >= 0.75 * rows[first][1]):
        first = registered
    if first is None:
        return "", ""
    name, end = [rows[first][0]], first + 1
    prev = rows[first - 1] if first else ("", 0.0, 0.0)
    if first == registered and len(_bare(name[0]).split()) <= 2 and _FORM.fullmatch(_bare(
            name[0])) and _wordy(prev[0]) and \
            prev[2] >= 0.5 and abs(prev[1] - rows[first][1]) <= 0.2 * prev[1]:
        name.insert(0, prev[0])  # "FOODTOWN" over "SUPERMARKETS LIMITED"
    elif end < len(rows) and len(name[0].split()) <= 2 and len(rows[end][0].split()) <= 2 \
            and _wordy(rows[end][0]) and _place(rows[end][0]) == "words" and abs(
            rows[end][1] - rows[first][1]) <= 0.12 * rows[first][1]:
        name.append(rows[end][0])  # a short name broken over two lines
        end += 1
    while end < len(rows) and _registration(rows[end][0]):
        end += 1
    head = [text for n, (text, _, _) in enumerate(rows[:end + 12]) if (n >= end or (
        first != registered and n < first)) and not (_FORM.fullmatch(_bare(
            text)) or _REG_NUMBER.search(text))]  # a registered name heads its address
    return _bare(" ".join(name)).lstrip(".,*-~ "), " ".join(_address(head, lines))


# A registered company's form, printed after its name.
_FORM = re.compile(r".*\W(sdn\.? ?bhd|[s5]/[b8]|bhd|berhad|ltd|limited|llc|l\.l\.c|inc|corp|"
                   r"corporation|plc|llp|pty|gmbh|ag|kg|s\.?a\.?r?\.?l?|s\.?p\.?a|b\.?v|"
                   r"pte|pvt|enterprises?|trading|co)\.?(?:\s*\(.*\))?", re.I)  # "(branch)"
_REG_NUMBER = re.compile(r"\s*\((?:co\.? ?(?:reg\.? ?)?no\.?:? ?)?[A-Z]{0,2}\d{3,}[- ]?[A-Z]\)|"
                         r"\s+(?:co\.? ?reg|co\.? ?no|company no|roc|reg\.? no)\b.*",
                         re.I)  # "(126926-H)", "Co. Reg No ..."


def _bare(name: str) -> str:
    """A company name without the registration number printed beside it."""
    return _REG_NUMBER.sub("", name).strip(" ,-") or name


def _registered(rows: list[tuple[str, float, float]]) -> int | None:
    """The first of ``rows`` above the address that names a registered company, or that a
    registration number follows (on its line or the next)."""
    words = False  # whether a line of words came yet (a stamped number may come first)
    for n, (text, _, sure) in enumerate(rows):  # sure: the line's least confident word
        bare = _bare(text)
        below = rows[n + 1][0] if n + 1 < len(rows) else ""
        marked = _FORM.fullmatch(bare) or _REG_NUMBER.search(text)
        if sure < 0.5 and not marked:
            continue  # handwriting, a stamp
        if words and (_place(bare) == "place" and not marked or _has_date(text) or _money(
                text) or _phone(text)):
            return None  # the address, the date or the items: the head is over
        words = words or bool(re.search(r"[^\W\d_]{3}", bare))
        if not re.search(r"[^\W\d_]{3}", bare) or _NOT_A_NAME.search(bare) or _STOP.search(
                bare):
            continue
        if marked or _registration(below) and sure >= 0.5:
            return n
    return None


def _address(rows: list[str], most: int) -> list[str]:
    """The first run of address lines among ``rows`` (the head of the page, the name left out),
    above the date and the items: it starts at a line that reads as a place (a street word, a
    postcode, "City, ST", or a number beside words) and goes on over places and plain words,
    up to ``most`` lines."""
    kinds = [_place(text) for text in rows]
    body = next((n for n, text in enumerate(rows) if _has_date(text) or _money(text)),
                len(rows))  # the address is printed above the date and the items
    start = next((n for n, kind in enumerate(kinds[:body]) if kind == "place"), None)
    if start is None:
        return []
    out = [rows[start]]
    for text, kind in zip(rows[start + 1:], kinds[start + 1:], strict=True):
        before = _STOP.split(text, maxsplit=1)[0].rstrip(" ,;-")
        if kind not in ("place", "words") and before and before != text and _place(
                before) == "place" and len(out) < most:
            out.append(before)  # "DURHAM, N.C. 27704  Tel (919) 220-9638"
        if kind not in ("place", "words") or len(out) == most:
            break
        out.append(text)
    return out


def _money(text: str) -> bool:
    return bool(re.search(r"\d[.,]\d\d\b(?![.,/-]?\d)", text))


_STREET = re.compile(r"\b(st|street|str|rd|road|ave|av|avenue|blvd|boulevard|lane|ln|dr|drive|"
                     r"hwy|highway|way|plaza|plz|jalan|jln|jl|taman|floor|flr|fl|suite|ste|unit|"
                     r"level|lot|box|centre|center|mall|complex|bldg|building|block|blk|rue|via|"
                     r"strasse|straße|calle|place|pl|court|ct|pkwy|parkway|square|sq|market|"
                     r"airport|station|route|rte|marg|nagar|crescent|terrace|parade|lebuh|lorong|"
                     r"persiaran|kampung|kg)\b\.?|\bno\.? ?\d+[a-z]?\b",
                     re.I)


def _place(text: str) -> str:
    """What kind of line ``text`` is for an address: "place", "words", "stop" or "other"."""
    if _STOP.search(text) or _phone(text) or _has_date(text) or not re.search(
            r"[^\W\d_]{2}", text) or re.search(r"\d[.,]\d\d\b", text):
        return "stop"
    if _STREET.search(text) or re.search(r",\s*[A-Z]{2}\b|\b[A-Z]{2}\s+\d{5}\b|\b\d{4,6}\b",
                                         text) or re.match(r"\d+[A-Za-z]?\b", text):
        return "place"
    return "words" if not re.search(r"\d", text) and len(text.split()) <= 5 else "other"


def _height(line: list[Word]) -> float:
    return median(w.box[3] - w.box[1] for w in line)


def _wordy(text: str) -> bool:
    """A line that may be a name: three letters or more, mostly letters, not a stock phrase
    nor an address."""
    letters = sum(c.isalpha() for c in text)
    return letters >= 3 and letters >= 2 * sum(c.isdigit() for c in text) and not (
        _NOT_A_NAME.search(text) or _place(text) in ("place", "stop"))


def _registration(text: str) -> bool:
    """A company registration number printed under the name: "(81109-A)", "928627-V",
    "Co. No. 123-K", "(CO.NO. 1208604-T)", "Company Reg #1101083-T"."""
    return bool(re.fullmatch(r"\(?\s*\d{3,}\s*-?\s*[A-Z]\s*\)?|\(?\s*(?:co\b|company\b|roc\b)"
                             r"\W*(?:reg\w*|no)?\W*(?:no)?\W*[\dA-Z-]*\d{3,}[\dA-Z-]*\s*\)?",
                             text.strip(), re.I))


def _phone(text: str) -> bool:
    return bool(re.fullmatch(r"[\d()+\-. /]{7,}", text.strip()))


def _has_date(text: str) -> bool:
    return any(formats.parse_date(w.strip(",;:"), True) for w in text.split())
