"""The OpenAI wire format, checked against the parts of OpenAI's OpenAPI document (MIT) the
tests use (data/README.md)."""

import json
from functools import cache
from pathlib import Path

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC = Path(__file__).parent / "data" / "openai-openapi-subset.json"


@cache
def openai_validator(name: str) -> jsonschema.Draft202012Validator:
    doc = json.loads(SPEC.read_text())
    registry = Registry().with_resource("urn:openai", Resource.from_contents(
        doc, default_specification=DRAFT202012))
    return jsonschema.Draft202012Validator({"$ref": f"urn:openai#/components/schemas/{name}"},
                                           registry=registry)


def assert_valid_openai(body: dict) -> None:
    errors = list(openai_validator("CreateChatCompletionRequest").iter_errors(body))
    assert not errors, [e.message for e in errors]
