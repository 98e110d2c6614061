"""Receipts from several countries read offline: the order of numeric dates from the page's
own evidence, totals where the currency is a column or the last line a rounding, the issuer
among the head's lines, item tables without a header. Pages are hand-made OCR words."""

import pytest
from test_paper import page

from pixelproof.errors import ConfigError
from pixelproof.providers.local import fill

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
