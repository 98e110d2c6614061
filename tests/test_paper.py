"""What real receipts and scans do to words (labels glued to values, long values over several
lines, letter-spaced text, tax marks, rounding lines), and how verification and the local
engine hold up: each case a hand-made page of OCR words, as the engine reads real paper."""

from dataclasses import replace

import pytest

from pixelproof import align, ocr
from pixelproof.providers.local import fill
from pixelproof.types import OcrResult, Word
from pixelproof.verify import verify


def page(*lines: str | list[str]) -> OcrResult:
    """A page of OCR words: each line a string (its words one space apart) or a list of
    strings (cells set far apart, as a label and its figure on a receipt)."""
    words = []
    for n, line in enumerate(lines):
        x = 40
        for cell in [line] if isinstance(line, str) else line:
            for text in cell.split():
                words.append(Word(text, (x, 40 * n, x + 12 * len(text), 40 * n + 24), 0.95, n))
                x += 12 * len(text) + 8
            x += 200
    return OcrResult(tuple(words), 1200, 40 * len(lines))


def status(ocr: OcrResult, data: dict, path: str) -> str:
    return next(c for c in verify(None, data, ocr=ocr).checks if c.path == path).status


RECEIPT = page("SYARIKAT PERNIAGAAN GIN KEE", "(81109-A)", "NO 290, JALAN AIR PANAS,",
               "SETAPAK, 53200 KUALA LUMPUR.", "TEL: 03-40210276", "Company No: 81109-A",
               "DATE:15/06/2017 Receipt #24881", ["Date: 10:30", "Cashier: Lim"],
               ["Total Qty:", "3"], ["Total GST", "1.80"], "TOTAL:MYR 31.00",
               ["CASH", "50.00"])


@pytest.mark.parametrize(("data", "path", "expected"), [
    ({"date": "2017-06-15"}, "date", "verified"),  # DATE:15/06/2017, one word
    ({"date": "2017-06-16"}, "date", "contradicted"),
    ({"receipt_no": "24881"}, "receipt_no", "verified"),  # Receipt #24881
    ({"total": 31.0}, "total", "verified"),  # TOTAL:MYR 31.00; not Total Qty nor Total GST
    ({"total": 310.0}, "total", "contradicted"),
    ({"total": 31.5}, "total", "contradicted"),
    ({"company": "SYARIKAT PERNIAGAAN GIN KEE"}, "company", "verified"),  # not "Company No"
    ({"address": "NO 290, JALAN AIR PANAS, SETAPAK, 53200 KUALA LUMPUR."}, "address",
     "verified"),  # over two lines
    ({"address": "NO 290, JALAN AIR PANAS, SETAPAK, 53201 KUALA LUMPUR."}, "address",
     "contradicted"),
    ({"invoice_number": "INV-58213"}, "invoice_number", "unverified"),
])
def test_receipt_fields_glued_split_and_labelled(data, path, expected):
    assert status(RECEIPT, data, path) == expected


def test_a_value_is_verified_where_one_fitting_label_supports_it():
    ocr = page(["Total:", "3100"], ["Total Amount:", "31.00"], ["Date:", "10:30"], "12/03/2024")
    assert status(ocr, {"total": 31.0}, "total") == "verified"  # "3100" lost its point
    assert status(ocr, {"total": 30.0}, "total") == "contradicted"  # every total reads else
    assert status(ocr, {"date": "2024-03-12"}, "date") == "verified"  # a time is not a date


@pytest.mark.parametrize(("value", "expected"), [
    ("SYARIKAT PERNIAGAAN GIN KEE", "verified"),
    ("SYARIKAT PERNIAGAAN GLN KEE", "verified"),  # OCR-level noise in one letter
    ("SYARIKAT PERNIAGAAN LIM KEE", "contradicted"),  # a word replaced
    ("SYARIKAT PERNIAGAAN KEE", "unverified"),  # a word dropped
    ("SYARIKAT PERNIAGAAN GIN KEE HOLDINGS", "unverified"),  # a word added
    ("SYARIKAT PERNIAGAAN GIN", "unverified"),  # the name's last word dropped
    ("ACME TRADING", "unverified"),  # not on the page
])
def test_text_must_match_word_for_word(value, expected):
    assert status(RECEIPT, {"company": value}, "company") == expected


