"""User schemas: JSON Schema files, the ``--fields`` shorthand and Pydantic models; values coerced
to their types and validated, with errors worded for a re-ask."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from .errors import ConfigError
from .formats import coerce, day_first

_FIELD_TYPES = {"string": {"type": "string"}, "str": {"type": "string"},
                "text": {"type": "string"}, "number": {"type": "number"},
                "float": {"type": "number"}, "int": {"type": "integer"},
                "integer": {"type": "integer"}, "bool": {"type": "boolean"},
                "boolean": {"type": "boolean"}, "date": {"type": "string", "format": "date"}}


@dataclass(frozen=True)
class Schema:
    """What the user asked for. ``rows`` means the answer is a list of records."""

    json: dict[str, Any]
    model: Any = None  # a Pydantic model class, when one was given
    rows: bool = False

    @property
    def wire(self) -> dict[str, Any]:
        """The schema sent for native structured output: always an object at the root."""
        if self.json.get("type") == "object":
            return self.json
        return {"type": "object", "properties": {"items": self.json}, "required": ["items"],
                "additionalProperties": False}

    def unwrap(self, value: Any) -> Any:
        """Undo ``wire``'s wrapping, tolerating answers that skipped it."""
        if self.json.get("type") != "object" and isinstance(value, dict) and "items" in value \
                and len(value) == 1:
            return value["items"]
        if self.json.get("type") == "array" and isinstance(value, dict):
            return [value]  # a single record where a list was asked for
        return value


def from_fields(spec: str) -> Schema:
    """``"date:date, description, amount:number"`` -> rows of those fields (all nullable)."""
    props: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, kind = (s.strip() for s in part.partition(":"))
        kind = kind.lower() or "string"
        if kind not in _FIELD_TYPES or not re.fullmatch(r"[\w .-]+", name):
            raise ConfigError(f"fields=: cannot read '{part}'. Write name or name:type, with "
                              f"type one of {', '.join(sorted(set(_FIELD_TYPES)))}.")
        if name in props:
            raise ConfigError(f"fields=: '{name}' is named twice. Give each field once.")
        base = dict(_FIELD_TYPES[kind])
        props[name] = {**base, "type": [base["type"], "null"]}
    if not props:
        raise ConfigError('fields= is empty. Example: fields="date:date, amount:number".')
    item = {"type": "object", "properties": props, "required": list(props),
            "additionalProperties": False}
    return Schema({"type": "array", "items": item}, rows=True)


def from_file(path: str | Path) -> Schema:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: schema file not found.") from None
    except ValueError as e:
        raise ConfigError(f"{path}: not valid JSON ({e}). A schema file is a JSON Schema.") \
            from None
    except RecursionError:
        raise ConfigError(f"{path}: the JSON is nested too deeply to be a schema (over "
                          f"{MAX_DEPTH} levels).") from None
    return from_json_schema(data, str(path))


MAX_DEPTH = 64  # levels of nesting a schema may have (real ones have a handful)


def _too_deep(data: Any, depth: int = 0) -> bool:
    if depth > MAX_DEPTH:
        return True
    if isinstance(data, dict):
        return any(_too_deep(v, depth + 1) for v in data.values())
    if isinstance(data, list):
        return any(_too_deep(v, depth + 1) for v in data)
    return False


def from_json_schema(data: Any, where: str = "schema") -> Schema:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: a schema is a JSON object such as {{\"type\": \"object\", "
                          f"\"properties\": {{...}}}}, not {json.dumps(data)[:40]}.")
    if _too_deep(data):
        raise ConfigError(f"{where}: the schema is nested too deeply (over {MAX_DEPTH} "
                          "levels).")
    try:
        jsonschema.Draft202012Validator.check_schema(data)
    except jsonschema.SchemaError as e:
        raise ConfigError(f"{where}: not a valid JSON Schema ({e.message}).") from None
    except RecursionError:
        raise ConfigError(f"{where}: the schema refers to itself too deeply to check.") \
            from None
    return Schema(data, rows=data.get("type") == "array")


def from_any(schema: Any) -> Schema:
    """A Schema from a Pydantic model class, a JSON Schema dict, or a path to a JSON file."""
    if isinstance(schema, Schema):
        return schema
    if isinstance(schema, dict):
        return from_json_schema(schema)
    if isinstance(schema, str | Path):
        return from_file(schema)
    if hasattr(schema, "model_json_schema"):
        return Schema(schema.model_json_schema(), model=schema)
    raise ConfigError(f"schema must be a Pydantic model, a JSON Schema dict or a file path, "
                      f"not {type(schema).__name__}.")


def coerce_to(value: Any, schema: dict[str, Any], defs: dict[str, Any] | None = None,
              dayfirst: bool | None = None) -> Any:
    """Turn printed values into their schema types ("1,234.50" -> 1234.5, dates -> ISO; slash
    dates are read day first when another date in the answer can only be day first)."""
    if defs is None:
        defs, dayfirst = schema.get("$defs", {}), day_first(value)
    if "$ref" in schema:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
    for option in schema.get("anyOf", []):
        if option.get("type") != "null" and value is not None:
            return coerce_to(value, option, defs, dayfirst)
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else (kinds or [])
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return {k: coerce_to(v, props[k], defs, dayfirst) if k in props else v
                for k, v in value.items()}
    if isinstance(value, list):
        items = schema.get("items", {})
        return [coerce_to(v, items, defs, dayfirst) for v in value]
    for kind in kinds:
        if kind != "null" and value is not None:
            return coerce(value, kind, schema.get("format"), dayfirst)
    return value


def validate(schema: Schema, value: Any) -> tuple[Any, list[str]]:
    """(typed value, problems): Pydantic instances for a model, else the coerced JSON."""
    value = coerce_to(value, schema.json)
    if schema.model is not None:
        from pydantic import ValidationError
        try:
            return schema.model.model_validate(value), []
        except ValidationError as e:
            return value, [f"{'.'.join(map(str, err['loc'])) or '(root)'}: {err['msg']}"
                           for err in e.errors()[:20]]
    validator = jsonschema.Draft202012Validator(
        schema.json, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    problems = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(value)]
    return value, problems[:20]
