"""Self-consistency: per-field agreement across several answers."""

from __future__ import annotations

from collections import Counter
from typing import Any

from .report import Vote
from .walk import leaves, plain


def vote(answers: list[Any]) -> list[Vote]:
    """Per-field agreement across several answers to the same question."""
    flat = [dict((p, v) for p, _, v in leaves(plain(a))) for a in answers]
    paths = list(dict.fromkeys(p for f in flat for p in f))
    out = []
    for path in paths:
        values = [f.get(path) for f in flat]
        top = Counter(map(repr, values)).most_common(1)[0][1]
        out.append(Vote(path, top / len(values), tuple(values)))
    return out
