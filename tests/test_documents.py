"""Whole documents: a multi-page PDF verified as one, its text layer read instead of OCR."""

import copy
import json
import random

import pytest
from click.testing import CliRunner
from render import money, text_pdf

import pixelproof
from pixelproof import ocr
from pixelproof.cli import main
from pixelproof.images import load

WORDS = ["Grocer", "Rent", "Salary", "Fuel", "Books", "Water", "Taxi", "Market", "Bakery"]


def statement(seed: int = 0, pages: int = 3, rows: int = 6) -> tuple[bytes, dict]:
    """A statement over ``pages`` pages, each after the first opening with the balance brought
    forward, and the data a model would give for it (all rows, no carried lines)."""
    rnd = random.Random(seed)
    balance = rnd.randint(50_000, 200_000)
    data: dict = {"account": "12-34-56", "opening balance": money(balance), "rows": []}
    drawn = []
    for p in range(pages):
        lines = [(60, 50, "Northbank statement"), (400, 50, f"Page {p + 1} of {pages}")]
        lines += [(60, 80, "Account"), (160, 80, data["account"]),
                  (60, 100, "Opening balance" if p == 0 else "Balance brought forward"),
                  (200, 100, money(balance))]
        lines += [(x, 140, h) for x, h in ((60, "Date"), (130, "Description"), (330, "Debit"),
                                          (410, "Credit"), (490, "Balance"))]
        for r in range(rows):
            amount = rnd.randint(100, 99_999)
            credit = rnd.random() < 0.3
            balance += amount if credit else -amount
            row = {"date": f"{p * 9 + r + 1:02d}/03/2024",
                   "description": " ".join(rnd.sample(WORDS, 2)),
                   "debit": None if credit else money(amount),
                   "credit": money(amount) if credit else None, "balance": money(balance)}
            data["rows"].append(row)
            y = 160 + 20 * r
            lines += [(60, y, row["date"]), (130, y, row["description"]),
                      (330, y, row["debit"] or ""), (410, y, row["credit"] or ""),
                      (490, y, row["balance"])]
        closing = "Closing balance" if p == pages - 1 else "Balance carried forward"
        lines += [(60, 180 + 20 * rows, closing), (200, 180 + 20 * rows, money(balance))]
        drawn.append([(x, y, t) for x, y, t in lines if t])
    data["closing balance"] = money(balance)
    return text_pdf(drawn), data


def invoice(seed: int = 0, pages: int = 3, items: int = 5) -> tuple[bytes, dict]:
    """An invoice whose items run over ``pages`` pages, with the totals on the last."""
    rnd = random.Random(seed)
    data: dict = {"invoice no": f"INV-{rnd.randint(1000, 9999)}", "items": []}
    drawn, subtotal = [], 0
    for p in range(pages):
        lines = [(60, 50, "Lumen Supplies Ltd"), (400, 50, f"Page {p + 1} of {pages}"),
                 (60, 80, "Invoice no"), (160, 80, data["invoice no"])]
        lines += [(60, 120, "Description"), (300, 120, "Qty"), (360, 120, "Unit price"),
                  (470, 120, "Amount")]
        for r in range(items):
            qty, price = rnd.randint(1, 9), rnd.randint(100, 20_000)
            subtotal += qty * price
            item = {"description": f"{rnd.choice(WORDS)} item {p * items + r + 1}",
                    "quantity": str(qty), "unit price": money(price),
                    "amount": money(qty * price)}
            data["items"].append(item)
            y = 140 + 20 * r
            lines += [(60, y, item["description"]), (300, y, item["quantity"]),
                      (360, y, item["unit price"]), (470, y, item["amount"])]
        drawn.append(lines)
    tax = subtotal // 5
    data.update({"subtotal": money(subtotal), "tax": money(tax), "total": money(subtotal + tax)})
    y = 160 + 20 * items
    drawn[-1] += [(360, y, "Subtotal"), (470, y, data["subtotal"]), (360, y + 20, "VAT 20%"),
                  (470, y + 20, data["tax"]), (360, y + 40, "Total"), (470, y + 40, data["total"])]
    return text_pdf(drawn), data


@pytest.fixture
def no_ocr(monkeypatch):
    """Fails the test if the OCR engine is asked to read a page."""
    def refuse(self, image):
        raise AssertionError("OCR ran on a page that has a text layer")
    monkeypatch.setattr(ocr.Pool, "submit", refuse)


