"""Tables and labelled values rebuilt from OCR word boxes, with or without ruling lines.

A line's words split into cells where the gap between them is wider than the text is tall.
Consecutive lines of several cells form a table; its columns are the x-ranges that the cells of
all its rows overlap on. A row with nothing in the first column continues the row above
(a cell wrapped over two lines). Lines like "Total: 42.10" or "Date 12/03/2024" are key-values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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


def _union(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def cells_of(line: list[Word]) -> list[Cell]:
    """Words joined into cells; a gap wider than the text height starts a new cell."""
    height = median(w.box[3] - w.box[1] for w in line)
    groups: list[list[Word]] = [[line[0]]]
    for prev, word in zip(line, line[1:], strict=False):
        if word.box[0] - prev.box[2] > 0.9 * height:
            groups.append([])
        groups[-1].append(word)
    return [Cell(" ".join(w.text for w in g), _union([w.box for w in g])) for g in groups]


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
    header = texts[0] if has_header else tuple(f"column_{i}" for i in range(1, len(spans) + 1))
    body = grid[1:] if has_header else grid
    if len(body) < 1:
        return None
    box = _union([c.box for row in grid for c in row if c])
    return Table(header, tuple(texts[1:] if has_header else texts), box,
                 tuple(tuple(row) for row in body))


def _join(a: Cell | None, b: Cell | None) -> Cell | None:
    if a is None or b is None:
        return a or b
    return Cell(f"{a.text} {b.text}", _union([a.box, b.box]))


def _year(text: str) -> bool:
    """A year heading a column of figures ("2023", "2024")."""
    return bool(re.fullmatch(r"(19|20)\d\d", text.strip()))


def _number(text: str) -> bool:
    return bool(re.fullmatch(r"[-+($€£]*\s*\d[\d.,/:%-]*\)?\s*[€]?", text.strip()))


def key_values(ocr: OcrResult) -> list[tuple[str, str, Box]]:
    """(label, value, value box) for lines like "Total: 42.10", "Date 12/03/2024", and
    "Plan:  Team" laid out in two cells. Table rows are left out, except the rows of a
    headerless two-column table of labels and values ("Subtotal      16.30")."""
    out: list[tuple[str, str, Box]] = []
    found, done = find_tables(ocr), set()
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
            if match:
                out.append((match["key"].strip(), match["value"].strip(),
                            _value_box(line, match["value"], cell.box)))
    return out


def _label_list(table: Table) -> bool:
    """A headerless two-column table whose left cells are words and right cells figures."""
    return table.header == ("column_1", "column_2") and all(
        a is not None and b is not None and not _number(a.text) and _number(b.text)
        for a, b in table.cells)


def _value_box(line: list[Word], value: str, fallback: Box) -> Box:
    """The box of the words that make up ``value`` (the tail of its cell)."""
    words = [w for w in line if fallback[0] <= w.box[0] and w.box[2] <= fallback[2]]
    taken: list[Word] = []
    for word in reversed(words):
        taken.insert(0, word)
        if " ".join(w.text for w in taken).endswith(value) and \
                value.startswith(taken[0].text.split(":")[-1] or value[:1]):
            break
    return _union([w.box for w in taken]) if taken else fallback
