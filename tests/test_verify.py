"""Every true value verified; every injected error flagged; sums and votes; the CLI report."""

import json
import sys
from functools import cache
from pathlib import Path

import pytest
import render
from fakeapi import FakeAPI
from test_cli_describe import cli

import pixelproof
from pixelproof import ocr
from pixelproof.verify import verify, vote

sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))
from verify import data_of  # noqa: E402  (the bench's document -> data mapping)


@cache
def page(kind, seed):
    doc = getattr(render, kind)(seed)
    return doc, ocr.read(doc.image)


@pytest.mark.parametrize("kind", ["statement", "receipt", "invoice", "grid"])
def test_true_values_all_verified_and_sums_pass(kind):
    doc, read = page(kind, 11)
    report = verify(None, data_of(kind, doc), ocr=read)
    assert report.flagged == [], report.flagged
    assert report.arithmetic and all(a.ok for a in report.arithmetic)
    assert report.summary().startswith(f"{len(report.checks)} values: {len(report.checks)} "
                                       "verified, 0 unverified, 0 contradicted; totals check: "
                                       "passed")


def _statement():
    doc, read = page("statement", 11)
    return data_of("statement", doc), read


def _first_number(rows, key):
    return next(n for n, r in enumerate(rows) if r[key])


@pytest.mark.parametrize("change", [
    "changed digit", "swapped digits", "dropped minus", "shifted decimal", "wrong date"])
def test_injected_cell_errors_are_flagged(change):
    data, read = _statement()
    rows = data["rows"]
    n = _first_number(rows, "debit")
    value = rows[n]["debit"]
    path = f"rows[{n}].debit"
    if change == "changed digit":
        rows[n]["debit"] = value[:-1] + str((int(value[-1]) + 3) % 10)
    elif change == "swapped digits":
        rows[n]["debit"] = value[:-2] + value[-1] + value[-2] if value[-1] != value[-2] \
            else "9" + value
    elif change == "shifted decimal":
        plain = value.replace(",", "")
        rows[n]["debit"] = plain.replace(".", "")[:-1] + "." + plain[-3]
    elif change == "wrong date":
        path = f"rows[{n}].date"
        rows[n]["date"] = f"{int(rows[n]['date'][:2]) % 27 + 1:02d}" + rows[n]["date"][2:]
    else:  # a negative balance printed with its minus, extracted without it
        n = next((i for i, r in enumerate(rows) if r["balance"].startswith("-")), None)
        if n is None:
            pytest.skip("no negative balance in this document")
        path = f"rows[{n}].balance"
        rows[n]["balance"] = rows[n]["balance"][1:]
    report = verify(None, data, ocr=read)
    check = next(c for c in report.checks if c.path == path)
    assert check.status != "verified", check
    assert any(c.path == path for c in report.flagged)


def test_invented_row_and_wrong_total_are_flagged():
    doc, read = page("receipt", 12)
    data = data_of("receipt", doc)
    data["rows"].append({"item": "Gold bar", "qty": "1", "price": "99.00", "amount": "99.00"})
    report = verify(None, data, ocr=read)
    invented = [c for c in report.checks if c.path.startswith(f"rows[{len(data['rows']) - 1}]")]
    assert invented and all(c.status == "unverified" for c in invented)
    failed = [a for a in report.arithmetic if not a.ok]
    assert failed and "rows[4].amount" in failed[0].paths  # the lines no longer add up

    data = data_of("receipt", doc)
    data["total"] = "1" + data["total"]
    report = verify(None, data, ocr=read)
    (total,) = [c for c in report.checks if c.path == "total"]
    assert total.status == "contradicted" and total.ocr_text == doc.values["Total"]
    assert any(not a.ok and "total" in a.paths for a in report.arithmetic)


def test_running_balance_failure_names_the_values():
    data, read = _statement()
    data["rows"][3]["balance"] = "1.00"
    (bad, *_) = [a for a in verify(None, data, ocr=read).arithmetic if not a.ok]
    assert "rows[3].balance" in bad.paths and "rows[2].balance" in bad.paths


def test_votes_flag_disagreement():
    votes = {v.path: v for v in vote([{"total": 9.5, "date": "2024-01-02"},
                                      {"total": 9.5, "date": "2024-01-02"},
                                      {"total": 95.0, "date": "2024-01-02"}])}
    assert votes["date"].agreement == 1
    assert votes["total"].agreement == pytest.approx(2 / 3)
    assert votes["total"].answers == (9.5, 9.5, 95.0)