def test_letter_spacing_full_width_brackets_and_glued_words():
    ocr = page("S . H . H . M O T O R （M） SDN.BHD", "Tel 012")
    assert status(ocr, {"company": "S.H.H. MOTOR (M) SDN BHD"}, "company") == "verified"


def test_a_phone_number_beside_an_address_may_be_left_out_a_word_may_not():
    ocr = page("2000 AVONDALE DR", "DURHAM, N.C. 27704 Tel (919) 220-9638", "Thank you")
    assert status(ocr, {"a": "2000 AVONDALE DR DURHAM, N.C. 27704"}, "a") == "verified"
    assert status(ocr, {"a": "2000 AVONDALE DURHAM, N.C. 27704"}, "a") == "unverified"


def test_a_line_skipped_inside_a_value_is_flagged():
    ocr = page("GASTROBAR EL", "GALLO", "AZUL", "JEREZ")
    assert status(ocr, {"company": "GASTROBAR EL GALLO AZUL"}, "company") == "verified"
    assert status(ocr, {"company": "GASTROBAR EL AZUL"}, "company") == "unverified"


def test_align_reports_what_differs():
    match = align.locate("NACOGDOCHES RD 78234", "15038 NACOGDOCHES RD 78233".split())
    assert match.wrong == (("78234", "78233"),) and not match.ok  # the printed word whole
    assert align.locate("NAC0GDOCHES", ["NACOGDOCHES"]).ok  # a zero for an O


@pytest.mark.parametrize(("cell", "value", "ok"), [
    ("28.00*", 28.0, True), ("9.99 T", 9.99, True), (".85 T2", 0.85, True), ("4x", 4, True),
    ("16 . 10", 16.1, True), ("E5.99", 5.99, True), ("28.00*", 29.0, False),
])
def test_marks_around_receipt_figures(cell, value, ok):
    ocr = page(["ITEM", "Coffee", cell], ["ITEM", "Tea", "1.00"])
    rows = {"rows": [{"item": "Coffee", "amount": value}, {"item": "Tea", "amount": 1.0}]}
    assert (status(ocr, rows, "rows[0].amount") == "verified") is ok


def test_an_item_described_on_the_line_above_its_figures():
    ocr = page("SLICED PORK NOODLE SOUP", ["1", "8.95"], ["TEA", "1", "1.00"])
    rows = {"rows": [{"item": "SLICED PORK NOODLE SOUP", "qty": 1, "amount": 8.95},
                     {"item": "TEA", "qty": 1, "amount": 1.0}]}
    report = verify(None, rows, ocr=ocr)
    assert not report.flagged, report.flagged


def test_sums_with_rounding_discount_and_no_table():
    ocr = page(["SUBTOTAL", "30.00"], ["GST 6%", "1.80"], ["DISCOUNT", "2.00"],
               ["ROUNDING", "-0.05"], ["TOTAL", "29.75"])
    data = {"subtotal": 30.0, "gst": 1.8, "discount": 2.0, "rounding": -0.05, "total": 29.75}
    report = verify(None, data, ocr=ocr)
    assert report.arithmetic and all(a.ok for a in report.arithmetic), report.arithmetic
    bad = verify(None, {**data, "total": 31.75}, ocr=ocr)
    assert not bad.arithmetic[0].ok and "total" in bad.arithmetic[0].paths


