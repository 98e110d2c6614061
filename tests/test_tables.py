"""Tables and key-values from word boxes (pure: no OCR runs here)."""

from pixelproof import tables
from pixelproof.types import OcrResult, Word


def _line(n: int, *cells: tuple[float, str]) -> list[Word]:
    """Words at x positions on line n (20 px tall, 12 px per character, 40 px per line)."""
    y = 40.0 * n
    words = []
    for x, text in cells:
        for part in text.split():
            words.append(Word(part, (x, y, x + 12 * len(part), y + 20), 0.99, n))
            x += 12 * len(part) + 6
    return words


def _page(*lines: list[Word]) -> OcrResult:
    return OcrResult(tuple(w for line in lines for w in line), 1000, 40 * len(lines))


def test_unruled_table_with_header_and_right_aligned_amounts():
    page = _page(
        _line(0, (0, "Account: 12-34-56")),
        _line(2, (0, "Date"), (200, "Description"), (560, "Debit"), (700, "Balance")),
        _line(3, (0, "01/02/2024"), (200, "Rent"), (548, "800.00"), (712, "1,200.00")),
        _line(4, (0, "02/02/2024"), (200, "Coffee shop"), (584, "3.20"), (712, "1,196.80")),
        _line(5, (0, "05/02/2024"), (200, "Salary"), (712, "3,196.80")))
    (table,) = tables.find_tables(page)
    assert table.header == ("Date", "Description", "Debit", "Balance")
    assert table.rows == (("01/02/2024", "Rent", "800.00", "1,200.00"),
                          ("02/02/2024", "Coffee shop", "3.20", "1,196.80"),
                          ("05/02/2024", "Salary", "", "3,196.80"))
    assert table.box == (0, 80, 808, 220)
    assert table.cells[2][2] is None and table.cells[0][3].text == "1,200.00"


def test_wrapped_cell_joins_the_row_above():
    page = _page(
        _line(0, (0, "Date"), (200, "Description"), (600, "Amount")),
        _line(1, (0, "01/02/2024"), (200, "Monthly fee for"), (600, "12.00")),
        _line(2, (200, "premium account")),
        _line(3, (0, "03/02/2024"), (200, "Coffee"), (600, "3.20")))
    (table,) = tables.find_tables(page)
    assert table.rows == (("01/02/2024", "Monthly fee for premium account", "12.00"),
                          ("03/02/2024", "Coffee", "3.20"))


def test_rows_without_a_header_get_numbered_columns():
    page = _page(_line(0, (0, "2023"), (300, "41.50")), _line(1, (0, "2024"), (300, "44.10")))
    (table,) = tables.find_tables(page)
    assert table.header == ("column_1", "column_2")
    assert table.rows == (("2023", "41.50"), ("2024", "44.10"))


def test_two_tables_apart_and_prose_is_no_table():
    page = _page(
        _line(0, (0, "Item"), (300, "Price")), _line(1, (0, "Tea"), (300, "2.00")),
        _line(2, (0, "Cake"), (300, "3.50")),
        _line(5, (0, "Thank you for shopping with us today")),
        _line(8, (0, "Name"), (300, "Role")), _line(9, (0, "Ada"), (300, "Owner")))
    found = tables.find_tables(page)
    assert [t.header for t in found] == [("Item", "Price"), ("Name", "Role")]
    assert found[1].rows == (("Ada", "Owner"),)
    assert tables.find_tables(_page(_line(0, (0, "just one line of text")))) == []
    assert tables.find_tables(OcrResult((), 10, 10)) == []


def test_glued_label_and_value_split():
    page = _page(_line(0, (0, "Total: 42.10"), (400, "Date 12/03/2024")))
    assert [(k, v) for k, v, _ in tables.key_values(page)] == [("Total", "42.10"),
                                                               ("Date", "12/03/2024")]


def test_key_values_with_boxes_and_not_from_table_rows():
    page = _page(
        _line(0, (0, "Invoice No. 1234")),
        _line(1, (0, "Customer:"), (300, "ACME Ltd")),
        _line(3, (0, "Item"), (300, "Amount")), _line(4, (0, "Tea 2"), (300, "4.00")),
        _line(5, (0, "Cake 1"), (300, "3.50")),
        _line(7, (0, "Total: 7.50")))
    pairs = tables.key_values(page)
    assert [(k, v) for k, v, _ in pairs] == [("Invoice No.", "1234"), ("Customer", "ACME Ltd"),
                                             ("Total", "7.50")]
    assert pairs[1][2] == (300, 40, 390, 60)  # "ACME Ltd"
    assert pairs[2][2] == (78, 280, 126, 300)  # "7.50", not the label


def test_label_and_amount_lines_are_key_values_not_a_table_row_each():
    page = _page(
        _line(0, (0, "Item"), (300, "Amount")), _line(1, (0, "Tea"), (300, "4.00")),
        _line(2, (0, "Cake"), (300, "3.50")),
        _line(4, (0, "Subtotal"), (300, "7.50")), _line(5, (0, "Tax"), (300, "0.75")),
        _line(6, (0, "Total"), (300, "8.25")))
    found = tables.find_tables(page)
    assert [t.header for t in found] == [("Item", "Amount"), ("column_1", "column_2")]
    assert [(k, v) for k, v, _ in tables.key_values(page)] == [
        ("Subtotal", "7.50"), ("Tax", "0.75"), ("Total", "8.25")]


def test_years_can_head_columns_of_figures():
    page = _page(_line(0, (0, "Region"), (300, "2023"), (500, "2024")),
                 _line(1, (0, "North"), (300, "1,200"), (500, "1,350")),
                 _line(2, (0, "South"), (300, "900"), (500, "1,010")))
    (table,) = tables.find_tables(page)
    assert table.header == ("Region", "2023", "2024")
    assert table.rows[1] == ("South", "900", "1,010")
    years_only = _page(_line(0, (0, "2023"), (300, "41.50")), _line(1, (0, "2024"), (300, "44")))
    assert tables.find_tables(years_only)[0].header == ("column_1", "column_2")


def test_a_currency_printed_as_a_column_of_its_own_is_not_the_label():
    from test_paper import page
    found = tables.labels(page(["TOTAL", "RM", "60.30"], ["CASH", "MYR", "100.00"]))
    assert ("TOTAL", "60.30") in [(k, v) for k, v, _ in found]
    assert ("CASH", "100.00") in [(k, v) for k, v, _ in found]
    assert not [k for k, _, _ in found if k in ("RM", "MYR")]


def test_labels_printed_one_after_another_in_a_cell_each_keep_their_own_value():
    from test_paper import page
    pairs = [(k, v) for k, v, _ in tables.key_values(page("Receipt No: 1234 Date: 12/03/2024"))]
    assert pairs == [("Receipt No", "1234"), ("Date", "12/03/2024")]


def test_a_name_and_a_house_number_are_no_key_value_a_label_and_its_count_are():
    from test_paper import page
    ocr = page("CORNER STORE 24", "Table 12", "Total Qty 3", "Receipt No 20931")
    assert [(k, v) for k, v, _ in tables.key_values(ocr)] == [
        ("Table", "12"), ("Total Qty", "3"), ("Receipt No", "20931")]
