"""What a finished run says and writes, for every face: each report's text, the overlays by
name, --strict's verdict, the output with its verification block, the run's summary line, and
the JSONL file that grows as items finish."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, Any

from . import cost, formats, output
from .extract import ExtractResult, tagged
from .types import Extraction, Image

STRICT_FAILED = ("strict=True: some values are not supported by the image (see above; "
                 "show=True lists them).")


def report_of(item: Extraction) -> dict[str, Any] | None:
    """The item's verification report as a dict (None when it was not checked)."""
    rep = item.verification
    return rep if rep is None or isinstance(rep, dict) else rep.to_dict()


def report_text(label: str, rep: dict[str, Any], show: bool) -> str:
    """A report's summary line; with ``show``, every flagged value, failed sum and split vote."""
    lines = [f"{label}: {rep['summary']}"]
    if show:
        lines += [f"  {c['status']}: {c['path']} = {c['value']!r} ({c['note']}"
                  + (f"; the page reads {c['ocr_text']!r}" if c["ocr_text"] else "") + ")"
                  for c in rep["checks"] if c["status"] != "verified"]
        lines += [f"  sum failed: {a['name']}: expected {a['expected']}, found {a['found']} "
                  f"({', '.join(a['paths'])})" for a in rep["arithmetic"] if not a["ok"]]
        lines += [f"  votes disagree on {v['path']}: {v['answers']}"
                  for v in rep["votes"] if v["agreement"] < 1]
    return "\n".join(lines)


def overlay_path(pattern: str, n: int, count: int) -> str:
    """Where the ``n``-th of ``count`` overlays goes: ``pattern`` itself for one, else
    NAME-1.png, NAME-2.png, ..."""
    if count == 1:
        return pattern
    stem, dot, ext = pattern.rpartition(".")
    return f"{stem or ext}-{n}.{ext if dot else 'png'}"


def draw_overlays(items: list[Extraction], pattern: str, load: Callable[[str], Image]) -> None:
    """Each checked item's values boxed on its image (``load``: label -> image)."""
    from .verify import draw_overlay

    checked = [(e, rep) for e in items if (rep := report_of(e)) is not None]
    for n, (item, rep) in enumerate(checked, 1):
        draw_overlay(load(item.label), rep, overlay_path(pattern, n, len(checked)))


def strict_failed(items: list[Extraction]) -> bool:
    """Whether any checked item has a value not verified, a failed sum or a split vote."""
    from .verify import is_clean

    return any(not is_clean(rep) for e in items if (rep := report_of(e)) is not None)


def render_items(items: list[Extraction], fmt: str) -> str:
    """A run's output: every record in input order (JSON also carries the reports)."""
    result = ExtractResult(items, one=len(items) == 1)
    reports = [{"source": e.source, "page": e.page, **rep}
               for e in items if (rep := report_of(e)) is not None]
    if fmt == "json" and reports:
        return formats.to_json({"records": result.records, "verification": reports})
    return result.render(fmt)


def run_summary(items: list[Extraction], skipped: int = 0, wrote: str | None = None) -> str:
    """"3 of 4 images done, 1 failed, 12 records; ... tokens, cost $0.0123; wrote out.csv"."""
    result = ExtractResult(items, one=len(items) == 1)
    failed = len(result.failed)
    saved = sum(e.saved_tokens for e in items)
    return (f"{len(items) - failed} of {len(items)} images done"
            + (f" ({skipped} in an earlier attempt of the run)" if skipped else "")
            + f", {failed} failed, {len(result.records)} records; "
            f"{result.usage.summary()} tokens, cost "
            f"{cost.money(cost.total(e.cost for e in items if e.ok))}"
            + (f"; wrote {wrote}" if wrote else "")
            + (f"; detail=auto saved {saved} image tokens" if saved else ""))


class Jsonl:
    """The JSONL output, a line per record as each item finishes (flushed, so a killed run
    keeps what it wrote; the run store is the record); synced once, when closed."""

    def __init__(self, path: str, tagged: bool) -> None:
        self.file: IO[str] = open(path, "w", encoding="utf-8")
        self.tagged = tagged

    def add(self, item: Extraction) -> None:
        if item.ok:
            self.file.write(output.render(tagged([item]) if self.tagged else item.records,
                                          "jsonl"))
            self.file.flush()

    def close(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
