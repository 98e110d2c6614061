"""Receipts from several countries read offline: the order of numeric dates from the page's
own evidence, totals where the currency is a column or the last line a rounding, the issuer
among the head's lines, item tables without a header. Pages are hand-made OCR words."""

import pytest
from test_paper import page

from pixelproof.errors import ConfigError
from pixelproof.providers.local import fill
from pixelproof.types import OcrResult, Word

DATE = {"type": "object", "properties": {"date": {"type": "string", "format": "date"}}}


@pytest.mark.parametrize(("lines", "date"), [
    ((["TOTAL", "RM", "6.40"], "12-01-19"), "2019-01-12"),  # ringgit: day first
    (("ABC TRADING SDN BHD (123456-X)", "Date: 06/03/2018"), "2018-03-06"),
    (("Printed 25/12/2018", "Date: 06/03/2018"), "2018-03-06"),  # another date tells
    (("CORNER BAKERY", "DURHAM, NC 27704", "Date: 06/03/2018", ["TOTAL", "$12.00"]),
     "2018-06-03"),  # a US state and ZIP code: month first
    (("CORNER BAKERY", "05 MAR 2018 10:31"), "2018-03-05"),  # a month name, over words
    (("CORNER BAKERY", "Mar 5, 2018"), "2018-03-05"),
    (("CORNER BAKERY", "Date: 06/03/2018", ["TOTAL", "12.00"]), "06/03/2018"),  # as printed
    (("CORNER BAKERY", "Date: 13/03/2018"), "2018-03-13"),
    (("CORNER BAKERY", "01-Nov-2017_11:20:04AM R05934"), "2017-11-01"),
    (("CORNER BAKERY", "Date/Time 20180428/191204"), "2018-04-28"),  # compact, by its label
])
def test_the_order_of_a_date_comes_from_the_page(lines, date):
    assert fill(DATE, [page(*lines)]) == {"date": date}


def test_a_date_order_given_is_used_and_an_ambiguous_date_is_noted():
    ocr = page("CORNER BAKERY", "Date: 06/03/2018")
    assert fill(DATE, [ocr], "dmy") == {"date": "2018-03-06"}
    assert fill(DATE, [ocr], "mdy") == {"date": "2018-06-03"}
    notes: list[str] = []
    assert fill(DATE, [ocr], None, notes) == {"date": "06/03/2018"}
    assert "left as printed" in notes[0]
    with pytest.raises(ConfigError):
        fill(DATE, [ocr], "dd/mm")


def lines_of(*lines: tuple[str, float, float]) -> OcrResult:
    """A page of lines, each (text, text height, confidence of its words)."""
    words, y = [], 20.0
    for n, (text, height, sure) in enumerate(lines):
        x = 40.0
        for part in text.split():
            words.append(Word(part, (x, y, x + 0.5 * height * len(part), y + height), sure, n))
            x += 0.5 * height * (len(part) + 1)
        y += 1.5 * height
    return OcrResult(tuple(words), 1200, int(y))


HEAD = {"type": "object", "properties": {"company": {"type": "string"},
                                         "address": {"type": "string"}}}