def test_cli_report_show_strict_overlay_and_json_block(tmp_path):
    doc, _ = page("receipt", 13)
    path = tmp_path / "receipt.png"
    doc.image.save(path)
    good = {"date": doc.values["Date"], "total": doc.values["Total"]}
    bad = {"date": doc.values["Date"], "total": "1" + doc.values["Total"]}
    args = ["extract", str(path), "--schema", str(tmp_path / "s.json"), "-m", "openai:m", "-f",
            "json"]
    (tmp_path / "s.json").write_text(json.dumps({"type": "object", "properties": {
        "date": {"type": "string"}, "total": {"type": "string"}}}))
    with FakeAPI(answer=lambda body: json.dumps(good)) as api:
        ok = cli(*args, "--base-url", api.url, "--strict")
    assert ok.returncode == 0, ok.stderr
    block = json.loads(ok.stdout)
    assert block["records"] == [good]
    assert block["verification"][0]["verified"] == 2
    assert "2 values: 2 verified, 0 unverified, 0 contradicted" in ok.stderr
    with FakeAPI(answer=lambda body: json.dumps(bad)) as api:
        flagged = cli(*args, "--base-url", api.url, "--strict", "--show", "--overlay",
                      str(tmp_path / "o.png"))
    assert flagged.returncode == 1
    assert "contradicted: total" in flagged.stderr and "--strict" in flagged.stderr
    assert (tmp_path / "o.png").stat().st_size > 1000


def test_library_verify_on_any_data(tmp_path):
    doc, _ = page("invoice", 14)
    path = tmp_path / "inv.png"
    doc.image.save(path)
    report = pixelproof.verify(str(path), {"invoice no": doc.values["Invoice No"],
                                           "customer": "Somebody Else"})
    statuses = {c.path: c.status for c in report.checks}
    assert statuses == {"invoice no": "verified", "customer": "contradicted"}


def test_several_models_vote(tmp_path):
    doc, _ = page("receipt", 13)
    path = tmp_path / "receipt.png"
    doc.image.save(path)
    total = doc.values["Total"]

    def answer(body):
        value = total if body["model"] == "a" else "1" + total
        return json.dumps([{"total": value}])

    with FakeAPI(answer=answer) as api:
        r = cli("extract", str(path), "--fields", "total", "-m", "openai:a", "-m", "openai:b",
                "--base-url", api.url, "--show", "--strict", "-f", "json")
    assert {b["model"] for b in api.requests} == {"a", "b"}
    assert r.returncode == 1
    line = next(x for x in r.stderr.splitlines() if "votes disagree on [0].total" in x)
    assert total in line and "1" + total in line
    assert json.loads(r.stdout)["records"] == [{"total": total}]  # the first model answers


def test_tables_and_key_values_in_one_list_are_checked_together():
    """The shape of an extraction without a schema: rows of every table, tagged by table."""
    doc, read = page("receipt", 12)
    rows = [{"table": 1, **dict(zip(["Item", "Qty", "Price", "Amount"], r, strict=True))}
            for r in doc.rows] + [{"table": 2, "key": k, "value": v}
                                  for k, v in doc.values.items()]
    assert all(a.ok for a in verify(None, rows, ocr=read).arithmetic)
    rows[-1]["value"] = "1" + rows[-1]["value"]  # the total
    report = verify(None, rows, ocr=read)
    (bad,) = [a for a in report.arithmetic if not a.ok]
    assert bad.name == "subtotal + tax = total" and f"[{len(rows) - 1}].value" in bad.paths
    assert any(c.path == f"[{len(rows) - 1}].value" for c in report.flagged)


def _page(*lines: list[tuple[str, float]]) -> ocr.OcrResult:
    """A hand-made OCR result: each line a list of (text, x) words, 40 px apart."""
    from pixelproof.types import OcrResult, Word
    words = [Word(text, (x, 40 * n, x + 12 * len(text), 40 * n + 24), 0.99, n)
             for n, line in enumerate(lines) for text, x in line]
    return OcrResult(tuple(words), 1000, 40 * len(lines))


