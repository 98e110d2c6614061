"""Write results: the format from the file extension, atomically (temp file, then rename)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import formats
from .errors import ConfigError

FORMATS = ("markdown", "json", "jsonl", "csv")
_BY_SUFFIX = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv",
              ".md": "markdown", ".markdown": "markdown"}


def format_for(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in _BY_SUFFIX:
        raise ConfigError(f"{path}: cannot tell the output format from '{suffix or 'no'}' "
                          f"extension. Use .json, .jsonl, .csv or .md.")
    return _BY_SUFFIX[suffix]


_GROUP_KEYS = ("source", "page", "table")


def render(records: Iterable[dict[str, Any]], fmt: str) -> str:
    rows = list(records)
    if fmt == "markdown":
        return _markdown(rows)
    if fmt == "csv":
        return formats.to_csv(rows)
    if fmt == "jsonl":
        return formats.to_jsonl(rows)
    return formats.to_json(rows)


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` so that ``path`` is either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write(path: str | Path, records: Iterable[dict[str, Any]]) -> None:
    write_atomic(path, render(records, format_for(path)))


def _markdown(rows: list[dict[str, Any]]) -> str:
    """One Markdown table per source (and PDF page, and table), each under a heading."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        key = tuple(row.get(k) for k in _GROUP_KEYS)
        groups.setdefault(key, []).append({k: v for k, v in row.items() if k not in _GROUP_KEYS})
    if len(groups) <= 1:
        return formats.to_markdown(rows)
    parts = []
    for (source, page, table), members in groups.items():
        title = ", ".join(filter(None, [source, page and f"page {page}",
                                        table and f"table {table}"]))
        parts.append(f"### {title}\n\n{formats.to_markdown(members)}")
    return "\n".join(parts)
