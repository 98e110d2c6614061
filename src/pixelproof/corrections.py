"""Reviewing a run: its items by risk, each item's values with their verification status and
the reviewer's corrections, typed corrections kept in the run store (with undo), and the
corrected data for export. The web review and ``runs export`` are faces of this module."""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from . import formats
from .batch import from_json
from .errors import ConfigError
from .extract import records_of
from .store import Correction, RunItem, Store
from .types import Extraction

ACTIONS = ("set", "accept", "delete", "add")
_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def parts(path: str) -> list[str | int]:
    """``rows[2].amount`` -> ``["rows", 2, "amount"]``; ``""`` is the whole item."""
    return [int(i) if i else k for i, k in _PART.findall(path)]


def _walk(data: Any, path: str, skip_last: bool = False) -> Any:
    """The value at ``path`` (its container, with ``skip_last``)."""
    for part in parts(path)[:-1] if skip_last else parts(path):
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            raise ConfigError(f"there is no value at '{path}'. Use a path from the item's "
                              "values (as in the verification report).") from None
    return data


def leaves(data: Any, path: str = "") -> list[tuple[str, Any]]:
    """(path, value) for every scalar of ``data``, paths as the verification report has them."""
    if isinstance(data, dict):
        return [leaf for k, v in data.items()
                for leaf in leaves(v, f"{path}.{k}" if path else str(k))]
    if isinstance(data, list):
        return [leaf for n, v in enumerate(data) for leaf in leaves(v, f"{path}[{n}]")]
    return [(path, data)]


def row_of(path: str) -> str | None:
    """The row a value belongs to (``rows[2]`` for ``rows[2].amount``), or None."""
    m = re.fullmatch(r"(.*\[\d+\])\.[^.\[\]]+", path)
    return m[1] if m else None


# --- typed values ----------------------------------------------------------------------------

def _schema_at(schema: dict[str, Any] | None, path: str) -> dict[str, Any] | None:
    for part in parts(path):
        if schema is None:
            return None
        for option in schema.get("anyOf", []):  # Pydantic's Optional[...]
            if option.get("type") != "null":
                schema = option
        schema = schema.get("items") if isinstance(part, int) else \
            schema.get("properties", {}).get(part)
    return schema


def _kind(schema: dict[str, Any] | None, original: Any) -> str:
    """number, integer, date, boolean or string: as the schema says, else as the value was."""
    if schema is not None:
        kinds = schema.get("type", "string")
        kind = next((k for k in ([kinds] if isinstance(kinds, str) else kinds) if k != "null"),
                    "string")
        return "date" if schema.get("format") == "date" else kind
    if isinstance(original, bool):
        return "boolean"
    if isinstance(original, int | float):
        return "number"
    if isinstance(original, str) and formats.parse_date(original, True) is not None:
        return "printed date"
    if isinstance(original, str) and formats.parse_number(original) is not None:
        return "printed number"
    return "string"


def typed(path: str, value: Any, schema: dict[str, Any] | None, original: Any) -> Any:
    """``value`` as the field's type (from the run's schema, else from the value it replaces);
    ConfigError saying what to type when it is not one."""
    if value is None or value == "":
        return None
    kind = _kind(_schema_at(schema, path), original)
    text = str(value).strip()
    if kind in ("number", "integer", "printed number"):
        n = value if isinstance(value, int | float) and not isinstance(value, bool) else \
            formats.parse_number(text)
        if n is None or not math.isfinite(float(n)) or (kind == "integer" and n != int(n)):
            what = "an integer" if kind == "integer" else "a number"
            raise ConfigError(f"{path}: {value!r} is not {what}; type digits, like 1234.50.")
        return text if kind == "printed number" else int(n) if kind == "integer" else float(n)
    if kind == "date":
        try:
            return date.fromisoformat(text).isoformat() if re.fullmatch(
                r"\d{4}-\d\d-\d\d", text) else _no_date(path, value, "YYYY-MM-DD")
        except ValueError:
            return _no_date(path, value, "YYYY-MM-DD")
    if kind == "printed date":
        return text if formats.parse_date(text, True) else _no_date(path, value, "as printed")
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ConfigError(f"{path}: {value!r} is not true or false; type one of them.")
        return text.lower() == "true"
    return text


def _no_date(path: str, value: Any, how: str) -> Any:
    raise ConfigError(f"{path}: {value!r} is not a date; type it {how}, like 2024-03-31.")


# --- applying corrections --------------------------------------------------------------------

