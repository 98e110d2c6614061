"""Tables and labelled values rebuilt from OCR word boxes, with or without ruling lines.

A line's words split into cells where the gap between them is wider than the text is tall.
Consecutive lines of several cells form a table; its columns are the x-ranges that the cells of
all its rows overlap on. A row with nothing in the first column continues the row above
(a cell wrapped over two lines). Lines like "Total: 42.10" or "Date 12/03/2024" are key-values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from statistics import median

from .types import OcrResult, Word

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Cell:
    text: str
    box: Box


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    box: Box
    cells: tuple[tuple[Cell | None, ...], ...] = ()  # body cells with their boxes, like rows
    printed: bool = True  # the header was printed; else the columns are named by what they hold


def _union(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def cells_of(line: list[Word]) -> list[Cell]:
    """Words joined into cells; a gap wider than the text height starts a new cell."""
    return [Cell(" ".join(w.text for w in g), _union([w.box for w in g]))
            for g in word_groups(line)]


def word_groups(line: list[Word]) -> list[list[Word]]:
    """A line's words in cells: a gap wider than the text height starts a new cell."""
    height = median(w.box[3] - w.box[1] for w in line)
    groups: list[list[Word]] = [[line[0]]]
    for prev, word in zip(line, line[1:], strict=False):
        if word.box[0] - prev.box[2] > 0.9 * height:
            groups.append([])
        groups[-1].append(word)
    return groups


_KEY_VALUE = re.compile(r"^(?P<key>[^\W\d][^:]{0,40}?)\s*:\s*(?P<value>\S.*)$")
_KEY_NUMBER = re.compile(r"^(?P<key>[^\W\d][\w.#/ ]{0,30}?)\s+(?P<value>[-($€£]?\d[\d.,/:)%-]*)$")


def _is_key_value(cells: list[Cell]) -> bool:
    return len(cells) <= 2 and (cells[0].text.endswith(":") or len(cells) == 1 and bool(
        _KEY_VALUE.match(cells[0].text) or _KEY_NUMBER.match(cells[0].text)))


def find_tables(ocr: OcrResult, min_rows: int = 2) -> list[Table]:
    """Tables in reading order; the first row is the header when every cell is filled and
    holds words (years such as "2024" may head columns of figures)."""
    tables, run = [], []
    lines = ocr.lines
    for n, line in enumerate(lines + [[]]):
        cells = cells_of(line) if line else []
        gap_ok = bool(run) and bool(line) and _gap(lines[n - 1], line) < 2.5
        if len(cells) >= 2 and not _is_key_value(cells) and (gap_ok or not run):
            run.append(cells)
            continue
        if len(cells) == 1 and gap_ok and len(run) >= 2 and not _is_key_value(cells):
            run.append(cells)  # maybe a wrapped cell; kept only if it fits a column
            continue
        if len(run) >= min_rows:
            table = _table(run)
            if table is not None:
                tables.append(table)
        run = [cells] if len(cells) >= 2 and not _is_key_value(cells) else []
    return tables


def _gap(above: list[Word], below: list[Word]) -> float:
    """Space between two lines, in line heights."""
    height = median(w.box[3] - w.box[1] for w in below)
    return (min(w.box[1] for w in below) - max(w.box[3] for w in above)) / height


