"""Parsers over a corpus of real-looking model answers, each with the exact expected data."""

from datetime import date
from decimal import Decimal

import pytest

from pixelproof import formats
from pixelproof.errors import ExtractionError

JSON_ANSWERS = [
    ('[{"a": 1}]', [{"a": 1}]),
    ('{"total": 42.1, "currency": "EUR"}', {"total": 42.1, "currency": "EUR"}),
    ('```json\n[{"date": "2024-03-01", "amount": -12.5}]\n```',
     [{"date": "2024-03-01", "amount": -12.5}]),
    ('Here is the data you asked for:\n\n```json\n{"name": "ACME Corp."}\n```\n\nLet me know!',
     {"name": "ACME Corp."}),
    ('```\n{"x": [1, 2, 3]}\n```', {"x": [1, 2, 3]}),
    ('Sure! The receipt contains {"merchant": "Blue Cafe", "total": 9.8} as requested.',
     {"merchant": "Blue Cafe", "total": 9.8}),
    ('The rows [see below] are:\n[{"id": 1}, {"id": 2}]', [{"id": 1}, {"id": 2}]),
    ('```json\n[{"row": 1},\n {"row": 2}]\n```\nand the rest:\n```json\n[{"row": 3}]\n```',
     [{"row": 1}, {"row": 2}, {"row": 3}]),
    ('```json\n[{"a": 1}]\n```\n```json\n[{"a": 2}]\n```\n```json\n[{"a": 3}]\n```',
     [{"a": 1}, {"a": 2}, {"a": 3}]),
    ('[{"a": 1,}, {"a": 2,},]', [{"a": 1}, {"a": 2}]),
    ("{'merchant': 'Corner Shop', 'total': 3.2}", {"merchant": "Corner Shop", "total": 3.2}),
    ('{"a": 1, // the first\n "b": 2}', {"a": 1, "b": 2}),
    ('```json\n{"items": [{"name": "Tea", "price": 2.5}, {"name": "Cake", "price": 3.0},]}\n```',
     {"items": [{"name": "Tea", "price": 2.5}, {"name": "Cake", "price": 3.0}]}),
    ('{"note": "he said \\"hi\\"", "n": 1}', {"note": 'he said "hi"', "n": 1}),
    ('{"description": "Joe\'s Diner", "amount": "1,234.50"}',
     {"description": "Joe's Diner", "amount": "1,234.50"}),
    ('```JSON\n[]\n```', []),
    ('  \n\n{"empty": null}\n', {"empty": None}),
    ('{"a": True, "b": None}', {"a": True, "b": None}),
    ('```json\n{"pipe": "a | b", "brace": "}"}\n```', {"pipe": "a | b", "brace": "}"}),
    ('<think>the table has 2 rows</think>\n[{"n": 1}, {"n": 2}]', [{"n": 1}, {"n": 2}]),
]


@pytest.mark.parametrize(("answer", "expected"), JSON_ANSWERS)
def test_find_json(answer, expected):
    assert formats.find_json(answer) == expected


@pytest.mark.parametrize("answer", [
    '[{"date": "2024-03-01", "amount": 12.5}, {"date": "2024-03-02", "amo',
    '```json\n{"items": [{"name": "Tea"}, {"name": "Ca\n```',
    'I cannot read this image clearly, sorry.',
    '',
])
def test_find_json_refuses_cut_off_or_missing(answer):
    with pytest.raises(ExtractionError):
        formats.find_json(answer)


STATEMENT = """Here are the transactions:

| Date | Description | Debit | Credit | Balance |
|------|-------------|------:|-------:|--------:|
| 01/03/2024 | Opening balance | | | 1,000.00 |
| 02/03/2024 | **Coffee \\| Bakery** | 3.20 | | 996.80 |
| 05/03/2024 | Salary | | 2,500.00 | 3,496.80 |

Key values:

| key | value |
|:---|:---|
| Account | 12-34-56 |
| Total: | $ 3,496.80 |
"""


