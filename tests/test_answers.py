"""Answers the way real vision models write them, checked against receipts drawn as OCR words:
line items as {description, quantity, price}, prices that include the tax, rounding lines,
the amount payable among the other amounts a receipt prints, dates the country's way round."""

import pytest
from test_paper import page, status

from pixelproof import align
from pixelproof.verify import verify

# A Malaysian receipt: prices include GST, a rounding line, the currency in its own column.
MY = page("KEDAI RUNCIT MAJU SDN BHD", "(123456-X)", "NO 8, JALAN BUNGA RAYA,",
          "47500 SUBANG JAYA, SELANGOR", "GST ID: 001234567890", "DATE: 09/01/2019",
          ["2 x", "1.50", "3.00 SR"], "GREEN TEA", ["1 x", "5.99", "5.99 SR"], "KARAAGE",
          ["SUBTOTAL", "8.99"], ["TOTAL INCL GST", "8.99"], ["ROUNDING", "0.01"],
          ["TOTAL AFTER ADJ INCL GST", "9.00"], ["CASH", "10.00"], ["CHANGE", "1.00"],
          ["GST @6% INCLUDED IN TOTAL", "0.51"])


def answer(**extra):
    return {"company": "KEDAI RUNCIT MAJU SDN BHD", "date": "2019-01-09", "total": 9.0,
            "items": [{"description": "GREEN TEA", "quantity": 2, "price": 1.5},
                      {"description": "KARAAGE", "quantity": 1, "price": 5.99}], **extra}


def test_a_model_style_answer_is_verified_and_its_lines_add_up():
    report = verify(None, answer(), ocr=MY)
    assert report.flagged == [], report.flagged
    (lines,) = [a for a in report.arithmetic if "lines" in a.name]
    assert lines.ok and lines.name.startswith("quantity x price lines"), lines  # unit prices


def test_a_price_given_as_the_line_amount_adds_up_too():
    data = answer(items=[{"name": "GREEN TEA", "qty": 2, "amount": 3.0},
                         {"name": "KARAAGE", "qty": 1, "amount": 5.99}])
    report = verify(None, data, ocr=MY)
    assert report.flagged == [] and all(a.ok for a in report.arithmetic), report
    data["items"][0]["amount"] = 3.5
    (bad,) = [a for a in verify(None, data, ocr=MY).arithmetic if "lines" in a.name]
    assert not bad.ok


@pytest.mark.parametrize(("total", "expected", "said"), [
    (9.0, "verified", ""),
    (8.99, "contradicted", "TOTAL INCL GST"),  # before the rounding
    (10.0, "contradicted", "CASH"),
    (1.0, "contradicted", "CHANGE"),
    (9.5, "contradicted", "reads '9.00'"),
])
def test_the_total_is_the_amount_payable(total, expected, said):
    (check,) = [c for c in verify(None, {"total": total}, ocr=MY).checks]
    assert check.status == expected and said in check.note, check
    if expected == "contradicted":
        assert check.ocr_text == "9.00"  # the box shown is where the total is printed


def test_dates_read_the_countrys_way_round():
    assert status(MY, {"date": "2019-01-09"}, "date") == "verified"
    assert status(MY, {"date": "2019-09-01"}, "date") == "contradicted"  # month first: wrong
    us = page("CORNER MARKET", "12 MAIN ST", "DURHAM, NC 27704", "DATE: 09/01/2019",
              ["TOTAL", "$5.00"])
    assert status(us, {"date": "2019-09-01"}, "date") == "verified"
    assert status(us, {"date": "2019-01-09"}, "date") == "contradicted"


def test_a_currency_glued_and_a_tax_code_after_the_amount():
    scan = page("BAKERY", ["BACON", "RH4.90 s"], ["WALNUT RAISIN", "RM8.60 S"],
                ["SUBTOTAL", "RM13.50"], ["TOTAL", "RM13.50"])
    data = {"items": [{"item": "BACON", "price": 4.9}, {"item": "WALNUT RAISIN", "price": 8.6}],
            "total": 13.5}
    report = verify(None, data, ocr=scan)
    assert report.flagged == [] and all(a.ok for a in report.arithmetic), report