@pytest.mark.parametrize(("value", "printed", "ok"), [
    ("1234.50", "1,234.50", True), (12.5, "12.50", True), (-12, "(12.00)", True),
    (-12, "12.00-", True), ("-12.00", "-12.00", True), ("ACME Corp.", "ACME  Corp.", True),
    ("acme corp", "ACME Corp.", True), ("1,234.50 €", "1.234,50", True),
    (1234.05, "1,234.50", False), (12, "(12.00)", False), (1.25, "12.50", False),
    ("ACME Corp. 2", "ACME Corp. 3", False), ("2024-03-04", "04/03/2024", True),
])
def test_matching_rules(value, printed, ok):
    words = [(w, 300 + 120 * i) for i, w in enumerate(printed.split())]
    page = _page([("Ref:", 40), ("Z-1", 100)], [("Amount", 40), *words])
    (check,) = verify(None, {"amount": value}, ocr=page).checks
    assert (check.status == "verified") is ok, check


def test_day_and_month_are_read_the_page_s_way_round():
    """A page that prints 25/03/2024 writes day first: its 04/03/2024 is 4 March."""
    page = _page([("Date:", 40), ("04/03/2024", 300)], [("Due:", 40), ("25/03/2024", 300)])
    statuses = [c.status for c in verify(None, {"date": "2024-03-04", "due": "2024-03-25"},
                                         ocr=page).checks]
    assert statuses == ["verified", "verified"]
    swapped = verify(None, {"date": "2024-04-03"}, ocr=page).checks[0]
    assert swapped.status == "contradicted" and swapped.ocr_text == "04/03/2024"
    copied = verify(None, {"date": "03/04/2024"}, ocr=page).checks[0]  # copied the wrong way
    assert copied.status == "contradicted"


def test_a_wrong_cell_reads_as_its_column_on_its_row():
    """The cell is located by its row's line and its column's x range (from the other rows)."""
    doc, read = page("invoice", 11)
    data = data_of("invoice", doc)
    truth = data["rows"][2]["amount"]
    data["rows"][2]["amount"] = truth[:-1] + str((int(truth[-1]) + 1) % 10)
    check = next(c for c in verify(None, data, ocr=read).checks if c.path == "rows[2].amount")
    assert check.status == "contradicted" and check.ocr_text == truth, check


def test_model_typed_answers_verify_and_a_flipped_debit_sign_fails_the_balance():
    """Numbers as numbers, ISO dates, debits negative: how a model's JSON usually reads."""
    from verify import typed
    data, read = _statement()
    report = verify(None, typed(data), ocr=read)
    assert report.flagged == [] and all(a.ok for a in report.arithmetic), report.summary()
    n = _first_number(data["rows"], "debit")
    data["rows"][n]["debit"] = "-" + data["rows"][n]["debit"]  # typed: a positive debit
    report = verify(None, typed(data), ocr=read)
    assert any(not a.ok and f"rows[{n}].debit" in a.paths for a in report.arithmetic)


def test_a_row_given_twice_is_flagged_but_a_row_printed_twice_is_not():
    page = _page([("Item", 40), ("Qty", 400), ("Amount", 600)],
                 [("Tea", 40), ("2", 400), ("3.00", 600)],
                 [("Soap", 40), ("1", 400), ("1.20", 600)],
                 [("Tea", 40), ("2", 400), ("3.00", 600)])
    tea, soap = {"item": "Tea", "qty": 2, "amount": 3.0}, {"item": "Soap", "qty": 1,
                                                           "amount": 1.2}
    assert verify(None, {"rows": [tea, soap, tea]}, ocr=page).flagged == []
    report = verify(None, {"rows": [tea, soap, soap, tea]}, ocr=page)
    assert {c.path for c in report.flagged} == {"rows[2].item", "rows[2].qty", "rows[2].amount"}
    assert "rows[1]" in report.flagged[0].note


@pytest.mark.parametrize(("printed", "value", "ok"), [
    ("- 12.00", -12, True), ("- 12.00", 12, False), ("12.00 DR", -12, True),
    ("12.00 DR", 12, False), ("12.00 CR", 12, True), ("1, 212.00", 212, False)])