def test_markdown_tables_several_with_escaped_pipes_and_alignment():
    tables = formats.markdown_tables(STATEMENT)
    assert len(tables) == 2
    first, second = tables
    assert first.header == ("Date", "Description", "Debit", "Credit", "Balance")
    assert first.rows[1] == ("02/03/2024", "Coffee | Bakery", "3.20", "", "996.80")
    assert len(first.rows) == 3
    assert formats.table_to_rows(second) == [
        {"key": "Account", "value": "12-34-56"}, {"key": "Total:", "value": "$ 3,496.80"}]


def test_markdown_ragged_rows_are_padded_and_extra_cells_kept():
    text = "| a | b | c |\n|---|---|---|\n| 1 | 2 |\n| 3 | 4 | 5 | 6 |\n| 7 | 8 | 9 | |"
    (table,) = formats.markdown_tables(text)
    assert table.header == ("a", "b", "c", "")
    assert table.rows == (("1", "2", "", ""), ("3", "4", "5", "6"), ("7", "8", "9", ""))
    assert formats.table_to_rows(table)[1] == {"a": "3", "b": "4", "c": "5", "column_4": "6"}


def test_markdown_table_without_outer_pipes_and_duplicate_headers():
    text = "Name | Amount | Amount\n--- | --- | ---\nTea | 2.50 | 2.60\n\nafter the table"
    (table,) = formats.markdown_tables(text)
    rows = formats.table_to_rows(table)
    assert rows == [{"Name": "Tea", "Amount": "2.50", "Amount_2": "2.60"}]


def test_no_table_in_prose():
    assert formats.markdown_tables("The image shows a cat | sitting on a mat.") == []


def test_csv_rows_in_fence():
    text = '```csv\ndate,amount,note\n2024-03-01,"1,234.50","a, b"\n2024-03-02,-3.20,\n```'
    assert formats.csv_rows(text) == [
        {"date": "2024-03-01", "amount": "1,234.50", "note": "a, b"},
        {"date": "2024-03-02", "amount": "-3.20", "note": None}]


NUMBERS = [
    ("1,234.50", "1234.50"), ("1.234,50 €", "1234.50"), ("$ 3.20", "3.20"), ("(12.00)", "-12.00"),
    ("-7", "-7"), ("12.00-", "-12.00"), ("\u22125.5", "-5.5"), ("EUR 1 234,56", "1234.56"),
    ("1'234.50", "1234.50"), ("0.5", "0.5"), ("12%", "12"), ("1,000,000", "1000000"),
    ("3,5", "3.5"), ("1,23,456.00", "123456.00"), ("£0.99", "0.99"), ("-$45.00", "-45.00"),
    ("$-45.00", "-45.00"), ("USD 12", "12"), (" 42 ", "42"), ("1.234.567", "1234567"),
    (12.5, "12.5"), (3, "3"),
]


@pytest.mark.parametrize(("text", "expected"), NUMBERS)
def test_parse_number(text, expected):
    assert formats.parse_number(text) == Decimal(expected)
    assert str(formats.parse_number(text)).lstrip("-") == expected.lstrip("-")  # same digits


@pytest.mark.parametrize("text", ["", "abc", "12/03/2024", "1,2,3", "12,34,5", "1.2.3,4,5",
                                  "4 items", "--", "12a", None, True, "1,234.50.1"])
def test_parse_number_rejects(text):
    assert formats.parse_number(text) is None


DATES = [
    ("2024-03-12", None, date(2024, 3, 12)), ("12/03/2024", True, date(2024, 3, 12)),
    ("12/03/2024", False, date(2024, 12, 3)), ("25/03/2024", None, date(2024, 3, 25)),
    ("03/25/2024", None, date(2024, 3, 25)), ("12.03.2024", None, date(2024, 3, 12)),
    ("12 Mar 2024", None, date(2024, 3, 12)), ("Mar 12, 2024", None, date(2024, 3, 12)),
    ("March 12 2024", None, date(2024, 3, 12)), ("12-Mar-24", None, date(2024, 3, 12)),
    ("1st September 2023", None, date(2023, 9, 1)), ("2024/03/12", None, date(2024, 3, 12)),
    ("05/06/99", True, date(1999, 6, 5)), ("05/06/99", "mdy", date(1999, 5, 6)),
    ("18/04/28", "ymd", date(2018, 4, 28)), ("05 MAR 2018", None, date(2018, 3, 5)),
    ("05MAR18", None, date(2018, 3, 5)), ("12-Mar-2018", "mdy", date(2018, 3, 12)),
    ("Mar 5, 18", None, date(2018, 3, 5)), ("Sept 5, 2018", None, date(2018, 9, 5)),
    ("03/03/2024", None, date(2024, 3, 3)), ("20180428", None, date(2018, 4, 28)),
    ("0ct 3, 2016", None, date(2016, 10, 3)),
]