def test_a_description_under_its_figures_and_a_quantity_of_one_not_printed():
    store = page("DEPARTMENT STORE", ["FG-A00019", "3.00"], "GREEN TEA", ["FG-H00027", "3.80"],
                 "CHIKUWA TEMPURA", ["TOTAL", "6.80"])
    data = {"items": [{"description": "GREEN TEA", "quantity": 1, "price": 3.0},
                      {"description": "CHIKUWA TEMPURA", "quantity": 1, "price": 3.8}],
            "total": 6.8}
    report = verify(None, data, ocr=store)
    assert report.flagged == [], report.flagged
    data["items"][1]["quantity"] = 2
    assert status(store, data, "items[1].quantity") != "verified"


def test_sums_with_taxes_the_answer_leaves_out_and_a_sum_that_cannot_be_set_up():
    bill = page("CAFE", ["Soup", "4.00"], ["Bread", "2.00"], ["SUBTOTAL", "6.00"],
                ["SERVICE CHARGE 10%", "0.60"], ["TOTAL", "6.60"])
    data = {"items": [{"item": "Soup", "price": 4.0}, {"item": "Bread", "price": 2.0}],
            "total": 6.6}
    (lines,) = verify(None, data, ocr=bill).arithmetic
    assert lines.ok and "SERVICE CHARGE" in lines.name, lines  # printed, not in the answer
    data["total"] = 7.6
    (lines,) = verify(None, data, ocr=bill).arithmetic
    assert not lines.ok
    (lines,) = verify(None, {"items": data["items"]}, ocr=bill).arithmetic
    assert lines.ok and lines.name == "price lines = subtotal (printed)"  # the page's
    bare = page("CAFE", ["Soup", "4.00"], ["Bread", "2.00"])
    report = verify(None, {"items": data["items"]}, ocr=bare)
    assert report.arithmetic == () and "a subtotal or total" in report.notes[0]
    assert "nor the page gives a subtotal or total" in report.summary()


def test_a_net_total_before_tax_is_not_the_amount_payable():
    uk = page("CAFE", ["Cappuccino", "2.30"], ["Subtotal", "GBP 6.40"], ["VAT 20%", "1.07"],
              ["Net Total", "GBP 5.33"], ["Payment", "GBP 6.40"])
    assert status(uk, {"total": 6.4}, "total") == "verified"


def test_letters_are_forgiven_as_ocr_noise_only():
    words = ["JALAN", "PELABUR", "IPOH"]
    assert align.locate("JALAN PELABOR IPOH", words).ok  # one letter: OCR's noise
    assert not align.locate("JALAN PELAJAR IPOH", words).ok  # two: another word
    assert not align.locate("JALAN PELABUR 1POH", words).ok  # a digit for a printed letter
    assert align.locate("JALAN PELABUR IPOH", ["JALAN", "PELABUR", "1POH"]).ok  # OCR's
    clear, unsure = [True] * 3, [False] * 3
    long = ["KUALA", "LUMPURSELANGOR", "IPOH"]
    assert not align.locate("KUALA LUMPURSELENGAR IPOH", long, clear=clear).ok
    assert align.locate("KUALA LUMPURSELENGAR IPOH", long, clear=unsure).ok


def test_a_descriptions_claims_are_checked_against_the_page():
    from pixelproof.verify.claims import check_claims, claims

    text = ('A receipt from KEDAI RUNCIT MAJU dated 9 January 2019: two green teas at 1.50, '
            'a total of RM 9.00 and "THANK YOU COME AGAIN" at the foot; paid 12.00 in cash.')
    assert [k for k, _ in claims(text)] == ["date", "number", "number", "quote", "number"]
    report = check_claims(text, [(None, MY)])
    got = {c.value: c.status for c in report.checks}
    assert got["9 January 2019"] == "verified" and got["RM 9.00"] == "verified"
    assert got["1.50"] == "verified"
    assert got["12.00"] == "unverified"  # never printed
    assert got["THANK YOU COME AGAIN"] == "unverified"
    assert report.summary().startswith("5 values: 3 verified, 2 unverified")