def test_a_text_layer_is_the_pages_read(tmp_path, no_ocr):
    path = tmp_path / "one.pdf"
    path.write_bytes(text_pdf([[(72, 72, "Invoice 12345"), (72, 100, "Total"),
                                (300, 100, "1,234.50")]]))
    page = load(str(path))[0]
    assert [w for w, _ in page.words] == ["Invoice", "12345", "Total", "1,234.50"]
    read = ocr.read(page)
    assert read.read == "text layer" and read.text == "Invoice 12345\nTotal 1,234.50"
    report = pixelproof.verify(str(path), {"invoice": "12345", "total": "1,234.50"})
    assert report.counts == {"verified": 2, "unverified": 0, "contradicted": 0}
    assert report.to_dict()["read"] == ["text layer"]
    wrong = pixelproof.verify(str(path), {"total": "1,284.50"})
    assert wrong.checks[0].status == "contradicted"


def test_a_scanned_page_is_read_by_ocr(tmp_path):
    """A PDF of an image has no text layer: its page is OCR's to read."""
    from PIL import Image, ImageDraw
    from render import font
    im = Image.new("RGB", (900, 200), "white")
    ImageDraw.Draw(im).text((40, 60), "Total 1,234.50", font=font(40), fill="black")
    path = tmp_path / "scan.pdf"
    im.save(path, resolution=150)
    page = load(str(path))[0]
    assert page.words is None
    report = pixelproof.verify(str(path), {"total": "1,234.50"})
    assert report.reads == ("ocr",) and report.checks[0].status == "verified"


def test_a_statement_over_three_pages_is_one_document(tmp_path, no_ocr):
    body, data = statement(seed=4)
    path = tmp_path / "statement.pdf"
    path.write_bytes(body)
    report = pixelproof.verify(str(path), data)
    assert report.flagged == [], [c for c in report.flagged]
    assert report.reads == ("text layer",) * 3
    pages = {c.path: c.page for c in report.checks}
    assert pages["rows[0].balance"] == 1 and pages["rows[6].balance"] == 2
    assert pages["rows[17].balance"] == 3 and pages["closing balance"] == 3
    chain = [a for a in report.arithmetic if "balance" in a.name]
    assert len(chain) == 18 + 1 and all(a.ok for a in chain)  # every row, then the closing
    for row, page in ((2, 1), (8, 2), (15, 3)):  # an error on each page is found on its page
        bad = copy.deepcopy(data)
        key = "debit" if bad["rows"][row]["debit"] else "credit"
        bad["rows"][row][key] = bad["rows"][row][key].replace(".", "1.", 1)
        got = pixelproof.verify(str(path), bad)
        flagged = [(c.path, c.page) for c in got.flagged]
        assert flagged == [(f"rows[{row}].{key}", page)], flagged
        assert not all(a.ok for a in got.arithmetic)


def test_an_invoice_over_three_pages_sums_every_page(tmp_path, no_ocr):
    body, data = invoice(seed=2)
    path = tmp_path / "invoice.pdf"
    path.write_bytes(body)
    report = pixelproof.verify(str(path), data)
    assert report.flagged == [] and report.arithmetic and all(a.ok for a in report.arithmetic)
    names = " ".join(a.name for a in report.arithmetic)
    assert "line 15" in names  # lines of the last page
    invented = copy.deepcopy(data)
    invented["items"].insert(3, {"description": "Water item 99", "quantity": "1",
                                 "unit price": "10.00", "amount": "10.00"})
    got = pixelproof.verify(str(path), invented)
    assert {c.path for c in got.flagged} >= {"items[3].amount", "items[3].description"}
    assert not all(a.ok for a in got.arithmetic)
    one = pixelproof.verify(f"{path}#page=3", data)  # one page: the others' lines are missing
    assert len(one.flagged) >= 20


def test_cli_verifies_every_page(tmp_path, no_ocr):
    body, data = invoice(seed=5, pages=2)
    path, answer = tmp_path / "inv.pdf", tmp_path / "data.json"
    path.write_bytes(body)
    answer.write_text(json.dumps(data))
    r = CliRunner().invoke(main, ["verify", str(path), str(answer), "--json", "--overlay",
                                  str(tmp_path / "o.png")])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["unverified"] == report["contradicted"] == 0
    assert report["read"] == ["text layer", "text layer"]
    assert {c["page"] for c in report["checks"]} == {1, 2}
    assert (tmp_path / "o-page1.png").exists() and (tmp_path / "o-page2.png").exists()