def test_a_total_row_that_holds_tax_printed_on_the_page_passes():
    ocr = page(["Coffee", "3.00"], ["Cake", "4.00"], ["SUBTOTAL", "7.00"], ["TAX", "0.56"],
               ["TOTAL", "7.56"])
    rows = [{"item": "Coffee", "amount": 3.0}, {"item": "Cake", "amount": 4.0},
            {"item": "TOTAL", "amount": 7.56}]
    (check,) = verify(None, rows, ocr=ocr).arithmetic
    assert check.ok and "TAX" in check.note
    wrong = [*rows[:2], {"item": "TOTAL", "amount": 7.66}]
    assert not verify(None, wrong, ocr=page(["Coffee", "3.00"], ["Cake", "4.00"],
                                            ["TOTAL", "7.66"])).arithmetic[0].ok


SCHEMA = {"type": "object", "properties": {
    "company": {"type": "string"}, "date": {"type": "string", "format": "date"},
    "address": {"type": "string"}, "total": {"type": "number"}}}


def test_local_engine_fills_a_receipt_head_date_and_total():
    got = fill(SCHEMA, [RECEIPT])
    assert got == {"company": "SYARIKAT PERNIAGAAN GIN KEE",
                   "date": "2017-06-15",
                   "address": "NO 290, JALAN AIR PANAS, SETAPAK, 53200 KUALA LUMPUR.",
                   "total": 31.0}


def test_local_engine_fields_that_are_no_table_s_columns_give_one_record():
    rows = {"type": "array", "items": {"type": "object", "properties": {
        k: {**v, "type": [v["type"], "null"]} for k, v in SCHEMA["properties"].items()}}}
    assert fill(rows, [RECEIPT]) == [fill(SCHEMA, [RECEIPT])]
    assert fill(rows, [OcrResult((), 100, 100)]) == []


def test_local_engine_types_are_enforced():
    ocr = page(["Total:", "RM 57.80"], ["Date:", "25/12/2018 8:13:39 PM"],
               ["Amount:", "see over"], ["Visits:", "2.5"])
    schema = {"type": "object", "properties": {
        "total": {"type": "number"}, "date": {"type": "string", "format": "date"},
        "amount": {"type": "number"}, "visits": {"type": "integer"}}}
    assert fill(schema, [ocr]) == {"total": 57.8, "date": "2018-12-25", "amount": None,
                                   "visits": None}


def test_a_registration_number_beside_the_name_may_be_left_out():
    ocr = page("SYARIKAT PERNIAGAAN GIN KEE (81109-A)", "NO 290, JALAN AIR PANAS")
    assert status(ocr, {"company": "SYARIKAT PERNIAGAAN GIN KEE"}, "company") == "verified"
    assert status(ocr, {"company": "SYARIKAT PERNIAGAAN GIN"}, "company") == "unverified"


def test_an_address_line_that_ends_in_a_phone_number_is_kept_without_it():
    ocr = page("CORNER BAKERY", "2000 AVONDALE DR", "DURHAM, N.C. 27704 Tel (919) 220-9638",
               "Date: 12/03/2024")
    assert fill(SCHEMA, [ocr])["address"] == "2000 AVONDALE DR DURHAM, N.C. 27704"


def lines_at(*lines: tuple[str, float, float]) -> OcrResult:
    """A page of OCR lines, each (text, x, y): words read as lines of their own, as OCR
    reads a column printed apart from its labels, or a skewed photo."""
    words = []
    for n, (text, x, y) in enumerate(lines):
        for part in text.split():
            words.append(Word(part, (x, y, x + 12 * len(part), y + 24), 0.95, n))
            x += 12 * len(part) + 8
    return OcrResult(tuple(words), 1200, 800)


TOTAL = {"type": "object", "properties": {"total": {"type": "number"}}}


def test_a_column_of_labels_beside_a_column_of_figures_read_apart():
    ocr = lines_at(("Sub Total", 40, 300), ("Sales Tax", 40, 340), ("Total", 40, 380),
                   ("Total Due", 40, 420), ("22.12", 600, 292), ("1.33", 600, 332),
                   ("23.45", 600, 370), ("23.45", 600, 410))  # the figures 8-10 px higher
    assert fill(TOTAL, [ocr]) == {"total": 23.45}
    assert status(ocr, {"subtotal": 22.12, "tax": 1.33, "total": 23.45}, "tax") == "verified"
    assert status(ocr, {"total": 22.12}, "total") == "contradicted"