def test_a_second_look_reads_a_misread_figure_again_closer():
    from PIL import Image, ImageDraw
    from render import font

    from pixelproof.types import OcrResult, Word
    from pixelproof.verify import check

    image = Image.new("RGB", (640, 200), "white")
    draw = ImageDraw.Draw(image)
    draw.text((40, 40), "SUBTOTAL", font=font(22), fill="black")
    draw.text((40, 100), "TOTAL", font=font(22), fill="black")
    draw.text((420, 100), "112.45", font=font(22), fill="black")
    box = draw.textbbox((420, 100), "112.45", font=font(22))
    misread = OcrResult((Word("SUBTOTAL", (40, 40, 160, 64), 0.99, 0),
                         Word("TOTAL", (40, 100, 120, 124), 0.99, 1),
                         Word("112.46", box, 0.97, 1)), 640, 200)  # one digit misread
    (first,) = check(None, {"total": 112.45}, ocr=misread).checks
    assert first.status == "contradicted"  # no image: no second look
    (again,) = check(image, {"total": 112.45}, ocr=misread).checks
    assert again.status == "verified" and "read again closer" in again.note, again
    (wrong,) = check(image, {"total": 112.47}, ocr=misread).checks
    assert wrong.status == "contradicted" and "read again closer: '112.45'" in wrong.note


def test_an_empty_cell_is_told_apart_from_one_the_engine_cannot_read():
    from PIL import Image, ImageDraw

    from pixelproof.types import OcrResult, Word
    from pixelproof.verify import check

    image = Image.new("RGB", (700, 200), "white")
    draw = ImageDraw.Draw(image)
    draw.line((520, 118, 600, 126), fill="black", width=5)  # a scribble where a figure was
    words = [Word("Item", (40, 20, 100, 44), 0.99, 0), Word("Qty", (300, 20, 340, 44), .99, 0),
             Word("Amount", (500, 20, 600, 44), .99, 0),
             Word("Tea", (40, 60, 90, 84), 0.99, 1), Word("2", (300, 60, 312, 84), .99, 1),
             Word("3.00", (520, 60, 580, 84), 0.99, 1),
             Word("Soap", (40, 110, 100, 134), 0.99, 2), Word("3", (300, 110, 312, 134), .99, 2),
             Word("Milk", (40, 160, 100, 184), 0.99, 3), Word("4", (300, 160, 312, 184), .99, 3)]
    rows = [{"item": "Tea", "qty": 2, "amount": 3.0}, {"item": "Soap", "qty": 3, "amount": 1.2},
            {"item": "Milk", "qty": 4, "amount": 2.0}]
    report = check(image, {"rows": rows}, ocr=OcrResult(tuple(words), 700, 200))
    notes = {c.path: c.note for c in report.checks if c.status != "verified"}
    assert notes["rows[1].amount"].startswith("not read on the page"), notes
    assert notes["rows[2].amount"].startswith("not printed"), notes


def test_a_row_whose_description_ocr_garbled_is_placed_by_its_amount():
    shop = page("SHOP", ["Tea", "3.00"], ["S@#q|", "4.50"], ["Milk", "2.25"], ["TOTAL", "9.75"])
    rows = [{"item": "Tea", "price": 3.0}, {"item": "Soap", "price": 4.5},
            {"item": "Milk", "price": 2.25}]
    report = verify(None, {"items": rows, "total": 9.75}, ocr=shop)
    flagged = {c.path: c for c in report.flagged}
    assert list(flagged) == ["items[1].item"], flagged
    assert "its text is not read there" in flagged["items[1].item"].note
    invented = [*rows, {"item": "Cheese", "price": 7.1}]
    assert status(shop, {"items": invented}, "items[3].price") == "unverified"


@pytest.mark.parametrize(("lines", "data", "expected"), [
    ([["TOTAL", "9.02"], ["ROUNDING", "0.02"], ["TOTAL", "9.00"]], {"total": 9.02},
     "contradicted"),  # a rounding down printed without its sign
    ([["TOTAL", "65.00"], ["DISCOUNT", "5.00"], ["NET TOTAL", "60.00"], ["CASH", "100.00"]],
     {"total": 65.0}, "contradicted"),  # a net total after a discount is the amount payable
    ([["SUBTOTAL", "8.99"], ["ROUNDING", "0.01"], ["TOTAL AFTER ADJ", "9.00"]],
     {"grandTotal": 8.99}, "contradicted"),  # camelCase names the total too
    ([["TOTAL", "8.98"], ["CASH", "9.00"]], {"total": 9.0}, "contradicted"),  # no rounding
])
def test_the_amount_payable_on_harder_pages(lines, data, expected):
    (check,) = verify(None, data, ocr=page("SHOP", *lines)).checks
    assert check.status == expected, check


