"""Structured extraction end to end against a local Chat Completions server."""

import asyncio
import csv
import io
import json
import re

import pytest
from fakeapi import FakeAPI, Reply, completion
from PIL import Image as PILImage
from pydantic import BaseModel
from test_cli_describe import cli
from test_providers import assert_valid_openai

import pixelproof
from pixelproof import schemas
from pixelproof.errors import ConfigError

STATEMENT = """Here is the statement:

| Date | Description | Amount | Balance |
|------|-------------|-------:|--------:|
| 01/03/2024 | Coffee | (3.20) | 1,234.50 |
| 02/03/2024 | Salary | 2,000.00 | 3,234.50 |

| key | value |
|---|---|
| Account | 12345678 |
"""


@pytest.fixture
def png(tmp_path):
    p = tmp_path / "statement.png"
    PILImage.new("RGB", (64, 48), "white").save(p)
    return str(p)


class Receipt(BaseModel):
    merchant: str
    total: float
    date: str | None = None


def test_tables_without_schema(png):
    with FakeAPI(answer=lambda body: STATEMENT) as api:
        result = pixelproof.extract(png, model="openai:m", base_url=api.url)
    assert result.records[0] == {"table": 1, "Date": "01/03/2024", "Description": "Coffee",
                                 "Amount": "(3.20)", "Balance": "1,234.50"}
    assert result.records[-1] == {"table": 2, "key": "Account", "value": "12345678"}
    assert "Markdown table" in api.requests[0]["messages"][0]["content"][0]["text"]
    assert "response_format" not in api.requests[0]


def test_sync_functions_work_inside_a_running_event_loop(png):
    async def handler():  # as in Jupyter or a FastAPI handler
        return (pixelproof.extract(png, model="openai:m", base_url=api.url),
                pixelproof.describe(png, model="openai:m", base_url=api.url))

    with FakeAPI(answer=lambda body: STATEMENT) as api:
        result, response = asyncio.run(handler())
    assert result.records[0]["Description"] == "Coffee" and response.text == STATEMENT


def test_reask_carries_the_validation_error(png):
    bad = '```json\n{"merchant": "ACME", "total": "lots"}\n```'
    good = 'Sure! {"merchant": "ACME", "total": "1,234.50", "date": "12/03/2024"}'
    with FakeAPI() as api:
        api.script = [Reply(body=completion(bad)), Reply(body=completion(good))]
        result = pixelproof.extract(png, Receipt, model="openai:m", base_url=api.url)
    item = result.items[0]
    assert item.ok and item.attempts == 2
    assert item.data == Receipt(merchant="ACME", total=1234.5, date="12/03/2024")
    assert item.usage.input_tokens == 200 and item.usage.output_tokens == 40
    first, second = api.requests
    assert_valid_openai(first)
    assert_valid_openai(second)
    assert first["response_format"]["type"] == "json_schema"
    assert second["messages"][1] == {"role": "assistant", "content": bad}
    reask = second["messages"][2]["content"]
    assert second["messages"][2]["role"] == "user"
    assert "total" in reask and "valid number" in reask


def test_gives_up_after_attempts(png):
    with FakeAPI(answer=lambda body: "I cannot see any data, sorry.") as api:
        result = pixelproof.extract(png, Receipt, model="openai:m", base_url=api.url,
                                    attempts=2)
    assert len(api.requests) == 2
    [item] = result.failed
    assert "did not fit after 2 attempts" in item.error and "statement.png" in item.error


def test_truncated_and_refused_are_reported_as_such(png):
    with FakeAPI(answer=lambda body: Reply(body=completion('[{"a": 1}, {"a"',
                                                           finish="length"))) as api:
        result = pixelproof.extract(png, fields="a:number", model="openai:m", base_url=api.url)
    assert "cut off" in result.failed[0].error and len(api.requests) == 1
    refusal = completion("")
    refusal["choices"][0]["message"]["refusal"] = "I can't help with that."
    with FakeAPI(answer=lambda body: Reply(body=refusal)) as api:
        result = pixelproof.extract(png, fields="a", model="openai:m", base_url=api.url)
    assert "refused: I can't help with that." in result.failed[0].error


def test_server_without_structured_output_falls_back_to_prompt(png):
    def answer(body):
        if "response_format" in body:
            return Reply(400, {"error": {"message": "response_format is not supported"}})
        return '[{"amount": "12.50"}]'
    with FakeAPI(answer=answer) as api:
        result = pixelproof.extract(png, fields="amount:number", model="openai:m",
                                    base_url=api.url)
    assert result.data == [{"amount": 12.5}]
    assert "JSON Schema:" in api.requests[1]["messages"][0]["content"][0]["text"]


def test_fields_shorthand_schema():
    s = schemas.from_fields("date:date, description, amount:number")
    item = s.json["items"]
    assert item["properties"]["date"] == {"type": ["string", "null"], "format": "date"}
    assert item["required"] == ["date", "description", "amount"]
    assert s.wire["type"] == "object" and s.wire["properties"]["items"] == s.json
    value, problems = schemas.validate(s, [{"date": "March 12, 2024", "description": "x",
                                            "amount": "$ 1,000.00"}])
    assert value == [{"date": "2024-03-12", "description": "x", "amount": 1000.0}]
    assert problems == []
    with pytest.raises(ConfigError, match="fields=: cannot read 'a:money'"):
        schemas.from_fields("a:money")