def test_a_label_over_its_figure():
    ocr = page(["GALLONS", "FUEL TOTAL"], ["9.505", "$19.00"], "15:05 Amt Due", "€28 .95")
    assert status(ocr, {"fuel_total": 19.0}, "fuel_total") == "verified"
    assert status(ocr, {"gallons": 9.505}, "gallons") == "verified"
    assert status(ocr, {"total": 28.95}, "total") == "verified"  # the amount due: the last
    assert status(ocr, {"total": 19.0}, "total") == "contradicted"
    assert status(ocr, {"amt_due": 28.95}, "amt_due") == "verified"
    assert fill(TOTAL, [page("15:05 Amt Due", "€28 .95")]) == {"total": 28.95}


@pytest.mark.parametrize(("ocr", "total"), [
    (page(["TOTAL:", "Palin", "$48.40"]), 48.4),  # a stray word read after the label
    (page(["GALLONS", "6.281"], ["FUEL SALE", "$ 16.24"]), 16.24),  # the sign a word apart
    (page(["SUBTOTAL", "192.53"], ["A 9.00% TAX", "7.83"], ["TOTFIL", "200.36"],
          ["CHANGE", "0.00"]), 200.36),  # the label misread: subtotal + tax is printed
    (page(["TOTAL", "46.80"], ["SUBTOTAL", "45.00"], ["TOTAL TAX", "1.80"],
          ["CASH", "60.00"], ["Total:", "60"]), 46.8),  # the total the sums agree with
    (page(["DOUBLE COMBO", "7.69"], ["*LARGE COMBO*", "1.09"], ["HST", "2.24"],
          ["***TO GO***", "11.02"], ["AMOUNT TENDER", "20.00"], ["CHANGE DUE", "8.98"]),
     11.02),  # no total label: the amount the ones above add up to; not the cash tendered
    (page(["Original Total", "$29,195.00"], ["TOTAL", "$19.95"]), 19.95),
])
def test_local_engine_finds_the_total_where_receipts_print_it(ocr, total):
    assert fill(TOTAL, [ocr]) == {"total": total}


def raw(*words: tuple[str, float, float, float, float]) -> ocr.Raw:
    """A Raw engine output of (text, x0, y0, x1, y1) words."""
    quads = [[[x0, y0], [x1, y0], [x1, y1], [x0, y1]] for _, x0, y0, x1, y1 in words]
    return ocr.Raw(640, 860, quads, [(w[0], 0.9, q) for w, q in zip(words, quads, strict=True)])