def test_an_invented_row_is_not_placed_on_the_tax_line():
    shop = page("SHOP", ["Tea", "3.00"], ["Milk", "2.25"], ["TAX", "0.53"], ["TOTAL", "5.78"])
    rows = [{"item": "Tea", "price": 3.0}, {"item": "Milk", "price": 2.25},
            {"item": "Cheese", "price": 0.53}]
    assert status(shop, {"items": rows}, "items[2].price") == "unverified"


def test_claims_at_a_sentences_end_and_empty_quotes():
    from pixelproof.verify.claims import check_claims, claims

    assert claims('The total is 9.00. It reads "  " at the foot.') == [("number", "9.00")]
    assert check_claims("Nothing here to check", [(None, MY)]).checks == ()


def test_ocr_zeros_for_letters_in_a_product_code_description():
    costco = page("COSTCO", ["55317 CHEVR0N 5W30", "34.49 A"], ["427381 KS 0RG EGGS", "6.99"],
                  ["SUBTOTAL", "41.48"])
    rows = [{"description": "55317 CHEVRON 5W30", "price": 34.49},
            {"description": "427381 KS ORG EGGS", "price": 6.99}]
    assert verify(None, {"items": rows}, ocr=costco).flagged == []
    wrong = [{**rows[0], "description": "55817 CHEVRON 5W30"}, rows[1]]
    assert status(costco, {"items": wrong}, "items[0].description") != "verified"
    assert status(page("Jalan 1poh"), {"address": "Jalan Ipoh"}, "address") == "verified"
    assert status(page("Jalan Ipoh"), {"address": "Jalan 1poh"}, "address") != "verified"


def test_a_rand_price_glued_to_its_currency():
    rand = page("MIMMOS", ["1 KOLA + LEMONADE", "R26.90"], ["2 AL Forno", "@R19.90", "R39.80"],
                ["Total:", "R66.70"])
    rows = [{"description": "KOLA + LEMONADE", "quantity": 1, "price": 26.9},
            {"description": "AL Forno", "quantity": 2, "unit_price": 19.9, "amount": 39.8}]
    report = verify(None, {"items": rows, "total": 66.7}, ocr=rand)
    assert report.flagged == [] and all(a.ok for a in report.arithmetic), report


def test_equal_rows_are_told_apart_by_their_description():
    koho = page("KOHO", ["1 Deluxe Hamburger", "13.95"], ["1 $ Add Cheddar", "1.99"],
                ["1 $ Add Mushrooms", "1.99"], ["$ Add Bacon", "1.99"], ["Subtotal", "19.92"])
    rows = [{"description": d, "quantity": 1, "price": p} for d, p in (
        ("Deluxe Hamburger", 13.95), ("$ Add Cheddar", 1.99), ("$ Add Mushrooms", 1.99),
        ("$ Add Bacon", 1.99))]
    report = verify(None, {"items": rows, "subtotal": 19.92}, ocr=koho)
    assert report.flagged == [], report.flagged  # its quantity of one: the line prints none


def test_rows_are_placed_in_the_order_given_when_their_figures_are_alike():
    bowls = page("SUSHI BAR", ["FG-Y00133", "16.80", "16.80 SR"], "OTM SPICY YAKINIKU BOWL R",
                 ["FG-Y00226", "1", "16.80", "16.80 SR"], "OTM SPICY TERI CHICKEN BOWL R",
                 ["SUBTOTAL", "33.60"])
    rows = [{"description": d, "quantity": 1, "price": 16.8}
            for d in ("OTM SPICY YAKINIKU BOWL R", "OTM SPICY TERI CHICKEN BOWL R")]
    report = verify(None, {"items": rows, "subtotal": 33.6}, ocr=bowls)
    assert report.flagged == [], report.flagged  # not "a row given twice" for the second


