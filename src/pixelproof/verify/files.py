"""Data to verify read from a file: JSON, JSON Lines, a Markdown table or CSV."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .. import formats
from ..errors import ConfigError


def load_data(spec: str | Path, image: str = "") -> Any:
    """The data in a file (``-`` for stdin) to verify: JSON (an object or rows), JSON Lines, a
    Markdown table or CSV. From the output of ``pixelproof extract -f json`` (or a stored run
    item) the data part is taken: when it holds several images', that of ``image`` (a label,
    as the extract command was given it). Raises ConfigError naming the file."""
    name = "<stdin>" if spec == "-" else str(spec)
    try:
        raw = sys.stdin.buffer.read() if spec == "-" else Path(spec).read_bytes()
        text = raw.decode("utf-8-sig").strip()
    except OSError as e:
        raise ConfigError(f"{name}: cannot read it ({e.strerror or e}).") from e
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: not a text file. Give the data as JSON, a Markdown table "
                          "or CSV.") from None
    if not text:
        raise ConfigError(f"{name}: the file is empty. Give the data as JSON, a Markdown table "
                          "or CSV.")
    data = _parse_data(text, name)
    if isinstance(data, dict) and "verification" in data and {"data", "records"} & set(data):
        return _data_part(data, name, image)
    return data


def _parse_data(text: str, name: str) -> Any:
    if text[0] in "[{":
        try:
            return json.loads(text)
        except ValueError as e:
            try:
                return [json.loads(line) for line in text.splitlines() if line.strip()]
            except ValueError:
                raise ConfigError(f"{name}: not valid JSON ({e}). Fix it, or give a Markdown "
                                  "table or CSV.") from None
    if formats.markdown_tables(text):
        return formats.tables_rows(text)
    rows = formats.csv_rows(text)
    if rows and len(rows[0]) > 1:
        return rows
    raise ConfigError(f"{name}: neither JSON nor a Markdown table nor CSV. Give the data as a "
                      "JSON object or array of rows, e.g. from `pixelproof extract -f json`.")


def _label(d: dict[str, Any]) -> str:
    return f"{d.get('source')}#page={d['page']}" if d.get("page") else str(d.get("source"))


def _data_part(doc: dict[str, Any], name: str, image: str) -> Any:
    """An extract output's data for ``image``: its records, untagged when the output holds
    several images, and the one object (not a list) when that is what was verified."""
    if "data" in doc:
        return doc["data"]
    reports = doc["verification"] if isinstance(doc["verification"], list) \
        else [doc["verification"]]
    records = doc["records"]
    labels = [_label(r) for r in reports]
    if records and all(isinstance(r, dict) and _label(r) in labels for r in records):
        if image not in labels and len(labels) > 1:
            raise ConfigError(f"{name}: holds the data of {len(labels)} images "
                              f"({', '.join(labels)}); give IMAGE as it is written there.")
        image = image if image in labels else labels[0]
        reports = [reports[labels.index(image)]]
        records = [{k: v for k, v in r.items() if k not in ("source", "page")}
                   for r in records if _label(r) == image]
    paths = [c["path"] for r in reports[:1] for c in r.get("checks", [])]
    if len(records) == 1 and paths and not any(p.startswith("[") for p in paths):
        return records[0]  # the answer was one object, and was verified as one
    return records
