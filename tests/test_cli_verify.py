"""`pixelproof verify IMAGE DATA`: data from anywhere checked against a rendered receipt."""

import copy
import importlib
import json
from functools import cache
from pathlib import Path

import pytest
import render
from click.testing import CliRunner
from fakeapi import FakeAPI
from PIL import Image
from render import data_of

from pixelproof import formats
from pixelproof.cli import main

NO_KEYS = {"OPENAI_API_KEY": None, "ANTHROPIC_API_KEY": None, "GEMINI_API_KEY": None}


@cache
def receipt():
    doc = render.receipt(13)
    return doc, data_of("receipt", doc)


@pytest.fixture
def files(tmp_path):
    """The receipt as a PNG and its true data as JSON: (png, json, data)."""
    doc, data = receipt()
    png, good = tmp_path / "receipt.png", tmp_path / "data.json"
    doc.image.save(png)
    good.write_text(json.dumps(data))
    return str(png), str(good), copy.deepcopy(data)


def run(*args, stdin=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=stdin, env=NO_KEYS)


def summary_of(data):
    """What every value verified and the sums passing look like for ``data``."""
    n = len([v for r in data["rows"] for v in r.values() if v]) + sum(
        1 for k, v in data.items() if k != "rows" and v)
    return f"{n} values: {n} verified, 0 unverified, 0 contradicted; totals check: passed"


def test_true_data_is_all_verified(files):
    png, good, data = files
    r = run("verify", png, good)
    assert r.exit_code == 0, r.output
    assert r.stdout == f"{png}: {summary_of(data)}\n"


def test_a_changed_number_is_contradicted_listed_and_fails_strict(files, tmp_path):
    png, _, data = files
    amount = data["rows"][0]["amount"]
    data["rows"][0]["amount"] = amount[:-1] + str((int(amount[-1]) + 3) % 10)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    r = run("verify", png, bad)
    assert r.exit_code == 0 and "1 contradicted" in r.stdout
    assert "rows[0].amount" not in r.stdout
    r = run("verify", png, bad, "--show", "--strict")
    assert r.exit_code == 1
    assert f"contradicted: rows[0].amount = '{data['rows'][0]['amount']}'" in r.stdout
    assert "sum failed" in r.stdout and "--strict" in r.stderr


def test_data_from_stdin(files):
    png, good, data = files
    r = run("verify", png, "-", stdin=Path(good).read_text())
    assert r.exit_code == 0, r.output
    assert summary_of(data) in r.stdout


@pytest.mark.parametrize("flag", [["--json"], ["-f", "json"]])
def test_json_report(files, flag):
    png, good, data = files
    r = run("verify", png, good, *flag)
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["summary"] == summary_of(data)
    assert len(report["checks"]) == report["verified"] > 0
    assert {c["status"] for c in report["checks"]} == {"verified"}
    assert "rows[0].amount" in {c["path"] for c in report["checks"]}
    assert summary_of(data) in r.stderr  # the human line stays off stdout


def test_overlay_is_drawn_in_a_new_folder(files, tmp_path):
    png, good, _ = files
    out = tmp_path / "new" / "overlay.png"
    r = run("verify", png, good, "--overlay", out)
    assert r.exit_code == 0, r.output
    drawn = Image.open(out).convert("RGB")
    assert drawn.size == receipt()[0].image.size
    assert (22, 163, 74) in {c for _, c in drawn.getcolors(1 << 24)}  # green boxes


def test_an_unusable_overlay_path_fails_before_any_ocr(files, monkeypatch):
    png, good, _ = files
    module = importlib.import_module("pixelproof.verify")
    monkeypatch.setattr(module, "verify", lambda *a: pytest.fail("OCR ran"))
    r = run("verify", png, good, "--overlay", "overlay.txt")
    assert r.exit_code == 2
    assert r.stderr.count("\n") == 1 and "overlay.txt" in r.stderr