def _table(run: list[list[Cell]]) -> Table | None:
    spans: list[list[float]] = []
    for cell in sorted((c for row in run for c in row), key=lambda c: c.box[0]):
        if spans and cell.box[0] < spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], cell.box[2])
        else:
            spans.append([cell.box[0], cell.box[2]])
    if len(spans) < 2:
        return None
    grid: list[list[Cell | None]] = []
    for row in run:
        placed: list[Cell | None] = [None] * len(spans)
        for cell in row:
            col = next(i for i, (x0, x1) in enumerate(spans) if x0 <= cell.box[0] <= x1)
            old = placed[col]
            placed[col] = cell if old is None else Cell(f"{old.text} {cell.text}",
                                                        _union([old.box, cell.box]))
        if placed[0] is None and grid and all(not _number(c.text) for c in row):
            grid[-1] = [_join(a, b) for a, b in zip(grid[-1], placed, strict=True)]
        else:
            grid.append(placed)
    texts = [tuple(c.text if c else "" for c in row) for row in grid]
    has_header = all(texts[0]) and not any(_number(t) and not _year(t) for t in texts[0]) \
        and not all(_year(t) for t in texts[0])
    box = _union([c.box for row in grid for c in row if c])
    if has_header:
        return Table(texts[0], tuple(texts[1:]), box, tuple(tuple(row) for row in grid[1:])) \
            if len(grid) > 1 else None
    grid = _split_times(grid)
    texts = [tuple(c.text if c else "" for c in row) for row in grid]
    return Table(_named(texts), tuple(texts), box, tuple(tuple(row) for row in grid), False)


_TIMES = re.compile(r"(\d+(?:[.,]\d+)?)\s*[xX×@*]\s*([$€£]?\s*\d[\d.,]*)")  # "3 x 2.70"
_MONEY = re.compile(r"[-(]?[$€£]?\s*(RM)?\s*\d[\d,]*[.,]\d\d\)?\s*[A-Z*]{0,2}", re.I)


def _split_times(grid: list[list[Cell | None]]) -> list[list[Cell | None]]:
    """``grid`` with a column of "qty x price" cells ("3 x 2.70", "2 @ 1.50") as two."""
    for col in range(len(grid[0]) - 1, -1, -1):
        filled = [c for row in grid if (c := row[col]) is not None]
        split = [_TIMES.fullmatch(c.text.strip()) for c in filled]
        if not filled or sum(m is not None for m in split) * 2 < len(filled):
            continue
        for row in grid:
            cell = row[col]
            match = _TIMES.fullmatch(cell.text.strip()) if cell is not None else None
            if cell is None or not match:
                row[col:col + 1] = [cell, None]
                continue
            x0, y0, x1, y1 = cell.box
            cut = x0 + (x1 - x0) * match.end(1) / len(cell.text)
            row[col:col + 1] = [Cell(match[1], (x0, y0, cut, y1)),
                                Cell(match[2].replace(" ", ""), (cut, y0, x1, y1))]
    return grid


def _named(texts: list[tuple[str, ...]]) -> tuple[str, ...]:
    """Names for the columns of a table printed without a header, by what they hold:
    description (words), quantity (small whole numbers), unit_price and amount (money, the
    amount rightmost); "column_N" where a column is none of these, or the table is no list of
    items (no description and amount, or mostly labels such as "Subtotal", "Tax", "Total")."""
    kinds = []
    for col in range(len(texts[0])):
        filled = [row[col].strip() for row in texts if row[col].strip()]
        if filled and all(_MONEY.fullmatch(t) for t in filled):
            kinds.append("money")
        elif filled and all(re.fullmatch(r"\d{1,3}", t) for t in filled):
            kinds.append("quantity")
        elif filled and sum(bool(re.match(r"\W*[^\W\d_]{2}", t)) for t in filled) * 2 > len(
                filled):
            kinds.append("description")
        else:
            kinds.append("")
    money = [n for n, k in enumerate(kinds) if k == "money"]
    names = [f"column_{n}" for n in range(1, len(kinds) + 1)]
    if not money or "description" not in kinds:
        return tuple(names)
    words = [row[kinds.index("description")] for row in texts]
    if sum(qualified(w) or fits("total", w) or fits("subtotal", w) for w in words) * 2 >= len(
            words):
        return tuple(names)  # "Subtotal / Tax / Total": labels and their figures, no items
    names[money[-1]] = "amount"
    if len(money) > 1:
        names[money[-2]] = "unit_price"
    for kind in ("description", "quantity"):
        if kind in kinds:
            names[kinds.index(kind)] = kind
    return tuple(names)


def _join(a: Cell | None, b: Cell | None) -> Cell | None:
    if a is None or b is None:
        return a or b
    return Cell(f"{a.text} {b.text}", _union([a.box, b.box]))