@pytest.mark.parametrize(("lines", "company", "address"), [
    ((("tan woon yann", 60, 0.4), ("TF VALUE-MART SDN BHD (482123-U)", 24, 0.99),
      ("JALAN TRAS BATU 1", 24, 0.99), ("28700 BENTONG", 24, 0.99), ("TEL : 09-2201388", 24, 1)),
     "TF VALUE-MART SDN BHD", "JALAN TRAS BATU 1 28700 BENTONG"),  # handwriting above
    ((("CITY MILK", 32, 1), ("R&C VENTURE SDN BHD (1191015-W)", 32, 1),
      ("LOT-18A-2, BERJAYA TIMES SQUARE,", 32, 1), ("KUALA LUMPUR.", 32, 1),
      ("(GST NO: 001557721088)", 32, 1)),
     "R&C VENTURE SDN BHD", "LOT-18A-2, BERJAYA TIMES SQUARE, KUALA LUMPUR."),
    ((("AA PHARMACY", 30, 1), ("SUBANG HEALTHCARE", 30, 1), ("1118258-K", 30, 1),
      ("B-8, JALAN SS15/4D", 30, 1), ("47500 SUBANG JAYA", 30, 1), ("TEL:03-56127718", 30, 1)),
     "SUBANG HEALTHCARE", "B-8, JALAN SS15/4D 47500 SUBANG JAYA"),  # a registration number
    ((("Khyen Chyen", 136, 1), ("ZNK Foods & Beverages Pvt. Ltd.", 88, 1),
      ("G-19, DLF Phase 4, Gurgaon 122002", 81, 1), ("Contact : 0124 - 4231919", 81, 1)),
     "Khyen Chyen", "G-19, DLF Phase 4, Gurgaon 122002"),  # a brand's logo over its company
    ((("WELCOME TO", 40, 1), ("FOODTOWN", 51, 0.9), ("SUPERMARKETS LIMITED", 44, 1),
      ("CNR COLERIDGE & WILLIAMSON AVE", 42, 1), ("Date: 12/03/2024", 40, 1)),
     "FOODTOWN SUPERMARKETS LIMITED", "CNR COLERIDGE & WILLIAMSON AVE"),
    ((("FamilyMart", 40, 1), ("MAXINCOME RESOURCES SDN BHD (383322-D)", 24, 1),
      ("NO 16A, JALAN ASTAKA U8/83,", 24, 1), ("NO.1,LEBUH BANDAR UTAMA,", 24, 1),
      ("40150 SHAH ALAM", 24, 1), ("GST ID : 000468594688", 24, 1)),
     "FamilyMart", "NO 16A, JALAN ASTAKA U8/83, NO.1,LEBUH BANDAR UTAMA, 40150 SHAH ALAM"),
    ((("99 SPEED MARTS/B(519537-X)", 40, 1), ("LOT P.T. 33198, BATU 4", 40, 1),
      ("42100 KLANG, SELANGOR", 40, 1), ("GST ID. NO: 000181747712", 40, 1)),
     "99 SPEED MARTS/B", "LOT P.T. 33198, BATU 4 42100 KLANG, SELANGOR"),
    ((("3180404", 37, 1), ("staff ref", 72, 0.79), ("GHEE HIANG", 34, 1),
      ("GH DISTRIBUTOR & MARKETING SDN BHD", 30, 1), ("(1097826-H)", 30, 1),
      ("95, BEACH ROAD, 10300 PENANG", 30, 1), ("TEL: 04-2620196", 30, 1)),
     "GH DISTRIBUTOR & MARKETING SDN BHD", "95, BEACH ROAD, 10300 PENANG"),  # a stamp first
    ((("A PIE THING", 47, 1), ("FOUR QUARTERS SDN BHD (TU79369-P)", 46, 1),
      ("No.128G JLN SS21/35", 47, 1), ("47400 SELANGOR", 47, 1), ("TEL: 03-77", 47, 1)),
     "FOUR QUARTERS SDN BHD", "No.128G JLN SS21/35 47400 SELANGOR"),
])
def test_the_issuer_is_the_registered_block_not_the_top_line(lines, company, address):
    assert fill(HEAD, [lines_of(*lines)]) == {"company": company, "address": address}


TOTAL = {"type": "object", "properties": {"total": {"type": "number"}}}


@pytest.mark.parametrize(("lines", "total"), [
    ((["SUBTOTAL", "RM", "57.00"], ["GST 6%", "RM", "3.30"], ["TOTAL", "RM", "60.30"],
      ["CASH", "RM", "100.00"], ["CHANGE", "RM", "39.70"]), 60.3),  # the currency a column
    ((["TOTAL INCL. GST06%", "RM 8.60"], ["CASH", "RM 20.00"], ["CHANGE", "RM 11.40"]), 8.6),
    ((["Sub-total", "98.37"], ["Total Sales Incl GST", "98.37"], ["Rounding Adj", "-0.02"],
      ["Total After Adj Incl GST", "98.35"], ["CASH", "100.00"]), 98.35),
    ((["Total Sales (Inclusive GST) RM", "13.58"], ["Rounding Adjustment RM", "0.02"],
      ["Rounding RM", "13.60"], ["CASH RM", "14.00"]), 13.6),  # the rounded figure printed last
    ((["TOTAL", "60.32"], ["ROUNDING", "-0.02"], ["NET TOTAL", "60.30"], ["CASH", "70.00"]),
     60.3),
    ((["Total 0% supplies:", "39.01"], ["Total 6% supplies (excl. GST):", "-17.73"],
      ["Total Payable:", "20.21"]), 20.21),
    ((["NASI LEMAK", "20.00"], ["TEH TARIK", "11.00"], ["TOTAL", "3100"], ["CASH", "50.00"]),
     31.0),  # the decimal point lost: the lines add up to 31.00
    ((["SUB-TOTAL", "27.27"], ["TOTAL", "28-90"]), 28.9),
    ((["Subtotal", "GBP 6.40"], ["Net Total:", "GBP 5.33"], ["Cash", "GBP 6.40"]), None),
    ((["TotalSales (Inclusive GST) RM", "2.10"], ["CASH RM", "5.10"], ["CHANGE RM", "3.00"]),
     2.1),  # words OCR glued
    ((["FISH HEAD", "RM11.50"], ["RIBENA", "RM5.90"], ["GST TA AMT", "RM17.40"],
      ["GST 6%", "RM1.04"], ["SUBTOTAL", "RM18.44"], ["CASH", "RM20.00"],
      ["YOUR CHANGE", "RM1.56"]), 18.44),  # no total printed: the amount and its tax
])
def test_the_total_is_the_final_one_the_page_adds_up_to(lines, total):
    assert fill(TOTAL, [page(*lines)]) == {"total": total}