def apply(data: Any, corrections: list[Correction]) -> tuple[Any, set[str]]:
    """``data`` with ``corrections`` applied in order, and the paths of deleted rows (still in
    place, so that every path keeps meaning the same value)."""
    data, deleted = copy.deepcopy(data), set()
    for c in corrections:
        last = path[-1] if (path := parts(c.path)) else None
        if c.action == "add":
            _walk(data, c.path).append(c.value)
        elif c.action == "delete" and isinstance(last, int):
            deleted.add(c.path)
        elif c.action in ("set", "delete") and last is not None:
            _walk(data, c.path, skip_last=True)[last] = c.value if c.action == "set" else None
    return data, deleted


def corrected(data: Any, corrections: list[Correction]) -> Any:
    """The data as reviewed: corrections applied, deleted rows gone."""
    data, deleted = apply(data, corrections)
    for path in sorted(deleted, key=parts, reverse=True):  # later rows first
        del _walk(data, path, skip_last=True)[parts(path)[-1]]
    return data


def _report(item: Extraction) -> dict[str, Any]:
    rep = item.verification
    return rep if isinstance(rep, dict) else rep.to_dict() if rep is not None else {
        "checks": [], "arithmetic": [], "votes": [], "verified": 0, "unverified": 0,
        "contradicted": 0, "summary": "not verified"}


def is_reviewed(item: Extraction, corrections: list[Correction]) -> bool:
    """Accepted as a whole (path ``""``), or every flagged value decided on."""
    if any(c.path == "" and c.action == "accept" for c in corrections):
        return True
    flagged = {c["path"] for c in _report(item)["checks"] if c["status"] != "verified"}
    decided = {c.path for c in corrections} | {
        p for p in flagged if row_of(p) in {c.path for c in corrections}}
    return bool(flagged) and flagged <= decided


# --- the run, item by item --------------------------------------------------------------------

class Review:
    """One run as a reviewer sees it; items are known by their position in the run."""

    def __init__(self, store: Store, run: str) -> None:
        self.store, self.run = store, run
        self.schema = store.run_options(run).get("schema")

    def _items(self) -> list[RunItem]:
        return self.store.items(self.run)

    def _item(self, index: int) -> tuple[RunItem, Extraction]:
        items = self._items()
        if not 0 <= index < len(items):
            raise ConfigError(f"run '{self.run}' has no item {index}; its items are numbered "
                              f"0 to {len(items) - 1}.")
        return items[index], _extraction(items[index])

    def summary(self, index: int, raw: RunItem, item: Extraction,
                corrections: list[Correction]) -> dict[str, Any]:
        """What the queue shows of one item: its counts by status, and whether reviewed."""
        rep = _report(item)
        return {"index": index, "key": raw.key, "label": item.label, "status": raw.status,
                "error": item.error, "counts": {s: rep[s] for s in (
                    "verified", "unverified", "contradicted")},
                "failed_sums": sum(not a["ok"] for a in rep["arithmetic"]),
                "split_votes": sum(v["agreement"] < 1 for v in rep["votes"]),
                "corrections": len(corrections), "reviewed": is_reviewed(item, corrections)}

    def queue(self) -> dict[str, Any]:
        """Every item's summary, the riskiest first: contradicted values, failed sums, split
        votes, unverified values; failed items last."""
        every = self.store.corrections(self.run)
        out = []
        for n, raw in enumerate(self._items()):
            out.append(self.summary(n, raw, _extraction(raw),
                                    [c for c in every if c.key == raw.key]))
        out.sort(key=lambda s: (s["status"] != "done", -s["counts"]["contradicted"],
                                -s["failed_sums"], -s["split_votes"],
                                -s["counts"]["unverified"], s["index"]))
        return {"run": self.run, "total": len(out), "reviewed": sum(s["reviewed"] for s in out),
                "flagged": sum(any((s["counts"]["contradicted"], s["counts"]["unverified"],
                                    s["failed_sums"], s["split_votes"])) for s in out),
                "items": out}

    def item(self, index: int) -> dict[str, Any]:
        """One item: its summary, every value (corrected) with its status, box, what the page
        reads there and its review, the failed sums, the row lists, and the corrections."""
        raw, item = self._item(index)
        corrections = self.store.corrections(self.run, raw.key)
        data, deleted = apply(item.data, corrections)
        rep = _report(item)
        checks = {c["path"]: c for c in rep["checks"]}
        original = dict(leaves(item.data))
        last = {c.path: c.action for c in corrections}
        values = []
        for path, value in leaves(data):
            check = checks.get(path, {})
            review = "deleted" if row_of(path) in deleted else {
                "set": "edited", "accept": "accepted", "delete": "deleted"}.get(
                last.get(path, ""), None if path in original else "added")
            values.append({"path": path, "value": value, "original": original.get(path),
                           "status": check.get("status"), "box": check.get("box"),
                           "ocr_text": check.get("ocr_text"), "note": check.get("note", ""),
                           "review": review})
        return {**self.summary(index, raw, item, corrections), "summary": rep["summary"],
                "values": values, "arithmetic": [a for a in rep["arithmetic"] if not a["ok"]],
                "votes": [v for v in rep["votes"] if v["agreement"] < 1],
                "row_lists": [p for p, rows in _row_lists(data)],
                "corrections": [c.__dict__ for c in corrections]}

    def correct(self, index: int, path: str, action: str = "set", value: Any = None) -> Correction:
        """Keep one correction: ``set`` a value (typed as the schema says), ``accept`` it,
        ``delete`` a row or a value, ``add`` a row (``path`` is the list, ``value`` the row)."""
        if action not in ACTIONS:
            raise ConfigError(f"unknown action '{action}'; use one of {', '.join(ACTIONS)} "
                              "(or undo).")
        raw, item = self._item(index)
        if not item.ok:
            raise ConfigError(f"{item.label} failed ({item.error}); there is nothing to correct."
                              " Run it again with `pixelproof extract ... --run NAME`.")
        data, _ = apply(item.data, self.store.corrections(self.run, raw.key))
        current = _walk(data, path) if path else data
        if action == "add":
            if not isinstance(current, list) or not isinstance(value, dict):
                raise ConfigError(f"add: '{path}' is not a list of rows, or the row is not an "
                                  "object; give the path of a row list and the row's fields.")
            value = {k: typed(f"{path}[{len(current)}].{k}", v, self.schema, None)
                     for k, v in value.items()}
        elif action == "set":
            if isinstance(current, dict | list):
                raise ConfigError(f"'{path}' holds several values; correct them one by one.")
            value = typed(path, value, self.schema, current)
        elif action == "delete" and isinstance(current, dict | list) and not (
                (steps := parts(path)) and isinstance(steps[-1], int)):
            raise ConfigError(f"delete: '{path}' is not a row or a value.")
        status = next((c["status"] for c in _report(item)["checks"] if c["path"] == path), None)
        return self.store.correct(self.run, raw.key, path, action, value=value, status=status,
                                  original=None if action == "add" else current)

    def undo(self, index: int) -> Correction | None:
        raw, _ = self._item(index)
        return self.store.undo(self.run, raw.key)

    def image(self, index: int) -> Any:
        """The item's image, loaded again from where the run read it."""
        from .batch import load_one
        return load_one(self._item(index)[1].label)

    def exported(self) -> list[Extraction]:
        """The done items with their corrections applied; once the run has any correction,
        each record says whether its item was ``reviewed``."""
        every = self.store.corrections(self.run)
        out = []
        for raw in self.store.items(self.run, "done"):
            item = from_json(raw.result)
            mine = [c for c in every if c.key == raw.key]
            data = corrected(item.data, mine)
            flag = {"reviewed": is_reviewed(item, mine)} if every else {}
            out.append(replace(item, data=data, records=tuple(
                r | flag for r in records_of(data))))
        return out