def _year(text: str) -> bool:
    """A year heading a column of figures ("2023", "2024")."""
    return bool(re.fullmatch(r"(19|20)\d\d", text.strip()))


def _number(text: str) -> bool:
    return bool(re.fullmatch(r"[-+($€£]*\s*\d[\d.,/:%-]*\)?\s*[€]?", text.strip()))


def key_values(ocr: OcrResult, found: list[Table] | None = None
               ) -> list[tuple[str, str, Box]]:
    """(label, value, value box) for lines like "Total: 42.10", "Date 12/03/2024", and
    "Plan:  Team" laid out in two cells. Table rows are left out, except the rows of a
    headerless two-column table of labels and values ("Subtotal      16.30"). ``found``: the
    page's tables, when already found."""
    out: list[tuple[str, str, Box]] = []
    found, done = find_tables(ocr) if found is None else found, set()
    for line in ocr.lines:
        box = _union([w.box for w in line])
        table = next((t for t in found if t.box[1] <= (box[1] + box[3]) / 2 <= t.box[3]), None)
        if table is not None:
            if _label_list(table) and id(table) not in done:
                done.add(id(table))
                out.extend((a.text, b.text, b.box) for a, b in table.cells if a and b)
            continue
        cells = cells_of(line)
        if len(cells) == 2 and cells[0].text.endswith(":"):
            out.append((cells[0].text.rstrip(": "), cells[1].text, cells[1].box))
            continue
        for cell in cells:
            match = _KEY_VALUE.match(cell.text) or _KEY_NUMBER.match(cell.text)
            if match and not _KEY_VALUE.match(cell.text) and _a_name_and_number(match):
                continue  # "CORNER STORE 24": a name and a house number, not a label
            if match:
                out += [(key, value, _value_box(line, value, cell.box))
                        for key, value in _pairs(match["key"].strip(), match["value"].strip())]
    return out


def labels(ocr: OcrResult, found: list[Table] | None = None) -> list[tuple[str, str, Box]]:
    """``key_values`` and, besides, every other place where a labelled value may be printed:
    a line that ends with a figure after words ("TOTAL   13.10", "08:37PM Total 1360.00",
    "Total Qty  3" among a table's rows), a figure under its heading in a table of one row
    ("GALLONS  TOTAL" over "9.505  $19.00"), a label whose figure OCR read as a line of its
    own, beside it or under it, and one read with another row's figure. ``found``: the page's
    tables, when already found."""
    found = find_tables(ocr) if found is None else found
    out = key_values(ocr, found)
    seen = {box for _, _, box in out}
    lines = ocr.lines  # one copy: the helpers below tell lines apart by identity
    ends = [end for line in lines if (end := _ends(line))]
    for label, _, words in ends:
        box = _union([w.box for w in words])
        if box not in seen:
            out.append((label, _figure_text(words), box))
            seen.add(box)
    for table in found:
        if len(table.cells) == 1 and table.printed:
            out += [(head, cell.text, cell.box) for head, cell in zip(
                table.header, table.cells[0], strict=True) if cell and _number(cell.text)]
    figures = _figure_lines(lines)
    return out + [place for place in _apart(lines, figures) if place[2] not in seen] + \
        _nearer(ends, figures)


