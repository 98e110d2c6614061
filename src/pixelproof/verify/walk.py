"""Walking plain data: its scalars by path, its lists of rows."""

from __future__ import annotations

import re
from dataclasses import asdict, is_dataclass
from datetime import date
from typing import Any


def plain(data: Any) -> Any:
    """``data`` as plain JSON values: Pydantic objects and dataclasses dumped, dates ISO."""
    if hasattr(data, "model_dump"):
        return data.model_dump(mode="json")
    if is_dataclass(data) and not isinstance(data, type):
        data = asdict(data)
    if isinstance(data, dict):
        return {str(k): plain(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [plain(v) for v in data]
    return data.isoformat() if isinstance(data, date) else data


def leaves(data: Any, path: str = "") -> list[tuple[str, str, Any]]:
    """(path, field name, value) for every scalar in plain ``data``."""
    if isinstance(data, dict):
        out = []
        for k, v in data.items():
            out += leaves(v, f"{path}.{k}" if path else str(k)) if isinstance(
                v, dict | list) else [(f"{path}.{k}" if path else str(k), str(k), v)]
        return out
    if isinstance(data, list):
        return [leaf for n, v in enumerate(data) for leaf in leaves(v, f"{path}[{n}]")]
    return [(path or "value", "", data)]


def row_lists(data: Any, path: str = "") -> list[tuple[str, list[dict[str, Any]]]]:
    """Every list of row objects in plain ``data``, with its path."""
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return [(path, data)]
    if isinstance(data, dict):
        return [r for k, v in data.items() for r in row_lists(v, f"{path}.{k}" if path else k)]
    return []


def parent(data: Any, path: str) -> Any:
    node = data
    for part in re.findall(r"\[(\d+)\]|([^.\[\]]+)", path)[:-1]:
        node = node[int(part[0])] if part[0] else node[part[1]]
    return node