def test_cli_extract_several_images_to_csv(png, tmp_path):
    other = tmp_path / "two.png"
    PILImage.new("RGB", (64, 48), "gray").save(other)
    out = tmp_path / "out.csv"
    rows = '[{"date": "2024-03-01", "amount": "3.20"}]'
    with FakeAPI(answer=lambda body: rows) as api:
        r = cli("extract", png, str(other), "missing.png", "--fields", "date:date, amount:number",
                "-m", "openai:m", "--base-url", api.url, "-o", str(out))
    assert r.returncode == 1  # the missing file
    assert "missing.png: no such file" in r.stderr
    assert "2 of 3 images done, 1 failed, 2 records" in r.stderr
    got = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [g["source"] for g in got] == [png, str(other)]
    assert got[0]["amount"] == "3.2" and got[0]["date"] == "2024-03-01"


def test_cli_extract_json_stdout_with_schema_file(png, tmp_path):
    schema = tmp_path / "receipt.json"
    schema.write_text(json.dumps(Receipt.model_json_schema()))
    with FakeAPI(answer=lambda body: '{"merchant": "A", "total": 3}') as api:
        r = cli("extract", png, "--schema", str(schema), "--format", "json", "-m", "openai:m",
                "--base-url", api.url, "--no-verify")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [{"merchant": "A", "total": 3}]


def test_cli_bad_schema_file(png, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = cli("extract", png, "--schema", str(bad))
    assert r.returncode == 2 and "bad.json: not valid JSON" in r.stderr


# --- the Python API: options checked before any image is asked ----------------------------

@pytest.mark.parametrize("call", [
    lambda png, **o: pixelproof.extract(png, **o),
    lambda png, **o: pixelproof.describe(png, **o),
    lambda png, **o: list(pixelproof.batch([png], **o)),
])
def test_a_misspelled_option_names_itself_and_nothing_is_sent(png, call):
    with FakeAPI() as api:
        with pytest.raises(ConfigError, match=r"has no option modle=\. Did you mean model=\?"):
            call(png, modle="openai:m", base_url=api.url)
    assert api.requests == []


@pytest.mark.parametrize("options, says", [
    ({"format": "xml"}, "format='xml' is not one of markdown, json, jsonl, csv"),
    ({"attempts": 0}, "attempts=0 is not in 1 to 10"),
    ({"detail": "huge"}, "detail='huge' is not one of low, high, auto"),
    ({"temperature": 1.5, "model": "anthropic:claude-haiku-4-5"}, "temperature=1.5 is not in 0 "
                                                                   "to 1"),
])
def test_options_out_of_range_are_refused_before_any_request(png, options, says):
    with FakeAPI() as api:
        with pytest.raises(ConfigError, match=re.escape(says)):
            pixelproof.extract(png, **{"model": "openai:m", "base_url": api.url, **options})
    assert api.requests == []


def test_a_missing_key_raises_instead_of_failing_every_item(png, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="no API key. Set OPENAI_API_KEY"):
        pixelproof.extract(png, model="openai:gpt-4o-mini")


def test_data_has_one_shape_for_a_list_of_one_image_and_of_two(tmp_path, png):
    other = tmp_path / "other.png"
    PILImage.new("RGB", (64, 48), "gray").save(other)
    with FakeAPI(answer=lambda body: '[{"amount": "1"}]') as api:
        def run(images):
            return pixelproof.extract(images, fields="amount:number", model="openai:m",
                                      base_url=api.url, verify=False)
        one, two, alone = run([png]), run([png, str(other)]), run(png)
    assert one.data == [[{"amount": 1}]]
    assert two.data == [[{"amount": 1}], [{"amount": 1}]]
    assert [r["source"] for r in one.records] == [png]
    assert alone.data == [{"amount": 1}] and alone.records == [{"amount": 1}]  # one image named


def test_options_value_is_taken_and_given_names_go_over_it(png):
    options = pixelproof.Options(model="openai:m", format="json", verify=False)
    with FakeAPI(answer=lambda body: '[{"a": "1"}]') as api:
        result = pixelproof.extract(png, options=options, base_url=api.url, attempts=1)
    assert result.data == [{"a": "1"}] and len(api.requests) == 1
    assert "JSON array" in api.requests[0]["messages"][0]["content"][0]["text"]


def test_the_public_names_are_all_in_all_and_estimate_counts_before_sending(png):
    public = {n for n in dir(pixelproof) if not n.startswith("_")} - {
        # the package's modules, which its import loads
        n for n in dir(pixelproof) if type(getattr(pixelproof, n)).__name__ == "module"}
    assert public == set(pixelproof.__all__)
    est = pixelproof.estimate([png, png], model="openai:gpt-4o", detail="low")
    assert [i.tokens for i in est.images] == [85, 85] and est.cost is not None


def test_the_library_names_its_parameter_and_the_command_its_flag(png):
    cut = Reply(body=completion('[{"a": 1}, {"a"', finish="length"))
    with FakeAPI(answer=lambda body: cut) as api:
        result = pixelproof.extract(png, fields="a:number", model="openai:m", base_url=api.url)
        run = cli("extract", png, "--fields", "a:number", "-m", "openai:m", "--base-url",
                  api.url)
    assert "Raise max_tokens=, or split" in result.failed[0].error
    assert run.returncode == 1 and "Raise --max-tokens, or split" in run.stderr