def _ends(line: list[Word]) -> tuple[str, list[Word], list[Word]] | None:
    """(label, its words, the figure's words) for a line that ends with a figure after words."""
    groups = word_groups(line)
    n = len(groups[-1])
    while n and (re.search(r"\d", groups[-1][n - 1].text) or groups[-1][n - 1].text in ".,$€£"):
        n -= 1  # the figure at the end of the line: "16 . 10" and "$ 16.24" as OCR split them
    while 0 < n < len(groups[-1]) and _CURRENCY.fullmatch(groups[-1][n - 1].text):
        n -= 1  # "TOTAL INCL. GST  RM 8.60"
    value_words = groups[-1][n:]
    at = len(groups) - (1 if n else 2)  # the group the label is in
    if not n and at > 0 and _CURRENCY.fullmatch(" ".join(w.text for w in groups[at])):
        at -= 1  # "TOTAL   RM   60.30": the currency printed as a column of its own
    label_words = groups[-1][:n] or (groups[at] if at >= 0 else [])
    if at > 0 and groups[at - 1][-1].text.endswith(":"):
        label_words = groups[at - 1] + label_words  # "TOTAL:   Palin $48.40", a stray word read
    label = _label_text(label_words)
    if re.search(r":[^\d:]*$", label):
        label = label.rsplit(":", 1)[0]
    if not value_words or ":" in label.rstrip(": ") or not re.match(r"[^\W\d]{2}", label):
        return None
    if not _number(re.sub(r"^[^\d(+-]*|[^\d)]*$", "", _figure_text(value_words))):
        return None
    return label.rstrip(": "), label_words, value_words


_CURRENCY = re.compile(r"[$€£¥₹]|RM|MYR|USD|EUR|GBP|SGD|AUD|CAD|NZD|INR|S\$|Rs\.?|CHF|kr|"
                       r"\(RM\)|\(\$\)", re.I)


def _label_text(words: list[Word]) -> str:
    """A label's words without a leading count, time or mark ("1 Coffee", "15:05 Amt Due",
    "A 9.00% TAX", "***TOTAL")."""
    text = re.sub(r"^(?:[^A-Za-z]*\d\S*\s+|[^\W\d]\s+(?=\S*\d))+", "",
                  " ".join(w.text for w in words))
    return re.sub(r"^[^\w(]+", "", text)


def _figure_text(words: list[Word]) -> str:
    """A figure's words as one, "16 . 10" and "€28 .95" joined as printed."""
    return re.sub(r"\s*([.,])\s*(?=\d\d\b)", r"\1", " ".join(w.text for w in words))


def _apart(lines: list[list[Word]], figures: list[list[Word]]) -> list[tuple[str, str, Box]]:
    """Labels whose figures OCR read as lines of their own: a column of labels beside a column
    of figures (printed in two blocks, or skewed so that the rows do not line up), and a
    heading line over a line of figures ("Amt Due" over "€28.95"). ``figures``: the lines
    that are figures only."""
    named = [(line, label) for line in lines if re.match(r"[^\W\d]{2}", label := _label_text(
        line)) and not re.search(r"\d", re.sub(r"\(.*?\)", "", label))]
    if not named or not figures:
        return []
    out, used = [], set()
    pairs = sorted(((abs(_level(f) - _level(line)), n, k) for n, (line, _) in enumerate(named)
                    for k, f in enumerate(figures) if f[0].box[0] > line[-1].box[2]))
    for dy, n, k in pairs:  # each label with the figure nearest its level, if near enough
        (line, label), f = named[n], figures[k]
        if dy < 0.6 * max(_height(line), _height(f)) and not {id(line), id(f)} & used:
            used |= {id(line), id(f)}
            out.append((label.rstrip(": "), _figure_text(f), _union([w.box for w in f])))
    for line, _ in named:
        below = min((f for f in lines if line[0].box[1] < f[0].box[1] and 0 < _level(
            f) - _level(line) < 2 * _height(line) and f[-1].box[2] > line[0].box[0] and
            f[0].box[0] < line[-1].box[2]), key=_level, default=None)  # the next line down
        if id(line) in used or below is None or id(below) in used or not any(
                below is f for f in figures):
            continue
        used.add(id(below))
        values = word_groups(below)
        heads: list[list[Word]] = [[] for _ in values]
        for word in line:
            heads[min(range(len(values)), key=lambda k: abs(_centre(values[k]) - (
                word.box[0] + word.box[2]) / 2))].append(word)
        out += [(_label_text(head).rstrip(": "), _figure_text(value), _union(
            [w.box for w in value])) for head, value in zip(heads, values, strict=True)
            if head and re.match(r"[^\W\d]{2}", _label_text(head))]
    return out