def write_golden(review: Review, folder: str | Path) -> int:
    """Each reviewed item's image and its corrected JSON (``NAME.json`` beside it), and the
    run's schema as ``schema.json``: a test set for ``pixelproof eval``. Returns how many."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    every = review.store.corrections(review.run)
    written = 0
    for index, raw in enumerate(review.store.items(review.run)):
        if raw.status != "done":
            continue
        item = from_json(raw.result)
        mine = [c for c in every if c.key == raw.key]
        if not is_reviewed(item, mine):
            continue
        image = review.image(index)
        stem = f"{index + 1:03d}-{Path(item.source).stem}" + (
            f"-p{item.page}" if item.page else "")
        (folder / f"{stem}.{image.mime.split('/')[-1]}").write_bytes(image.data)
        (folder / f"{stem}.json").write_text(json.dumps(corrected(item.data, mine), indent=1),
                                             encoding="utf-8")
        written += 1
    if review.schema is not None:
        (folder / "schema.json").write_text(json.dumps(review.schema, indent=1),
                                            encoding="utf-8")
    return written


def _extraction(raw: RunItem) -> Extraction:
    """A run item as an Extraction; one not done carries its error (or its status)."""
    return from_json(raw.result) if isinstance(raw.result, dict) else Extraction(
        source=raw.key.rsplit("@", 1)[0], error=raw.error or raw.status)


def _row_lists(data: Any, path: str = "") -> list[tuple[str, list[Any]]]:
    """Every list of row objects in ``data`` with its path (where rows can be added)."""
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return [(path, data)]
    if isinstance(data, dict):
        return [r for k, v in data.items() for r in _row_lists(v, f"{path}.{k}" if path else k)]
    return []
