"""Score extraction on a golden set: a folder of images, each with its reviewed JSON beside it
(``runs export NAME --golden DIR`` writes one). Field accuracy per field and per document, and
how well verification flagged: the wrong values it flagged, and the right ones it flagged too."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import formats
from .corrections import leaves
from .errors import ConfigError
from .extract import ExtractResult, aextract, run_sync
from .http import Http
from .types import Extraction

SCHEMA_FILE = "schema.json"


@dataclass
class Score:
    """Counts over a golden set; ``fields`` and ``documents`` map a name to [right, total]."""

    fields: dict[str, list[int]] = field(default_factory=dict)
    documents: dict[str, list[int]] = field(default_factory=dict)
    wrong: int = 0
    wrong_flagged: int = 0
    right: int = 0
    right_flagged: int = 0

    def render(self) -> str:
        def pct(right: int, total: int) -> str:
            return f"{right}/{total} ({100 * right / max(1, total):.0f}%)"

        lines = ["field accuracy:"] + [f"  {k}: {pct(*v)}" for k, v in self.fields.items()]
        lines += ["document accuracy:"] + [f"  {k}: {pct(*v)}"
                                           for k, v in self.documents.items()]
        lines += [f"verification flagged {self.wrong_flagged} of {self.wrong} wrong values, "
                  f"and {self.right_flagged} of {self.right} right ones"]
        return "\n".join(lines) + "\n"


def golden_set(folder: str | Path) -> list[tuple[Path, Any]]:
    """Every image of ``folder`` that has ``NAME.json`` beside it, with that JSON."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder; give the one `pixelproof runs export NAME "
                          "--golden DIR` wrote.")
    pairs = [(p, json.loads(p.with_suffix(".json").read_text(encoding="utf-8")))
             for p in sorted(folder.iterdir())
             if p.suffix.lower() != ".json" and p.with_suffix(".json").is_file()]
    if not pairs:
        raise ConfigError(f"{folder} holds no image with its NAME.json beside it; write a set "
                          "with `pixelproof runs export NAME --golden DIR`.")
    return pairs


def same(truth: Any, answer: Any) -> bool:
    """Whether two values agree: numbers by value, text ignoring case and spacing."""
    a, b = formats.parse_number(truth), formats.parse_number(answer)
    if a is not None or b is not None:
        return a == b
    if truth is None or answer is None:
        return truth is answer
    return " ".join(str(truth).casefold().split()) == " ".join(str(answer).casefold().split())


def score_one(score: Score, name: str, truth: Any, item: Extraction) -> None:
    """Add one document's values to ``score``: every value of the truth, and every value the
    answer holds beyond it (an invented one is wrong)."""
    want, got = dict(leaves(truth)), dict(leaves(item.data)) if item.ok else {}
    rep = item.verification
    rep = rep.to_dict() if hasattr(rep, "to_dict") else rep or {"checks": []}
    flagged = {c["path"] for c in rep["checks"] if c["status"] != "verified"}
    doc = score.documents.setdefault(name, [0, 0])
    for path in list(want) + [p for p in got if p not in want]:
        right = path in want and path in got and same(want[path], got[path])
        counts = score.fields.setdefault(re.sub(r"\[\d+\]", "[]", path), [0, 0])
        for c in (counts, doc):
            c[0] += right
            c[1] += 1
        if right:
            score.right += 1
            score.right_flagged += path in flagged
        else:
            score.wrong += 1
            score.wrong_flagged += path in flagged


def evaluate(folder: str | Path, schema: Any = None, *, timeout: float = 120.0,
             retries: int = 3, **options: Any) -> Score:
    """Extract every image of a golden set (with the set's ``schema.json`` unless ``schema``
    is given; ``options`` are ``extract``'s) and score the answers against the reviewed
    JSON."""
    pairs = golden_set(folder)
    if schema is None and (Path(folder) / SCHEMA_FILE).is_file():
        schema = Path(folder) / SCHEMA_FILE

    async def run() -> ExtractResult:
        async with Http(timeout=timeout, retries=retries) as http:
            return await aextract([str(p) for p, _ in pairs], schema, http=http, **options)

    result = run_sync(run)
    score = Score()
    for (path, truth), item in zip(pairs, result.items, strict=True):
        score_one(score, path.name, truth, item)
    return score