@pytest.mark.parametrize(("text", "dayfirst", "expected"), DATES)
def test_parse_date(text, dayfirst, expected):
    assert formats.parse_date(text, dayfirst) == expected


@pytest.mark.parametrize("text", ["31/02/2024", "13/13/2024", "yesterday", "", "12 Foo 2024",
                                  "12/03/2024", "12-01-19"])  # ambiguous: never a guess
def test_parse_date_rejects(text):
    assert formats.parse_date(text) is None


@pytest.mark.parametrize(("value", "kind", "fmt", "expected"), [
    ("1,234.50", "number", None, 1234.5), ("(12.00)", "number", None, -12.0),
    ("7", "integer", None, 7), ("7.5", "integer", None, "7.5"), ("12", "number", None, 12),
    ("n/a", "number", None, "n/a"), ("12 Mar 2024", "string", "date", "2024-03-12"),
    ("soon", "string", "date", "soon"), ("yes", "boolean", None, True),
    (42, "string", None, "42"), (None, "number", None, None),
])
def test_coerce(value, kind, fmt, expected):
    result = formats.coerce(value, kind, fmt)
    assert result == expected and type(result) is type(expected)


def test_render_round_trip():
    rows = [{"a": "x|y", "b": Decimal("1.50")}, {"a": None, "c": {"k": 1}}]
    md = formats.to_markdown(rows)
    (table,) = formats.markdown_tables(md)
    assert formats.table_to_rows(table) == [{"a": "x|y", "b": "1.50", "c": None},
                                            {"a": None, "b": None, "c": '{"k": 1}'}]
    assert formats.csv_rows(formats.to_csv(rows))[0] == {"a": "x|y", "b": "1.50", "c": None}
    assert formats.find_json(formats.to_json(rows)) == [{"a": "x|y", "b": 1.5},
                                                        {"a": None, "c": {"k": 1}}]
    assert formats.to_jsonl(rows).count("\n") == 2


def test_day_first_from_the_other_dates():
    assert formats.day_first([{"d": "04/03/2024"}, {"d": "19/03/2024"}]) is True
    assert formats.day_first(["04/03/2024", "03/19/2024"]) is False
    assert formats.day_first(["04/03/2024", "2024-03-19", 12]) is None
    assert formats.day_first(["13/03/2024", "03/19/2024"]) is None  # contradictory


@pytest.mark.parametrize(("lines", "order"), [
    (["TOTAL RM 6.40", "12-01-19"], "dmy"), (["ABC SDN BHD (12345-X)", "09/01/2019"], "dmy"),
    (["GST ID : 000123", "06/03/2018"], "dmy"), (["Summe EUR 4,50", "06.03.2018"], "dmy"),
    (["2000 AVONDALE DR", "DURHAM, NC 27704", "$ 12.00", "06/03/2018"], "mdy"),
    (["Printed 05 MAR 2018", "06/03/2018"], "dmy"), (["Mar 5, 2018", "06/03/2018"], "mdy"),
    (["TOTAL RM 6.40", "03/25/2018"], "mdy"),  # the dates themselves tell first
    (["1,00 COPA RIOJA 3,10", "1,00 CATA 1,60", "11/02/17"], "dmy"),  # decimal commas
    (["ROSS", "SANTA CLARA, CA", "09/01/14"], "mdy"), (["New Jersey 08401", "9/2/18"], "mdy"),
    (["Golden Arches Restaurants Sdn Bhd", "10/03/2013"], "dmy"),
    (["$ 12.00", "06/03/2018"], None), (["TOTAL 6.40", "06/03/2018"], None),
    (["GST 1.00", "DURHAM, NC 27704"], None),  # conventions that disagree
    (["LOT P.T. 33198, BATU 4", "RM2.10", "04-06-16"], "dmy"),  # "P.T." is no US state
])
def test_date_order_from_the_page(lines, order):
    assert formats.date_order(lines) == order