def test_a_price_printed_as_both_unit_price_and_amount_is_in_the_amount_column():
    shop = page("KEDAI", ["FG-A00019", "2", "1.50", "3.00 SR"], "GREEN TEA",
                ["FG-H00027", "1", "3.80", "3.80 SR"], "CHIKUWA TEMPURA",
                ["FG-H00030", "1", "3.80", "3.80 SR"], "KARAAGE", ["SUBTOTAL", "10.60"])
    rows = [{"item": d, "count": n, "line_total": p} for d, n, p in (
        ("GREEN TEA", 2, 3.0), ("CHIKUWA TEMPURA", 1, 3.8), ("KARAAGE", 1, 3.8))]
    report = verify(None, {"items": rows, "subtotal": 10.6}, ocr=shop)
    assert report.flagged == [], report.flagged
    rows[0]["line_total"] = 1.5  # the unit price given as the line's amount: printed there,
    report = verify(None, {"items": rows, "subtotal": 10.6}, ocr=shop)  # but it adds up wrong
    assert [a.ok for a in report.arithmetic if "lines" in a.name] == [False]


def test_item_discounts_printed_among_the_lines_are_added_up_with_them():
    aeon = page("AEON CO. (M) BHD", ["1X 000008204363", "14.99SR"], "KIT KAT SHARE B",
                ["ITEM PROMO @9.99", "-5.00"], ["1X 000001057437", "18.29SR"], "VH BOX 180G SE",
                ["ITEM PROMO @12.89", "-5.40"], ["1X 000001057436", "18.29SR"],
                "VH BOX 180G RA", ["ITEM PROMO @12.89", "-5.40"], ["SUB-TOTAL", "35.77"])
    rows = [{"description": d, "price": p} for d, p in (
        ("KIT KAT SHARE B", 14.99), ("VH BOX 180G SE", 18.29), ("VH BOX 180G RA", 18.29))]
    report = verify(None, {"items": rows, "subtotal": 35.77}, ocr=aeon)
    lines = [a for a in report.arithmetic if "lines" in a.name]
    assert [a.ok for a in lines] == [True] and "discounts" in lines[0].name, lines
    rows[1]["price"] = 18.92
    assert not verify(None, {"items": rows, "subtotal": 35.77}, ocr=aeon).arithmetic[0].ok


def test_a_figure_inside_the_description_is_not_a_quantity():
    hermes = page("HERMES", ["BIRKIN 35 RASP CROC", "$28,250.00"], ["SUB TOTAL", "$28,250.00"])
    data = {"items": [{"description": "BIRKIN 35 RASP CROC", "quantity": 1, "price": 28250.0}]}
    assert status(hermes, data, "items[0].quantity") == "verified"


def test_a_net_total_under_a_vat_rate_line_is_before_tax():
    nero = page("CAFFE NERO", ["1 Cappuccino Small", "2.30"], ["1 Cappuccino Small", "2.30"],
                ["1 Pain Au Raisin", "1.80"], ["Cash GBP", "6.40"], ["1.07 VAT 20", "6.40"],
                ["Net Total: GBP", "5.33"], ["Change Due GBP", "0.00"])
    assert status(nero, {"total": 6.4}, "total") != "contradicted"
    assert status(nero, {"total": 5.33}, "total") != "verified"


def test_a_rate_after_the_subtotal_is_a_charge_on_it():
    bulk = page("GROCER", ["0.44 lb @ 14.96", "6.58"], ["Sub Total:", "6.58"],
                ["Food - Bulk 6.625%", "0.44"], ["Cash", "7.02"])
    assert status(bulk, {"total": 6.58}, "total") != "verified"


def test_a_registration_number_beside_the_name_is_not_left_out():
    bakery = page("THE ROTI MAN BAKERY 000965911.P", "99 SPEED MARTS/B(519537-X)")
    assert status(bakery, {"company": "THE ROTI MAN BAKERY"}, "company") == "verified"
    assert status(bakery, {"company": "99 SPEED MART S/B"}, "company") == "verified"
    assert status(bakery, {"company": "THE ROTI MAN"}, "company") != "verified"