def test_date_order_on_the_command_line(tmp_path):
    import json

    import render
    from test_cli_describe import cli

    doc = render.receipt(1)  # printed 05/10/2024, nothing else on the page tells the order
    doc.image.save(tmp_path / "r.png")
    (tmp_path / "s.json").write_text(json.dumps(DATE))
    args = ("extract", str(tmp_path / "r.png"), "--schema", str(tmp_path / "s.json"), "-f",
            "json")
    runs = [cli(*args), cli(*args, "--date-order", "dmy"), cli(*args, "--date-order", "mdy")]
    assert [json.loads(r.stdout)[0]["date"] for r in runs] == ["05/10/2024", "2024-10-05",
                                                              "2024-05-10"], runs[0].stderr


def grid(*rows: list[str]) -> OcrResult:
    """A page of rows whose cells start at the same x, 250 px apart."""
    words = []
    for n, row in enumerate(rows):
        for col, cell in enumerate(row):
            x = 40 + 250 * col
            for text in cell.split():
                words.append(Word(text, (x, 40 * n, x + 12 * len(text), 40 * n + 24), 0.95, n))
                x += 12 * len(text) + 8
    return OcrResult(tuple(words), 1200, 40 * len(rows))


def test_item_columns_without_a_header_are_named_by_what_they_hold():
    from pixelproof import tables

    ocr = grid(["NASI LEMAK", "3 x 2.70", "8.10"], ["TEH TARIK", "2 x 1.50", "3.00"],
               ["ROTI CANAI", "1 x 1.20", "1.20"])
    (table,) = tables.find_tables(ocr)
    assert table.header == ("description", "quantity", "unit_price", "amount")
    assert table.rows[0] == ("NASI LEMAK", "3", "2.70", "8.10")
    assert not table.printed
    ocr = grid(["2", "KOPI O", "1.80", "3.60"], ["1", "MEE GORENG", "5.50", "5.50"])
    assert tables.find_tables(ocr)[0].header == ("quantity", "description", "unit_price",
                                                 "amount")


def test_a_drawn_receipt_without_a_header_gives_item_rows_cell_for_cell(tmp_path):
    import random

    import render

    import pixelproof

    rnd, rows = random.Random(5), []
    drawn = render._Page(760, 700)
    drawn.line(40, [(220, "KEDAI RUNCIT MAJU")], bold=True)
    for n, name in enumerate(rnd.sample(render.ITEMS, 6)):
        qty, cents = rnd.randint(1, 9), rnd.randint(50, 2500)
        row = [name, str(qty), render.money(cents), render.money(qty * cents)]
        drawn.line(120 + 50 * n, [(40, name), (380, f"{qty} x {row[2]}"), (600, row[3])])
        rows.append(row)
    drawn.image.save(tmp_path / "r.png")
    got = pixelproof.extract(str(tmp_path / "r.png"), model="local").records
    items = [[r.get(k) for k in ("description", "quantity", "unit_price", "amount")]
             for r in got if r.get("amount")]
    cells = [(a, b) for want, have in zip(rows, items, strict=False)
             for a, b in zip(want, have, strict=True)]
    assert len(items) == len(rows)
    assert sum(a == b for a, b in cells) >= 0.95 * 4 * len(rows), items


def test_the_offline_view_boxes_each_value_and_says_what_was_left_as_printed(tmp_path):
    import render

    import pixelproof

    render.receipt(1).image.save(tmp_path / "r.png")  # 05/10/2024: the order is not shown
    view = pixelproof.extract(str(tmp_path / "r.png"), DATE, model="local")._repr_html_()
    assert 'data-path="date" data-status="read"' in view
    assert "left as printed" in view
