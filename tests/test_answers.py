"""Answers the way real vision models write them, checked against receipts drawn as OCR words:
line items as {description, quantity, price}, prices that include the tax, rounding lines,
the amount payable among the other amounts a receipt prints, dates the country's way round."""

import pytest
from test_paper import page, status

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
    report = verify(None, {"items": data["items"]}, ocr=bill)
    assert report.arithmetic == () and "no subtotal or total" in report.notes[0]
    assert "no subtotal or total" in report.summary()


def test_a_net_total_before_tax_is_not_the_amount_payable():
    uk = page("CAFE", ["Cappuccino", "2.30"], ["Subtotal", "GBP 6.40"], ["VAT 20%", "1.07"],
              ["Net Total", "GBP 5.33"], ["Payment", "GBP 6.40"])
    assert status(uk, {"total": 6.4}, "total") == "verified"