def _nearer(ends: list[tuple[str, list[Word], list[Word]]], figure_lines: list[list[Word]]
            ) -> list[tuple[str, str, Box]]:
    """Labels that OCR read with another row's figure (a skewed or curled photo), each with
    the figure nearest its level too, when that is nearer than its own. ``ends``: the lines'
    ``_ends``; ``figure_lines``: the lines that are figures only."""
    figures = figure_lines + [end[2] for end in ends]
    levels = {id(f): _level(f) for f in figures}
    out = []
    for label, words, own in ends:
        level = _level(words)
        near = min((f for f in figures if f[0].box[0] > words[-1].box[2]),
                   key=lambda f: abs(levels[id(f)] - level), default=own)
        if near is not own and abs(levels[id(near)] - level) < min(
                abs(levels[id(own)] - level), 0.6 * _height(words)):
            out.append((label, _figure_text(near), _union([w.box for w in near])))
    return out


def _figure_lines(lines: list[list[Word]]) -> list[list[Word]]:
    return [line for line in lines if all(_number(_figure_text(g)) for g in word_groups(line))]


def _level(line: list[Word]) -> float:
    return sum(w.box[1] + w.box[3] for w in line) / (2 * len(line))


def _height(line: list[Word]) -> float:
    return median(w.box[3] - w.box[1] for w in line)


def _centre(words: list[Word]) -> float:
    return (words[0].box[0] + words[-1].box[2]) / 2


# Words that make a label name something else than a field it shares a word with ("Total Qty"
# is not the total, "Company No" not the company).
_OTHER = {"no", "number", "num", "nbr", "id", "qty", "quantity", "count", "items", "item",
          "tax", "gst", "vat", "sst", "discount", "disc", "saving", "savings", "saved", "change",
          "tendered", "cash", "card", "tel", "phone", "fax", "reg", "registration", "code",
          "points", "rounding", "round", "sub", "tip", "tips", "time", "net", "before", "excl",
          "tender", "original", "previous"}
_SAME = [{"tax", "vat", "gst", "sst", "hst", "pst", "btw", "mwst", "ust", "iva", "tva"},
         {"total", "ttl"}, {"subtotal", "net"}]  # names printed for the same thing


def fits(name: str, label: str) -> bool:
    """Whether a printed ``label`` names the field ``name``: the same words (OCR noise
    allowed), or the field's words plus words that only qualify them ("Total Amount" for
    ``total``, "Total:" for ``total_amount``), never a label naming something else ("Total Qty",
    "Company No")."""
    field_words = _key(name).split()
    label = re.sub(r"\(.*?\)|\binc(l\w*|\w*ive)?\b.*", "", label, flags=re.I)  # "Inclucive"
    label_words = [w for w in re.findall(r"[^\W\d_]+", _key(label))
                   if w not in ("the", "of", "in", "rm", "myr", "rs")]
    if not field_words or not label_words:
        return False
    joined = "".join(field_words), "".join(label_words)
    if abs(len(joined[0]) - len(joined[1])) <= 1 and _same_word(*joined):
        return True  # "SUB TOTAL" for subtotal
    same = [any(_same_word(f, w) for w in label_words) for f in field_words]
    extra = [w for w in label_words if not any(_same_word(f, w) for f in field_words)]
    if all(same):
        return not any(_same_word(w, o) for w in extra for o in _OTHER)
    return not extra and any(same)


def qualified(label: str) -> bool:
    """Whether ``label`` has a word that makes it name something else ("Total Qty", "Net
    Total", "Amount Tendered")."""
    return any(_same_word(w, o) for w in _key(label).split() for o in _OTHER)


def _same_word(a: str, b: str) -> bool:
    return a == b or any({a, b} <= group for group in _SAME) or len(a) >= 4 and SequenceMatcher(
        None, a, b).ratio() >= 0.8


def _key(text: str) -> str:
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)  # "TotalSales" as OCR glued it
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


