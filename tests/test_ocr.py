"""The local engine on rendered documents with known text, clean and degraded."""

from importlib import resources

import pytest
import render

from pixelproof import ocr, tables
from pixelproof.types import OcrResult, Word


def test_bundled_models_ship_in_the_installed_package():
    """An upgrade that stops bundling the models (and would download them) must fail here."""
    models = resources.files("rapidocr") / "models"
    for name in ("PP-OCRv6_det_small.onnx", "PP-OCRv6_rec_small.onnx"):
        assert (models / name).is_file(), f"rapidocr no longer ships {name}"
        assert (models / name).stat().st_size > 1_000_000


def test_engine_is_created_once():
    assert ocr.engine() is ocr.engine()


@pytest.mark.parametrize("degrade", list(render.DEGRADATIONS))
@pytest.mark.parametrize("make", [render.statement, render.receipt], ids=["statement", "receipt"])
def test_text_and_table_survive_degradation(make, degrade):
    doc = make(seed=7)
    read = ocr.read(render.DEGRADATIONS[degrade](doc.image))
    assert render.cer(doc.text, read.text) < 0.02
    (table,) = tables.find_tables(read)
    assert list(table.header) == doc.header
    cells = [(a, b) for want, got in zip(doc.rows, table.rows, strict=True)
             for a, b in zip(want, got, strict=True)]
    assert sum(a == b for a, b in cells) / len(cells) >= 0.95


def test_boxes_are_in_original_pixels():
    doc = render.receipt(seed=3)
    small = render.scale(doc.image, 0.5)
    total = doc.values["Total"]
    big_box = next(w.box for w in ocr.read(doc.image).words if w.text == total)
    small_box = next(w.box for w in ocr.read(small).words if w.text == total)
    assert all(abs(a / 2 - b) < 6 for a, b in zip(big_box, small_box, strict=True))


def test_key_values_and_no_table_rows_among_them():
    doc = render.invoice(seed=2)
    pairs = {k: v for k, v, _ in tables.key_values(ocr.read(doc.image))}
    for label in ("Invoice No", "Customer", "Due date", "Subtotal", "VAT", "Total"):
        assert pairs[label] == doc.values[label]
    assert not any(k in {row[0] for row in doc.rows} for k in pairs)


def _line(n: int, *cells: tuple[float, str]) -> list[Word]:
    """Words at x positions on line n (20 px tall, 12 px per character)."""
    y = 40.0 * n
    words = []
    for x, text in cells:
        for part in text.split():
            words.append(Word(part, (x, y, x + 12 * len(part), y + 20), 0.99, n))
            x += 12 * len(part) + 6
    return words


def test_wrapped_cell_joins_the_row_above():
    page = OcrResult(tuple(
        _line(0, (0, "Date"), (200, "Description"), (600, "Amount"))
        + _line(1, (0, "01/02/2024"), (200, "Monthly fee for"), (600, "12.00"))
        + _line(2, (200, "premium account"))
        + _line(3, (0, "03/02/2024"), (200, "Coffee"), (600, "3.20"))), 800, 200)
    (table,) = tables.find_tables(page)
    assert table.rows == (("01/02/2024", "Monthly fee for premium account", "12.00"),
                          ("03/02/2024", "Coffee", "3.20"))


def test_glued_label_and_value_split():
    page = OcrResult(tuple(_line(0, (0, "Total: 42.10"), (400, "Date 12/03/2024"))), 800, 40)
    assert [(k, v) for k, v, _ in tables.key_values(page)] == [("Total", "42.10"),
                                                               ("Date", "12/03/2024")]
