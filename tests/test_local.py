"""The offline default: the ``local`` model reads the sample images with no key and no network."""

import json
from pathlib import Path

import pytest
from clirun import cli

import pixelproof

SAMPLES = Path(__file__).parent.parent / "samples"
STATEMENT = str(SAMPLES / "statement.png")
RECEIPT = str(SAMPLES / "receipt.png")


def test_extract_statement_table_offline_by_default():
    run = cli("extract", STATEMENT, "-f", "json")
    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)
    table = [r for r in rows if r.get("table") == 1]
    assert [r["Balance"] for r in table] == ["1,250.00", "1,167.60", "3,567.60", "2,617.60",
                                             "2,610.80", "2,656.79"]
    salary = next(r for r in table if "Salary" in (r["Description"] or ""))
    assert salary["Credit"] == "2,400.00" and salary["Debit"] is None
    pairs = {r["key"]: r["value"] for r in rows if r.get("table") == 2}
    assert pairs["Closing balance"] == "2,656.79"
    assert "0 in, 0 out" in run.stderr


def test_fields_are_filled_by_column_and_typed():
    result = pixelproof.extract(STATEMENT, model="local",
                                fields="date:date, description, debit:number, balance:number")
    rows = result.data
    assert len(rows) == 6
    assert rows[1] == {"date": "2024-03-04", "description": "Grocer Express", "debit": 82.4,
                       "balance": 1167.6}
    assert rows[0]["debit"] is None


def test_schema_fills_labels_and_never_invents(tmp_path):
    schema = {"type": "object", "properties": {
        "date": {"type": ["string", "null"], "format": "date"},
        "receipt no": {"type": ["string", "null"]},
        "total": {"type": ["number", "null"]},
        "tip": {"type": ["number", "null"]},
        "cashier": {"type": ["string", "null"]}}}
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(schema))
    run = cli("extract", RECEIPT, "--schema", str(path), "-f", "json")
    assert run.returncode == 0, run.stderr
    (record,) = json.loads(run.stdout)
    assert record == {"date": "2024-06-14", "receipt no": "20931", "total": 17.93, "tip": None,
                      "cashier": None}


def test_describe_is_honest():
    response = pixelproof.describe(RECEIPT, model="local")
    assert "720x680" in response.text
    assert "CORNER BAKERY" in response.text
    assert "Tables: 1 (3 rows x 4 columns)" in response.text
    assert "vision model" in response.text
    assert response.cost == 0 and response.usage.input_tokens == 0


def test_ocr_command_words_with_boxes():
    run = cli("ocr", RECEIPT, "--json")
    assert run.returncode == 0, run.stderr
    page = json.loads(run.stdout)
    assert (page["width"], page["height"]) == (720, 680)
    total = next(w for w in page["words"] if w["text"] == "17.93")
    x0, y0, x1, y1 = total["box"]
    assert 440 < x0 < x1 < 560 and 550 < y0 < y1 < 620  # where samples/make.py drew it


@pytest.mark.parametrize("name", ["statement.png", "receipt.png", "screenshot.png"])
def test_samples_are_current(name, tmp_path):
    """The committed samples are what samples/make.py draws (the README runs on them)."""
    import runpy

    from PIL import Image, ImageChops
    drawn = runpy.run_path(str(SAMPLES / "make.py"))[name.removesuffix(".png")]()
    with Image.open(SAMPLES / name) as committed:
        assert ImageChops.difference(drawn, committed.convert("RGB")).getbbox() is None