_GLUED = re.compile(r"(?P<label>[^\W\d][^\W\d.]+\s?[:#])(?P<value>[\w$€£(+-].*)")


def split_glued(ocr: OcrResult) -> OcrResult:
    """``ocr`` with labels that OCR glued to their value ("DATE:15/06/2017", "TOTAL:MYR",
    "Receipt#24881") read as two words, the box shared by letter count; and letter-spaced
    text that OCR read a character a word ("2 1 - 0 9 - 1 5") read as one word."""
    words = []
    for word in _unspaced(ocr.words):
        m = _GLUED.fullmatch(word.text)
        if not m or re.fullmatch(r"\d{1,2}", m["value"]):
            words.append(word)
            continue
        x0, y0, x1, y1 = word.box
        cut = x0 + (x1 - x0) * len(m["label"]) / len(word.text)
        words += [replace(word, text=m["label"], box=(x0, y0, cut, y1)),
                  replace(word, text=m["value"], box=(cut, y0, x1, y1))]
    return ocr if words == list(ocr.words) else replace(ocr, words=tuple(words))


def _unspaced(words: tuple[Word, ...]) -> list[Word]:
    """Runs of three or more one-character words set a letter's space apart, each as one."""
    out: list[list[Word]] = []
    for word in words:
        run = out[-1] if out else []
        if run and len(word.text) == 1 and len(run[-1].text) == 1 and word.line == run[
                -1].line and 0 <= word.box[0] - run[-1].box[2] < 0.5 * (word.box[3] - word.box[1]):
            run.append(word)
        else:
            out.append([word])
    joined = [[replace(run[0], text="".join(w.text for w in run), box=_union(
        [w.box for w in run]))] if len(run) >= 3 else run for run in out]
    return [w for run in joined for w in run]


_NEXT_LABEL = re.compile(r"\s+(?=[^\W\d][\w.#/]*(?: [^\W\d][\w.#/]*){0,2}\s*:\s*\S)")


def _pairs(key: str, value: str) -> list[tuple[str, str]]:
    """``key`` with ``value``, and the labels printed after it on the same cell each with its
    own value ("Receipt No: 1234 Date: 12/03/2024" is two pairs)."""
    first, *rest = _NEXT_LABEL.split(value)
    return [(key, first)] + [(k.strip(), v.strip()) for k, _, v in (
        part.partition(":") for part in rest)]


_COUNTED = {"no", "nr", "num", "number", "qty", "id", "ref", "table", "guests", "guest", "pax",
            "pump", "items", "item", "check", "order", "seat", "lane", "till", "reg"}


def _a_name_and_number(match: re.Match[str]) -> bool:
    """Whether a label-less "WORDS 24" is a name and a number printed after it (a shop and its
    house number), not a label and its count ("Table 12", "Total Qty 3", "Receipt No 20931")."""
    words = re.findall(r"[^\W\d_]+", match["key"].casefold())
    return match["value"].isdigit() and len(words) > 1 and words[-1] not in _COUNTED and \
        not match["key"].rstrip().endswith("#")


def _label_list(table: Table) -> bool:
    """A headerless two-column table whose left cells are words and right cells figures."""
    return not table.printed and len(table.header) == 2 and all(
        a is not None and b is not None and not _number(a.text) and _number(b.text)
        for a, b in table.cells)


def _value_box(line: list[Word], value: str, fallback: Box) -> Box:
    """The box of the words that make up ``value`` (the tail of its cell)."""
    words = [w for w in line if fallback[0] <= w.box[0] and w.box[2] <= fallback[2]]
    for start in range(len(words)):  # the value printed as words of its own
        for end in range(start + 1, len(words) + 1):
            if " ".join(w.text for w in words[start:end]) == value:
                return _union([w.box for w in words[start:end]])
    taken: list[Word] = []
    for word in reversed(words):
        taken.insert(0, word)
        if " ".join(w.text for w in taken).endswith(value) and \
                value.startswith(taken[0].text.split(":")[-1] or value[:1]):
            break
    return _union([w.box for w in taken]) if taken else fallback
