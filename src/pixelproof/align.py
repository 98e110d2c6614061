"""Where a text value is printed: the value aligned letter by letter with what OCR read, then
judged word by word.

Case, spaces and punctuation are ignored (OCR glues words, splits them and spaces out letters:
"SDNBHD", "S . H . H . M O T O R"), and letters OCR confuses with digits ("0" and "O") count
as the same. A word passes with at most about one wrong letter in seven (one where OCR read
it with full confidence), never a wrong digit, nor a digit where a word of letters prints a
letter ("1poh" for "Ipoh": OCR reads letters as digits, a model that writes one is wrong);
so OCR noise passes while a replaced, added or dropped word does not.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

LOOKALIKE = str.maketrans("oilszb", "011528")  # letters OCR reads as digits, and back


@dataclass(frozen=True)
class Match:
    """How a value lines up with printed text: ``words`` are the printed words it covers (their
    indexes); ``wrong`` the value's words that read differently, with what is printed there;
    ``extra`` its words that are not printed; ``missing`` printed words inside it that it
    leaves out."""

    words: tuple[int, ...]
    wrong: tuple[tuple[str, str], ...]
    extra: tuple[str, ...]
    missing: tuple[str, ...]
    score: float  # share of the value's letters that match

    @property
    def ok(self) -> bool:
        return not (self.wrong or self.extra or self.missing)


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case letters and digits only, full-width forms and accents folded."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text)).casefold()
    return "".join(c for c in text if c.isalnum() and not unicodedata.combining(c))


def _codes(text: str) -> tuple[np.ndarray, np.ndarray]:
    return (np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32),
            np.frombuffer(text.translate(LOOKALIKE).encode("utf-32-le"), dtype=np.uint32))


def locate(value: str, printed: list[str], cells: list[int] | None = None,
           lines: list[int] | None = None, clear: list[bool] | None = None) -> Match | None:
    """The best place for ``value`` among ``printed`` words (in reading order). ``cells`` gives
    each word's cell (words set apart by a wide gap or a line break) and ``lines`` its line:
    with lines, the value may go on at the start of any line between two of its words (a value
    printed over several lines need not follow the reader's order). It must cover the cells it
    touches. ``clear`` marks the words OCR read with full confidence: in those one wrong
    letter at most is forgiven. None when the value has no letters or digits."""
    tokens = [t for t in (fold(w) for w in value.split()) if t]
    a = "".join(tokens)
    if not a:
        return None
    cells = cells or [0] * len(printed)
    owner = [n for n, w in enumerate(printed) for _ in fold(w)]
    b = "".join(fold(w) for w in printed)
    if not b:
        return Match((), (), tuple(value.split()), (), 0.0)
    ways: list[tuple[np.ndarray, set[int]] | tuple[()]] = [()]
    if lines is not None:
        ways.append((np.array(sorted({j for j, p in enumerate(owner)
                                      if j == 0 or lines[owner[j - 1]] != lines[p]})),
                     set(np.cumsum([len(t) for t in tokens])[:-1].tolist())))
    lines = lines or [0] * len(printed)
    clear = clear or [False] * len(printed)
    matches = [_judge(tokens, a, b, owner, _align(a, b, way), printed, cells, lines, clear)
               for way in ways]
    return min(matches, key=lambda x: (len(x.wrong) + len(x.extra) + len(x.missing), -x.score))


def _align(a: str, b: str, jumps: tuple[np.ndarray, set[int]] | tuple[()]
           ) -> list[tuple[int | None, int | None]]:
    """The cheapest alignment of ``a`` with a stretch of ``b``, as (a letter, b letter) pairs
    (None where one has no letter). With ``jumps`` (letter positions of ``b`` that start a line,
    and of ``a`` that end a word) ``a`` may go on at another line after any of its words."""
    starts, ends = jumps or (np.array([], dtype=int), set())
    (a_raw, a_look), (b_raw, b_look) = _codes(a), _codes(b)
    sub = 2 * ((a_raw[:, None] != b_raw[None, :]) & (a_look[:, None] != b_look[None, :]))
    m, n = len(a), len(b)
    cost = np.zeros((m + 1, n + 1), dtype=np.int32)  # free start and end in the printed text
    cost[:, 0] = 2 * np.arange(m + 1)
    steps = 2 * np.arange(n + 1, dtype=np.int32)
    jump_from: dict[int, int] = {}
    for i in range(1, m + 1):
        row = np.empty(n + 1, dtype=np.int32)
        row[0] = 2 * i
        row[1:] = np.minimum(cost[i - 1, :-1] + sub[i - 1], cost[i - 1, 1:] + 2)
        row = np.minimum.accumulate(row - steps) + steps
        if i in ends:  # a jump (cost 1) to the start of a line
            jump_from[i] = int(np.argmin(row))
            row[starts] = np.minimum(row[starts], row[jump_from[i]] + 1)
        cost[i] = row
    j = int(np.argmin(cost[m]))
    pairs: list[tuple[int | None, int | None]] = []
    i = m
    while i > 0:
        if j > 0 and cost[i, j] == cost[i - 1, j - 1] + sub[i - 1, j - 1]:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i - 1, j] + 2:
            pairs.append((i - 1, None))
            i -= 1
        elif i in jump_from and cost[i, j] == cost[i, jump_from[i]] + 1:
            j = jump_from[i]
        else:
            pairs.append((None, j - 1))
            j -= 1
    return pairs[::-1]


def _judge(tokens: list[str], a: str, b: str, owner: list[int],
           pairs: list[tuple[int | None, int | None]], printed: list[str],
           cells: list[int], lines: list[int], clear: list[bool]) -> Match:
    word_of = [n for n, t in enumerate(tokens) for _ in t]
    in_figure = [not any(a[k].isalpha() and word_of[k] == word_of[i] for k in (i - 1, i + 1)
                         if 0 <= k < len(a)) for i in range(len(a))]  # no letter beside it
    edits, hits = [0] * len(tokens), [0] * len(tokens)
    digit_wrong = [False] * len(tokens)
    read: list[list[int]] = [[] for _ in tokens]
    inside: list[int] = []  # printed letters OCR added inside one of the value's words
    following: list[int | None] = [None] * len(pairs)  # the next value letter after each pair
    nxt = None
    for k in range(len(pairs) - 1, -1, -1):
        following[k] = nxt
        nxt = pairs[k][0] if pairs[k][0] is not None else nxt
    last = None
    for k, (i, j) in enumerate(pairs):
        if i is None:
            assert j is not None
            after = following[k]
            if last is None or after is None:
                continue
            if word_of[last] == word_of[after]:
                w = word_of[last]
                edits[w] += 1
                digit_wrong[w] |= b[j].isdigit()
                read[w].append(j)
                inside.append(j)
            continue
        w, last = word_of[i], i
        if j is None:
            edits[w] += 1
            digit_wrong[w] |= a[i].isdigit()
        elif a[i] == b[j] or a[i].translate(LOOKALIKE) == b[j].translate(LOOKALIKE) and (
                not a[i].isdigit() or a[i] in "01" and in_figure[i]):  # a digit printed as a
            hits[w] += 1  # letter: 0 or 1 in a figure ("1O.5O"), never in a word of letters
            read[w].append(j)
        else:
            edits[w] += 1
            digit_wrong[w] |= a[i].isdigit() or b[j].isdigit()
            read[w].append(j)
    wrong, extra = [], []
    reused = {w for w in range(len(tokens)) if any(
        set(read[w]) & set(read[v]) for v in range(w))}  # a word said twice, printed once
    def beside(w: int) -> bool:  # printed in a cell of the words around it: in their place
        near = {cells[owner[j]] for v in (w - 1, w + 1) if 0 <= v < len(tokens) for j in read[v]}
        return {cells[owner[j]] for j in read[w]} <= near

    for w, token in enumerate(tokens):
        if not read[w] or w in reused or hits[w] * 2 < len(token) and len(
                token) > 1 and not beside(w):
            extra.append(token)
        elif digit_wrong[w] or edits[w] > _allowed(len(token), all(
                clear[owner[j]] for j in read[w])):
            wrong.append((token, " ".join(printed[p] for p in sorted({owner[j]
                                                                      for j in read[w]}))))
    used = [j for i, j in pairs if i is not None and j is not None]
    return Match(tuple(sorted({owner[j] for j in used})), tuple(wrong), tuple(extra),
                 _left_out(used + inside, owner, printed, cells, lines), sum(hits) / len(a))


def _left_out(used: list[int], owner: list[int], printed: list[str], cells: list[int],
              lines: list[int]) -> tuple[str, ...]:
    """The printed words a value leaves out: in the cells it touches (whole, or three letters
    or more of them) and on the lines between its first and last, except contact details at
    the end of a cell or on a line of their own ("Tel: (919) 220-9638")."""
    if not used:
        return ()
    rows = {lines[owner[j]] for j in used}
    between: dict[int, list[int]] = {}
    for p in range(len(printed)):
        if min(rows) < lines[p] < max(rows) and lines[p] not in rows and fold(printed[p]):
            between.setdefault(lines[p], []).append(p)
    skipped = [printed[p] for run in between.values() if not _contact(
        [printed[p] for p in run]) for p in run]
    touched = {cells[owner[j]] for j in used}
    taken: dict[int, int] = {}
    for j in used:
        taken[owner[j]] = taken.get(owner[j], 0) + 1
    left = [p for p, word in enumerate(printed) if cells[p] in touched and (
        len(fold(bare := _REGISTRATION.sub("", word) if p in taken else word)) - taken.get(
            p, 0) >= (3 if p in taken else 2) or p in taken and any(
            c.isdigit() for c in fold(bare)) and len(fold(bare)) > taken[p])]
    last = {cells[p]: p for p in sorted(taken)}
    tail = {p for p in left if p not in taken and p > last[cells[p]]}
    tails: dict[int, list[int]] = {}
    for p in sorted(tail):
        tails.setdefault(cells[p], []).append(p)
    spared = {p for run in tails.values() if _contact([printed[p] for p in run]) for p in run}
    return tuple(printed[p] for p in left if p not in spared) + tuple(skipped)


# A company's registration number glued to the name ("MARTS/B(519537-X)").
_REGISTRATION = re.compile(r"\(\d{4,}[-.·]?[A-Za-z]?\)$")


def _contact(words: list[str]) -> bool:
    """A phone or fax number or a company's registration number, with its label: "Tel: (919)
    220-9638", "(770)979-5667", "(81109-A)", "Co. No. 123456-K"."""
    text = " ".join(words)
    if re.fullmatch(r"\(\s*[\dA-Z][\dA-Z-]*\d[\dA-Z-]*\s*\)", text):
        return True
    return sum(c.isdigit() for c in text) >= 5 and all(re.fullmatch(
        r"[\d()+\-./]+|[\d-]+[-.·]?[A-Z]|(te[l1]|tel\.|phone|ph|fax|hp|mobile|co|reg|no)[:.]?",
        w, re.I) for w in words)


def _allowed(length: int, clear: bool = False) -> int:
    """Wrong letters a word of ``length`` may have from OCR noise alone: none in a word of
    three letters or fewer ("TEA" is not "PEA"), else about one in seven, and one at most
    where OCR read the word with full confidence."""
    most = 0 if length <= 1 else max(1, round(length * 0.15))
    return min(most, 1) if clear else most
