"""Pure parsing and rendering of model answers: JSON in fences or prose, Markdown tables, CSV,
printed numbers and dates. No I/O; nothing here changes a digit."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import json_repair

from .errors import ExtractionError

# --- JSON ------------------------------------------------------------------------------------

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)


def find_json(text: str) -> Any:
    """The JSON value in a model's answer: bare, in code fences (an array split over several
    fences is joined), or inside prose. Light damage (trailing commas, single quotes, comments)
    is repaired; a value cut off before its end raises ExtractionError, never half the data."""
    blocks = [body for lang, body in _FENCE.findall(text)
              if lang.lower() in ("", "json", "json5", "jsonc") and _json_start(body) is not None]
    if len(blocks) > 1:
        values = [_parse(b) for b in blocks]
        if all(isinstance(v, list) for v in values):
            return [item for v in values for item in v]
        return values[0]
    return _parse(blocks[0] if blocks else text)


def _json_start(text: str) -> int | None:
    match = re.search(r"[\[{]", text)
    return match.start() if match else None


def _looks_like_json(text: str) -> bool:
    return bool(re.match(r"[\[{]\s*([\[{\"']|[\d-]|true|false|null|[\]}])", text))


def _parse(text: str) -> Any:
    """The first JSON value in ``text``, skipping bracketed prose such as "[see below]"."""
    pos = 0
    while (start := _json_start(text[pos:])) is not None:
        start += pos
        try:
            return json.JSONDecoder().raw_decode(text, start)[0]
        except ValueError:
            pass
        body = _balanced(text, start)
        if body is None:
            if _looks_like_json(text[start:]):
                raise ExtractionError("the JSON in the answer is cut off before its end")
            pos = start + 1
        elif _looks_like_json(body):
            try:
                return json_repair.loads(body, skip_json_loads=True)
            except Exception as e:  # json_repair raises assorted errors on hopeless input
                raise ExtractionError(f"the JSON in the answer cannot be read: {e}") from None
        else:
            pos = start + len(body)
    raise ExtractionError("no JSON object or array was found in the answer")


def _balanced(text: str, start: int) -> str | None:
    """The text from ``start`` to its matching bracket, or None when it never closes."""
    depth, quote, escaped = 0, "", False
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'" and (ch == '"' or not text[i - 1].isalnum()):
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                return text[start:i + 1]
    return None


# --- Markdown tables -----------------------------------------------------------------------

@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


_DELIMITER = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    parts = re.split(r"(?<!\\)\|", line)
    return [_clean_cell(p) for p in parts]


def _clean_cell(cell: str) -> str:
    cell = cell.replace("\\|", "|").strip()
    cell = re.sub(r"<br\s*/?>", " ", cell, flags=re.I)
    match = re.fullmatch(r"(\*\*|__|\*|_|`)(.+)\1", cell)
    return match.group(2).strip() if match else cell


def markdown_tables(text: str) -> list[Table]:
    """Every Markdown table in ``text``: the row before an alignment row is the header; short
    rows are padded, and cells past the header keep their place under added column names."""
    lines = text.splitlines()
    tables = []
    i = 0
    while i < len(lines) - 1:
        if "|" in lines[i] and _DELIMITER.match(lines[i + 1].strip()):
            header = _cells(lines[i])
            body: list[list[str]] = []
            i += 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                if not _DELIMITER.match(lines[i].strip()):
                    body.append(_cells(lines[i]))
                i += 1
            tables.append(_square(header, body))
        else:
            i += 1
    return tables


def _square(header: list[str], body: list[list[str]]) -> Table:
    width = max([len(header)] + [len(_trim(r)) for r in body])
    header = header + [""] * (width - len(header))
    rows = tuple(tuple(_trim(r)[:width] + [""] * (width - len(_trim(r)))) for r in body)
    return Table(tuple(header), rows)


def _trim(row: list[str]) -> list[str]:
    while row and not row[-1]:
        row = row[:-1]
    return row


def table_to_rows(table: Table) -> list[dict[str, str | None]]:
    """Rows as dicts keyed by header (blank headers become ``column_N``, repeats ``name_2``);
    empty cells become None."""
    keys: list[str] = []
    for n, name in enumerate(table.header, 1):
        key = base = name or f"column_{n}"
        suffix = 2
        while key in keys:
            key, suffix = f"{base}_{suffix}", suffix + 1
        keys.append(key)
    return [{k: (v or None) for k, v in zip(keys, row, strict=True)} for row in table.rows]


def tables_rows(text: str) -> list[dict[str, str | None]]:
    """The rows of every Markdown table in ``text``; with several, each row's ``table`` (1, 2,
    ...) comes first."""
    tables = markdown_tables(text)
    return [{"table": n, **row} if len(tables) > 1 else row
            for n, table in enumerate(tables, 1) for row in table_to_rows(table)]


def csv_rows(text: str) -> list[dict[str, str | None]]:
    """Rows of a CSV answer (in a fence or bare), keyed by its header row."""
    fenced = _FENCE.findall(text)
    body = fenced[0][1] if fenced else text
    reader = csv.reader(io.StringIO(body.strip()))
    lines = [r for r in reader if any(c.strip() for c in r)]
    if not lines:
        return []
    table = _square([c.strip() for c in lines[0]], [[c.strip() for c in r] for r in lines[1:]])
    return table_to_rows(table)


# --- numbers and dates ---------------------------------------------------------------------

_CODES = (r"USD|EUR|GBP|CHF|JPY|CAD|AUD|NZD|SGD|HKD|MYR|RM|INR|Rs\.?|IDR|Rp\.?|PHP|THB|CNY|RMB|"
          r"KRW|VND|ZAR|AED|SAR|MXN|BRL|SEK|NOK|DKK|PLN|CZK|HUF|TRY|kr\.?|Fr\.|zł|Kč|Ft")
_CURRENCY = re.compile(rf"^(?:(?:[A-Z]{{1,2}})?[$€£¥₹₱₩฿₫]|{_CODES}|R(?=\s?\d[\d,.]*[.,]\d\d$))\s*|"
                       rf"\s*(?:[$€£¥₹₱₩฿₫]|{_CODES})$", re.I)


def parse_number(text: Any) -> Decimal | None:
    """A printed number as a Decimal: "1,234.50", "1.234,50 €", "$ 3.20", "(12.00)" (negative),
    "12.00-", "−5", "12%". None when ``text`` is not a number. Digits are never changed."""
    if isinstance(text, bool) or text is None:
        return None
    if isinstance(text, int | float | Decimal):
        return Decimal(str(text))
    s = str(text).strip().replace("\u2212", "-").replace("\u00a0", " ").replace("\u202f", " ")
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative, s = True, s[1:-1].strip()
    for _ in range(2):
        s = _CURRENCY.sub("", s).strip()
        if s.startswith(("-", "+")):
            negative ^= s[0] == "-"
            s = s[1:].strip()
        elif s.endswith(("-", "+")):
            negative ^= s[-1] == "-"
            s = s[:-1].strip()
    s = s.removesuffix("%").strip()
    s = re.sub(r"(?<=\d)[ '](?=\d{3}\b)", "", s)  # "1 234,50", "1'234.50"
    if not re.fullmatch(r"\d[\d.,]*", s) or not s[-1].isdigit():
        return None
    s = _plain_digits(s)
    if s is None:
        return None
    try:
        value = Decimal(s)
    except InvalidOperation:
        return None
    return -value if negative else value


def _plain_digits(s: str) -> str | None:
    """"1.234,50" -> "1234.50": the last separator is decimal unless it groups thousands."""
    commas, dots = s.count(","), s.count(".")
    if commas and dots:
        decimal_sep = "," if s.rfind(",") > s.rfind(".") else "."
    elif commas == 1 and not re.search(r",\d{3}$", s):
        decimal_sep = ","
    elif dots == 1:
        decimal_sep = "."
    else:
        decimal_sep = ""
    group_sep = {",": ".", ".": ",", "": "," if commas else "."}[decimal_sep]
    whole, _, frac = s.rpartition(decimal_sep) if decimal_sep else (s, "", "")
    if decimal_sep and (not whole or decimal_sep in whole):
        return None
    groups = whole.split(group_sep)
    if len(groups) > 1 and not (all(len(g) == 3 for g in groups[1:]) and 0 < len(groups[0]) <= 3
                                or all(len(g) == 2 for g in groups[1:-1]) and len(groups[-1]) == 3):
        return None  # "12,34,5" is not a grouped number (Indian "1,23,456" is)
    return "".join(groups) + (f".{frac}" if decimal_sep else "")


_MONTHS = {m: i for i, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
     ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
     ("oct", "october"), ("nov", "november"), ("dec", "december")], 1) for m in names}


_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|[o0]ct|nov|dec)[a-z]{0,6}"  # OCR: "0ct"


def parse_date(text: Any, dayfirst: bool | str | None = None) -> date | None:
    """A printed date: ISO, "20240312", "12 Mar 2024", "05MAR18", "Mar 12, 2024", two-digit
    years, and numeric dates read in the order ``dayfirst`` gives: True or "dmy" ("12/03/2024"
    is 12 March), False or "mdy" (December 3), "ymd" ("24/03/12"); with None only where the date
    tells by itself (a number over 12; "12.03.2024" is day first): an ambiguous date is None,
    never a guess."""
    if isinstance(text, date):
        return text
    s = str(text or "").strip().lower().rstrip(".")
    order = "dmy" if dayfirst is True else "mdy" if dayfirst is False else dayfirst
    try:
        if m := re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[t ].*)?", s):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if m := re.fullmatch(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{2}|\d{4})", s):
            a, b, year = int(m[1]), int(m[3]), m[4]
            if order == "ymd" and len(year) == 2:
                return date(_year(m[1]), b, int(year))
            if a > 12 or b > 12 or a == b:
                return date(_year(year), b, a) if a > 12 else date(_year(year), a, b)
            order = order or ("dmy" if m[2] == "." else None)
            if order is None:
                return None
            return date(_year(year), b, a) if order == "dmy" else date(_year(year), a, b)
        if m := re.fullmatch(rf"(\d{{1,2}})(?:st|nd|rd|th)?[ ./-]?({_MONTH})\.?,?[ ./-]?"
                             r"(\d{4}|\d{2})", s):
            return date(_year(m[3]), _MONTHS[m[2][:3].replace("0", "o")], int(m[1]))
        if m := re.fullmatch(rf"({_MONTH})\.?[ ./-]?(\d{{1,2}})(?:st|nd|rd|th)?(?:,? ?|[ ./-])"
                             r"(\d{4}|\d{2})", s):
            return date(_year(m[3]), _MONTHS[m[1][:3].replace("0", "o")], int(m[2]))
        if m := re.fullmatch(r"((?:19|20)\d\d)(\d\d)(\d\d)", s):  # "20180428"
            return date(int(m[1]), int(m[2]), int(m[3]))
    except (KeyError, ValueError):
        return None
    return None


def ambiguous(text: str) -> bool:
    """Whether the numeric date ``text`` reads as two dates, day first and month first."""
    return parse_date(text, "dmy") != parse_date(text, "mdy") and None not in (
        parse_date(text, "dmy"), parse_date(text, "mdy"))


_DATE_IN_TEXT = re.compile(
    r"(?<![\d/.-])(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2}))"
    r"(?=$|[^\d/.-]|\.\D|\.$|\d{1,2}:\d\d)"
    rf"|(?<![\d])\d{{1,2}}(?:st|nd|rd|th)?[ ./-]?{_MONTH}\.?,?[ ./-]?(?:\d{{4}}|\d{{2}})(?!\d)"
    rf"|\b{_MONTH}\.?[ ./-]?\d{{1,2}}(?:st|nd|rd|th)?(?:,? ?|[ ./-])(?:\d{{4}}|\d{{2}})(?!\d)",
    re.I)


def find_dates(text: str) -> list[str]:
    """The dates printed in ``text``, as printed: "Date:02/17/14,02:21 PM" and "4/4/20127:33"
    (a date glued to its time) hold one each."""
    return [m[0] for m in _DATE_IN_TEXT.finditer(text) if parse_date(m[0], True) is not None]


def _year(text: str) -> int:
    year = int(text)
    return year + (2000 if year < 70 else 1900) if len(text) == 2 else year


_TRUE = {"true", "yes", "y", "x", "✓", "✔", "1", "checked"}
_FALSE = {"false", "no", "n", "", "0", "unchecked"}


_DAY_FIRST = re.compile(  # currencies, taxes and company forms of day-first countries
    r"\bRM ?\d|\b(?:MYR|SGD|AUD|NZD|INR|EUR|GBP|SDN\.? ?BHD|BHD|PTY|LTD|GMBH|PVT|GST|VAT|SST|"
    r"TVA|MWST|USt|IVA|BTW|ABN)\b|[€£₹]|\bS\$|\bRs\.? ?\d", re.I)
_US_STATE = (r"AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|"
             r"MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY")
_DOTTED = "|".join(rf"{s[0]}\.{s[1]}\." for s in _US_STATE.split("|"))  # "N.C."
_MONTH_FIRST = re.compile(  # a US state and ZIP code ("Durham, NC 27704"), "Santa Clara, CA"
    rf"(?:\b(?:{_US_STATE})|\b(?:{_DOTTED})|\b(?:New|North|South|West) [A-Z][a-z]+)\.?,?\s+"
    rf"\d{{5}}(?:-\d{{4}})?\b|^[A-Z][A-Za-z .'-]+,?\s+(?:{_US_STATE})$", re.M)
_DECIMAL_COMMA = re.compile(r"\d,\d\d(?![\d.,])")  # "3,10": continental Europe, Latin America


def date_order(values: Any) -> str | None:
    """How the numeric dates among ``values`` (strings, nested) are written: "dmy" or "mdy",
    as the dates themselves tell (a number over 12: "25/03/2024", "03/25/2024"), else the
    dates with month names ("05 MAR 2018" day first, "Mar 5, 2018" month first), else the
    conventions of the country printed (a currency, tax or company form of a day-first
    country: RM, GST, SDN BHD, VAT, €, or decimal commas; a US state and ZIP code for month
    first). None where nothing tells or the evidence disagrees."""
    texts, stack = [], [values]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, str):
            texts.append(item)
    numeric, named = set(), set()
    for text in texts:
        for m in _DATE_IN_TEXT.finditer(text):
            if parts := re.fullmatch(r"(\d{1,2})[-/.](\d{1,2})[-/.]\d{2,4}", m[0]):
                a, b = int(parts[1]), int(parts[2])
                if (a > 12) != (b > 12) and max(a, b) <= 31:
                    numeric.add("dmy" if a > 12 else "mdy")
            elif re.search("[a-z]", m[0], re.I) and parse_date(m[0]) is not None:
                named.add("dmy" if m[0][0].isdigit() else "mdy")
    for told in (numeric, named):
        if told:
            return told.pop() if len(told) == 1 else None
    joined = "\n".join(texts)
    commas = len(_DECIMAL_COMMA.findall(joined))
    conventions = {"dmy"} if _DAY_FIRST.search(joined) or commas >= 2 and commas > len(
        re.findall(r"\d\.\d\d(?![\d.,])", joined)) else set()
    conventions |= {"mdy"} if _MONTH_FIRST.search(joined) else set()
    return conventions.pop() if len(conventions) == 1 else None


def day_first(values: Any) -> bool | None:
    """Whether the dates among ``values`` (nested) are written day first (``date_order``):
    True when one reads "25/03", False when one reads "03/25", None when none tells."""
    order = date_order(values)
    return None if order is None else order == "dmy"


def coerce(value: Any, json_type: str, fmt: str | None = None,
           dayfirst: bool | None = None) -> Any:
    """``value`` as ``json_type`` when it reads as one ("1,234.50" -> 1234.5, "12 Mar 2024" ->
    "2024-03-12" for format date); otherwise unchanged, so the validator can name the problem."""
    if json_type in ("number", "integer") and isinstance(value, str | int | float) \
            and not isinstance(value, bool):
        number = parse_number(value)
        if number is None:
            return value
        if json_type == "integer" or (number == number.to_integral_value()
                                      and "." not in str(value) and "," not in str(value)):
            return int(number) if number == number.to_integral_value() else value
        return float(number)
    if json_type == "boolean" and isinstance(value, str):
        word = value.strip().lower()
        return True if word in _TRUE else False if word in _FALSE else value
    if json_type == "string":
        if fmt == "date" and value is not None:
            parsed = parse_date(value, dayfirst)
            return parsed.isoformat() if parsed else value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    return value


# --- rendering -----------------------------------------------------------------------------

def _columns(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(k for row in rows for k in row))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def to_markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    cols = _columns(rows)

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    out = [line(cols), "|" + "|".join("---" for _ in cols) + "|"]
    out += [line([_text(row.get(c)) for c in cols]) for row in rows]
    return "\n".join(out) + "\n"


def to_csv(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    cols = _columns(rows)
    writer.writerow(cols)
    writer.writerows([_text(row.get(c)) for c in cols] for row in rows)
    return buf.getvalue()


def to_json(rows: Any) -> str:
    return json.dumps(rows, indent=2, ensure_ascii=False, default=_json_default) + "\n"


def to_jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, default=_json_default) + "\n" for r in rows)