@pytest.mark.parametrize("content", ['{"total": 12.50,\n', "just some words\n", ""])
def test_unreadable_data_is_one_line_naming_the_file(files, tmp_path, content):
    png, _, _ = files
    bad = tmp_path / "broken.json"
    bad.write_text(content)
    r = run("verify", png, bad)
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit)
    assert r.stderr.count("\n") == 1
    assert r.stderr.startswith(f"pixelproof: error: {bad}: ")
    assert "Traceback" not in r.output and r.stdout == ""


@pytest.mark.parametrize("fmt", ["markdown", "csv", "jsonl"])
def test_rows_as_markdown_csv_or_json_lines(files, tmp_path, fmt):
    png, _, data = files
    path = tmp_path / "rows.txt"
    path.write_text({"markdown": formats.to_markdown, "csv": formats.to_csv,
                     "jsonl": formats.to_jsonl}[fmt](data["rows"]))
    r = run("verify", png, path, "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["verified"] == sum(1 for row in data["rows"] for v in row.values() if v)
    assert report["unverified"] == report["contradicted"] == 0


def test_a_scanned_pdf_is_verified_on_every_page_or_on_one(files, tmp_path):
    png, good, data = files
    pdf = tmp_path / "scan.pdf"
    page = Image.open(png).convert("RGB")
    Image.new("RGB", page.size, "white").save(pdf, save_all=True, append_images=[page],
                                              resolution=200)
    r = run("verify", pdf, good, "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["read"] == ["ocr", "ocr"] and report["verified"] == len(report["checks"])
    assert {c["page"] for c in report["checks"] if c["box"]} == {2}  # the values are on page 2
    r = run("verify", f"{pdf}#page=2", good)
    assert r.exit_code == 0, r.output
    assert r.stdout == f"{pdf}#page=2: {summary_of(data)}\n"


def test_extract_json_output_fed_back(files, tmp_path):
    """An object answer is verified as the object it was, with the same report."""
    png, _, data = files
    answer = {k: v for k, v in data.items() if k != "rows"}
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"type": "object", "properties": {
        k: {"type": "string"} for k in answer}}))
    out = tmp_path / "out.json"
    with FakeAPI(answer=lambda body: json.dumps(answer)) as api:
        r = run("extract", png, "--schema", schema, "-m", "openai:m", "--base-url", api.url,
                "-o", out)
    assert r.exit_code == 0, r.output
    block = json.loads(out.read_text())
    assert block["records"] == [answer]
    r = run("verify", png, out, "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["checks"] == block["verification"][0]["checks"]
    assert report["verified"] == len(answer)


def test_extract_output_of_several_images_gives_each_its_own_rows(files, tmp_path):
    png, _, data = files
    other = tmp_path / "copy.png"
    other.write_bytes(Path(png).read_bytes())
    out = tmp_path / "out.json"
    with FakeAPI(answer=lambda body: json.dumps(data["rows"])) as api:
        r = run("extract", png, other, "--fields", "item, qty, price, amount", "-m",
                "openai:m", "--base-url", api.url, "-o", out)
    assert r.exit_code == 0, r.output
    assert len(json.loads(out.read_text())["records"]) == 8
    r = run("verify", other, out, "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert [c["path"] for c in report["checks"]] == [
        f"[{n}].{k}" for n in range(4) for k in ("item", "qty", "price", "amount")]
    assert report["verified"] == 16
    third = tmp_path / "third.png"
    third.write_bytes(Path(png).read_bytes())
    r = run("verify", third, out)
    assert r.exit_code == 2 and "holds the data of 2 images" in r.stderr


def test_a_second_verify_of_the_same_image_reads_nothing(tmp_path, monkeypatch):
    from pixelproof import ocr
    monkeypatch.setenv("PIXELPROOF_HOME", str(tmp_path / "home"))
    image, data = tmp_path / "receipt.png", tmp_path / "data.json"
    render.receipt(seed=3).image.save(image)
    data.write_text(json.dumps({"total": 1.0}))
    ocr.reader().forget()
    CliRunner().invoke(main, ["verify", str(image), str(data)])
    calls = ocr.reader().calls
    ocr.reader().forget()  # as a new process would start: only the store remembers
    CliRunner().invoke(main, ["verify", str(image), str(data)])
    assert ocr.reader().calls == calls