def test_a_number_is_read_with_the_rest_of_its_cell(printed, value, ok):
    words = [(w, 600 + 12 * sum(len(x) + 1 for x in printed.split()[:i]))
             for i, w in enumerate(printed.split())]
    page = _page([("Item", 40), ("Amount", 600)], [("Tea", 40), *words],
                 [("Soap", 40), ("5.00", 600)])
    report = verify(None, {"rows": [{"item": "Tea", "amount": value},
                                    {"item": "Soap", "amount": 5}]}, ocr=page)
    assert (report.checks[1].status == "verified") is ok, report.checks[1]


def test_arithmetic_finds_roles_from_schema_style_names():
    from pixelproof.verify import arithmetic
    data = {"items": [{"name": "Tea", "quantity": 2, "unit_price": 1.5, "line_total": 3.0},
                      {"name": "Soap", "quantity": 1, "unit_price": 1.2, "line_total": 1.2}],
            "sub_total": 4.2, "tax": 0.42, "total_amount": 4.62}
    assert [a.ok for a in arithmetic(data)] == [True] * 4
    data["items"][1]["line_total"] = 2.1
    failed = [a for a in arithmetic(data) if not a.ok]
    assert [a.name for a in failed] == ["line 2: quantity x unit_price = line_total",
                                        "line_total lines = sub_total"]
    assert "items[1].line_total" in failed[1].paths and "sub_total" in failed[1].paths


def test_balances_chain_from_opening_to_closing():
    from pixelproof.verify import arithmetic
    data = {"opening_balance": "100.00", "rows": [
        {"debit": "10.00", "credit": None, "balance": "90.00"},
        {"debit": None, "credit": "5.50", "balance": "95.50"}], "closing_balance": "95.50"}
    assert [a.ok for a in arithmetic(data)] == [True, True, True]
    data["closing_balance"] = "95.05"
    (bad,) = [a for a in arithmetic(data) if not a.ok]
    assert bad.paths == ("rows[1].balance", "closing_balance")


def test_overlay_of_an_image_from_stdin(tmp_path):
    """Stdin is read once; the overlay is drawn on that same image."""
    import io

    from PIL import Image
    doc, _ = page("receipt", 13)
    png = io.BytesIO()
    doc.image.save(png, "PNG")
    with FakeAPI(answer=lambda body: json.dumps([{"total": doc.values["Total"]}])) as api:
        r = cli("extract", "-", "--fields", "total", "-m", "openai:m", "--base-url", api.url,
                "--overlay", str(tmp_path / "o.png"), stdin=png.getvalue())
    assert r.returncode == 0, r.stderr
    drawn = Image.open(tmp_path / "o.png").convert("RGB")
    assert drawn.size == doc.image.size
    x0, y0, x1, y1 = map(int, doc.boxes["Total"])
    assert (22, 163, 74) in {drawn.getpixel((x, y)) for x in range(x0 - 12, x1 + 12)
                             for y in range(y0 - 12, y1 + 12)}  # a green box by the total


def test_text_wrapped_onto_the_next_line_is_found():
    page = _page([("Item", 40), ("Qty", 400), ("Amount", 600)],
                 [("Tea", 40), ("2", 400), ("3.00", 600)],
                 [("Soap", 40), ("1", 400), ("1.20", 600)],
                 [("lavender", 40)])
    rows = [{"item": "Tea", "qty": 2, "amount": 3.0},
            {"item": "Soap lavender", "qty": 1, "amount": 1.2}]
    assert verify(None, {"rows": rows}, ocr=page).flagged == []
    rows[0]["item"] = "Soap"  # the next row's text
    (bad,) = verify(None, {"rows": rows}, ocr=page).flagged
    assert bad.path == "rows[0].item" and bad.status == "contradicted" and bad.ocr_text == "Tea"


def test_pydantic_rows_are_checked_as_a_table():
    from pydantic import BaseModel

    class Line(BaseModel):
        item: str
        qty: int
        amount: float

    class Receipt(BaseModel):
        rows: list[Line]
        subtotal: float

    page = _page([("Item", 40), ("Qty", 400), ("Amount", 600)],
                 [("Tea", 40), ("2", 400), ("3.00", 600)],
                 [("Soap", 40), ("1", 400), ("1.20", 600)],
                 [("Subtotal:", 400), ("4.20", 600)])
    good = Receipt(rows=[Line(item="Tea", qty=2, amount=3), Line(item="Soap", qty=1,
                                                                 amount=1.2)], subtotal=4.2)
    report = verify(None, good, ocr=page)
    assert report.flagged == [] and [a.ok for a in report.arithmetic] == [True]
    bad = verify(None, [good.rows[1], good.rows[0].model_copy(update={"amount": 1.2})],
                 ocr=page)  # a bare list of models: rows too
    assert [c.path for c in bad.flagged] == ["[1].amount"]
    assert bad.flagged[0].status == "contradicted" and bad.flagged[0].ocr_text == "3.00"