def test_two_printed_lines_tilted_into_one_are_told_apart():
    # a photo (WildReceipt): "SNAPPY MOBIL #4" rising to the right, "WESTERN AVE" under it,
    # set so close that OCR's line takes all five; the lines below lie level
    page = ocr.layout(raw(
        ("SNAPPY", 178, 59, 267, 100), ("WESTERN", 245, 69, 345, 113),
        ("MOBIL", 274, 50, 346, 88), ("#4", 358, 44, 390, 77), ("AVE", 359, 61, 402, 97),
        *[(t, x, y, x + 14 * len(t), y + 22) for n, (t, x) in enumerate(
            [("DATE", 151), ("06/07/15", 223), ("TRAN#", 151), ("9040255", 238),
             ("PUMP#", 150), ("04", 238)]) for y in [304 + 21 * (n // 2)]]))
    assert page.text.splitlines()[:2] == ["SNAPPY MOBIL #4", "WESTERN AVE"]
    assert status(page, {"company": "SNAPPY MOBIL #4"}, "company") == "verified"


def test_a_label_read_with_the_next_row_s_figure_on_a_skewed_photo():
    ocr_ = lines_at(("5.25", 900, 292), ("0.20", 900, 380), ("5.45", 900, 470))
    words = list(ocr_.words)
    words[1:2] = [Word("Subtotal", (40, 300, 136, 324), 0.9, 1), words[1]]  # one OCR line
    skewed = OcrResult(tuple(words), 1200, 800)
    assert status(skewed, {"subtotal": 5.25}, "subtotal") == "verified"
    assert status(skewed, {"subtotal": 5.35}, "subtotal") == "contradicted"


def test_a_heading_pairs_only_with_the_line_right_under_it():
    ocr_ = lines_at(("DESGLOSES DEL IVA", 300, 100), ("TIPO IVA", 200, 122), ("BASE", 480, 124),
                    ("CUOTA", 720, 124), ("4.00%", 220, 144), ("2.95", 490, 144),
                    ("0.12", 730, 144))  # close set: the figures within two lines of the heading
    ocr_ = OcrResult(tuple(replace(w, line={0: 0, 1: 1, 2: 1, 3: 1}.get(w.line, 2))
                           for w in ocr_.words), 1200, 800)
    assert status(ocr_, {"base": 2.95}, "base") == "verified"
    assert status(ocr_, {"cuota": 0.12}, "cuota") == "verified"
    assert status(ocr_, {"iva": 0.12}, "iva") != "contradicted"  # not "DESGLOSES DEL IVA"


def test_letter_spaced_figures_read_one_character_a_word():
    words = [Word("Date", (40, 10, 88, 34), 0.9, 0)] + [
        Word(c, (300 + 9 * n, 10, 307 + 9 * n, 34), 0.9, 0) for n, c in enumerate("21-09-15")]
    spaced = OcrResult(tuple(words), 1200, 80)  # each character a word, a letter's space apart
    assert status(spaced, {"date": "2015-09-21"}, "date") == "verified"
    assert status(spaced, {"date": "2015-09-22"}, "date") == "contradicted"


def test_net_sales_is_the_subtotal():
    ocr_ = page(["Net Sales", "$7.50"], ["Tax 1 ($7.50)", "$0.53"], ["TOTAL SALES", "$8.03"],
                ["SUB TOTAL", "$8.03"])
    assert status(ocr_, {"subtotal": 7.5}, "subtotal") == "verified"
    assert status(ocr_, {"subtotal": 7.25}, "subtotal") == "contradicted"
    assert fill(TOTAL, [ocr_]) == {"total": 8.03}


def test_labels_read_with_the_next_row_s_figures_on_a_curled_photo():
    # WildReceipt wr112: the figures sit half a line above their labels, and OCR put each
    # label on a line with the figure of the row below
    words = [Word("66.49", (839, 1145, 937, 1198), 0.9, 0),
             Word("Subtotal", (274, 1165, 400, 1216), 0.9, 1),
             Word("66.49", (842, 1187, 940, 1240), 0.9, 1),
             Word("Total", (274, 1206, 355, 1261), 0.9, 2),
             Word("-66.49", (837, 1232, 942, 1285), 0.9, 2),
             Word("Cash", (272, 1252, 340, 1300), 0.9, 3),
             Word("0.00", (875, 1276, 940, 1322), 0.9, 3)]
    curled = OcrResult(tuple(words), 1195, 1600)
    assert status(curled, {"total": 66.49}, "total") == "verified"
    assert status(curled, {"total": 66.94}, "total") == "contradicted"
    assert status(curled, {"cash": -66.49}, "cash") == "verified"


def test_only_the_total_field_gets_the_total():
    ocr_ = page(["Coffee", "3.00"], ["Muffin", "2.50"], ["TOTAL", "5.50"])
    fields = ("total", "tax_amount", "discount_amount", "tip_amount", "subtotal")
    schema = {"type": "object", "properties": {k: {"type": "number"} for k in fields}}
    assert fill(schema, [ocr_]) == {"total": 5.5, "tax_amount": None, "discount_amount": None,
                                    "tip_amount": None, "subtotal": None}
