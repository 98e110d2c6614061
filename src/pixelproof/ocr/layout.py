"""Reading order: the words of a read (a Raw) grouped in visual lines and ordered by blocks.

The page is cut into blocks (recursive XY-cut, where a vertical cut is only taken between
columns whose lines do not line up, so table columns stay on one line), blocks in order, lines
top to bottom, words left to right; the page's skew is taken out first.
"""

from __future__ import annotations

import json
from statistics import median
from typing import Any, NamedTuple

import numpy as np

from ..types import OcrResult, Word


class _Piece(NamedTuple):
    text: str
    box: tuple[float, float, float, float]  # in image pixels
    score: float
    flat: tuple[float, float, float, float]  # the box with the page's skew taken out


class Raw(NamedTuple):
    """RapidOCR's output reduced to plain values: the text boxes the detector found (quads,
    for the skew estimate) and each recognised word with its score and quad."""

    width: int
    height: int
    boxes: list[list[list[float]]]
    words: list[tuple[str, float, list[list[float]]]]

    def to_json(self) -> str:
        return json.dumps([self.width, self.height, self.boxes, self.words],
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Raw:
        width, height, boxes, words = json.loads(text)
        return cls(width, height, boxes, [(t, s, q) for t, s, q in words])


def layout(raw: Raw) -> OcrResult:
    """The words of a Raw read in reading order, grouped in lines."""
    width, height = raw.width, raw.height
    if not raw.boxes:
        return OcrResult((), width, height)  # nothing on the page
    slope = _skew(raw.boxes)
    pieces = []
    for text, score, quad in raw.words:
        if text.strip():
            xs, ys = [p[0] for p in quad], [p[1] for p in quad]
            box = (min(xs), min(ys), max(xs), max(ys))
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            dx, dy = slope * cy, -slope * cx  # a small rotation about the origin
            flat = (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)
            pieces.append(_Piece(text.strip(), box, float(score), flat))
    if not pieces:
        return OcrResult((), width, height)
    height_ = median(p.flat[3] - p.flat[1] for p in pieces)
    lines = [row for block in _blocks(pieces, height_) for line in _lines(block, height_)
             for row in _unstack(line)]
    words = [Word(p.text, p.box, p.score, n) for n, line in enumerate(lines) for p in line]
    return OcrResult(tuple(words), width, height)


def _skew(boxes: Any) -> float:
    """The page's text slope (dy/dx). A first guess from the top edges of the wider text boxes
    (the detector often draws short ones level), refined twice by the slope between the
    centres of boxes far apart on the same line (table cells, label and value)."""
    quads = np.asarray(boxes, dtype=np.float64)
    quads = quads[:: max(1, len(quads) // 400)]  # pairs below cost O(n^2): 400 boxes will do
    top = quads[:, 1] - quads[:, 0]
    tall = quads[:, 3, 1] - quads[:, 0, 1]
    wide = top[:, 0] > 3 * np.abs(tall)
    slope = float(np.median(top[wide, 1] / top[wide, 0])) if wide.any() else 0.0
    centre = quads.mean(axis=1)
    dx = centre[None, :, 0] - centre[:, None, 0]
    dy = centre[None, :, 1] - centre[:, None, 1]
    height = float(np.median(np.abs(tall)))
    for _ in range(2):
        pair = (dx > 4 * height) & (np.abs(dy - slope * dx) < 0.5 * height)
        if not pair.any():
            break
        slope = float(np.median(dy[pair] / dx[pair]))
    return slope


def _lines(pieces: list[_Piece], height: float) -> list[list[_Piece]]:
    """Pieces grouped into visual lines, top to bottom, each left to right."""
    lines: list[list[_Piece]] = []
    for piece in sorted(pieces, key=_level):
        if lines:
            last = lines[-1]
            centre = sum(map(_level, last)) / len(last)
            if abs(_level(piece) - centre) < 0.45 * max(height, piece.flat[3] - piece.flat[1]):
                last.append(piece)
                continue
        lines.append([piece])
    return [sorted(line, key=lambda p: p.flat[0]) for line in lines]


def _unstack(line: list[_Piece]) -> list[list[_Piece]]:
    """A line that holds two printed lines (a photo's lines tilted each its own way, set close
    together) split in them: words stacked over one another are not on one line. Left to
    right, each word goes on the line whose course (its slope so far) passes nearest."""
    if not any(_over(a, b) for a, b in zip(line, line[1:], strict=False)):
        return [line]
    rows: list[list[_Piece]] = []
    for piece in line:
        free = [row for row in rows if not _over(row[-1], piece)]
        if not free:
            rows.append([piece])
            continue
        slopes = [_slope(row) for row in rows if len(row) > 1]
        guess = sum(slopes) / len(slopes) if slopes else 0.0
        min(free, key=lambda row: abs(_level(row[-1]) + (
            _slope(row) if len(row) > 1 else guess) * (_mid(piece) - _mid(row[-1]))
            - _level(piece))).append(piece)
    return sorted(rows, key=lambda row: sum(map(_level, row)) / len(row))


def _over(a: _Piece, b: _Piece) -> bool:
    """Whether two words overlap across more than a fifth of the narrower one."""
    width = min(a.flat[2] - a.flat[0], b.flat[2] - b.flat[0])
    return min(a.flat[2], b.flat[2]) - max(a.flat[0], b.flat[0]) > 0.2 * width


def _slope(row: list[_Piece]) -> float:
    return (_level(row[-1]) - _level(row[0])) / max(1.0, _mid(row[-1]) - _mid(row[0]))


def _mid(piece: _Piece) -> float:
    return (piece.flat[0] + piece.flat[2]) / 2


def _level(piece: _Piece) -> float:
    return (piece.flat[1] + piece.flat[3]) / 2


def _gaps(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Empty (start, end) stretches between the union of ``spans``."""
    out, reach = [], None
    for start, end in sorted(spans):
        if reach is not None and start > reach:
            out.append((reach, start))
        reach = end if reach is None else max(reach, end)
    return out


def _blocks(pieces: list[_Piece], height: float) -> list[list[_Piece]]:
    """Recursive XY-cut at the widest empty band. A vertical band (at least 1.5 text heights
    wide) is a cut only when most lines on its two sides do not share a baseline: beside a
    sidebar they fall out of step, across a table's columns they line up."""
    if len(pieces) < 2:
        return [pieces]
    across = _gaps([(p.flat[1], p.flat[3]) for p in pieces])
    best = max(across, key=lambda g: g[1] - g[0], default=None)
    size = best[1] - best[0] if best else 0.0
    for x0, x1 in sorted(_gaps([(p.flat[0], p.flat[2]) for p in pieces]),
                         key=lambda g: g[0] - g[1]):
        if x1 - x0 < max(1.5 * height, size):
            break
        left = [p for p in pieces if p.flat[2] <= x0]
        right = [p for p in pieces if p.flat[0] >= x1]
        if not _in_step(_lines(left, height), _lines(right, height), height):
            return _blocks(left, height) + _blocks(right, height)
    if best is None:
        return [pieces]
    cut = (best[0] + best[1]) / 2
    return (_blocks([p for p in pieces if p.flat[3] <= cut], height)
            + _blocks([p for p in pieces if p.flat[1] >= cut], height))


def _in_step(a: list[list[_Piece]], b: list[list[_Piece]], height: float) -> bool:
    """Whether most lines of the side with fewer lines share a baseline with the other side."""
    fewer, more = sorted((a, b), key=len)
    levels = [sum(map(_level, line)) / len(line) for line in more]
    matched = sum(any(abs(sum(map(_level, line)) / len(line) - y) < 0.35 * height
                      for y in levels) for line in fewer)
    return matched > 0.6 * len(fewer)