def test_an_account_number_does_not_hide_the_page_s_date_order():
    page = _page([("Account:", 40), ("05-67-12", 300)], [("Date:", 40), ("04/03/2024", 300)],
                 [("Due:", 40), ("25/03/2024", 300)])
    assert verify(None, {"date": "2024-04-03"}, ocr=page).checks[0].status == "contradicted"


def test_a_date_the_page_leaves_ambiguous_says_so():
    page = _page([("Date:", 40), ("03/04/2024", 300)])
    (check,) = verify(None, {"date": "2024-04-03"}, ocr=page).checks
    assert check.status == "verified" and "day and month" in check.note
    clear = _page([("Date:", 40), ("03/04/2024", 300)], [("Due:", 40), ("25/04/2024", 300)])
    (check,) = verify(None, {"date": "2024-04-03"}, ocr=clear).checks
    assert check.status == "verified" and check.note == ""


def test_a_field_named_after_more_than_its_label_is_checked_at_that_label():
    doc, read = page("receipt", 12)
    truth = {"total_amount": doc.values["Total"], "date": doc.values["Date"]}
    assert verify(None, truth, ocr=read).flagged == []
    (bad,) = verify(None, {"total_amount": doc.values["Subtotal"]}, ocr=read).flagged
    assert bad.status == "contradicted" and bad.ocr_text == doc.values["Total"]


def test_a_value_put_in_the_wrong_column_is_flagged():
    data, read = _statement()
    n = _first_number(data["rows"], "debit")
    row = data["rows"][n]
    row["credit"], row["debit"] = row["debit"], None
    check = next(c for c in verify(None, data, ocr=read).checks if c.path == f"rows[{n}].credit")
    assert check.status != "verified" and "another column" in check.note, check


def test_votes_ask_again_with_some_temperature_and_report_disagreement(tmp_path):
    doc, _ = page("receipt", 13)
    path = tmp_path / "receipt.png"
    doc.image.save(path)
    total, calls = doc.values["Total"], []

    def answer(body):
        calls.append(body)
        return json.dumps([{"total": total if len(calls) != 2 else "9" + total}])

    with FakeAPI(answer=answer) as api:
        r = cli("extract", str(path), "--fields", "total", "-m", "openai:m", "--votes", "3",
                "--base-url", api.url, "--show", "-f", "json", "--no-cache")
    assert r.returncode == 0, r.stderr  # not --strict: reported, not failed
    assert len(api.requests) == 3
    assert [b.get("temperature", 0) > 0 for b in api.requests].count(True) == 2
    (report,) = json.loads(r.stdout)["verification"]
    (split,) = report["votes"]
    assert split["path"] == "[0].total" and split["agreement"] == pytest.approx(2 / 3)
    assert "votes split on 1 of 1 fields" in r.stderr and "votes disagree on [0].total" in r.stderr


def test_a_header_set_off_from_its_column_flags_nothing():
    page = _page([("Item", 40), ("Qty", 300), ("Amount", 400)],
                 [("Tea", 40), ("2", 300), ("3.00", 700)],
                 [("Soap", 40), ("1", 300), ("1.20", 700)],
                 [("Salt", 40), ("4", 300), ("0.80", 700)])
    rows = [{"item": "Tea", "qty": 2, "amount": 3.0}, {"item": "Soap", "qty": 1, "amount": 1.2},
            {"item": "Salt", "qty": 4, "amount": 0.8}]
    assert verify(None, {"rows": rows}, ocr=page).flagged == []
    rows[1]["qty"], rows[1]["amount"] = None, 1  # the quantity read into the amount column
    (bad,) = verify(None, {"rows": rows}, ocr=page).flagged
    assert bad.path == "rows[1].amount" and "another column" in bad.note
