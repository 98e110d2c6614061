"""Hostile inputs and options (issue 13): each a clear error or a result, never a traceback."""

import logging

import pytest
import render
from PIL import Image, ImageDraw
from test_cli_describe import cli

from pixelproof import ocr
from pixelproof.errors import InputError

LINE = "Total due 1,234.56 on 01/03/2024"


def text_strip(width, height, text, *, tall=False):
    """One line of text on a strip ``width`` x ``height`` (turned into a column when tall)."""
    im = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(im)
    x = 5
    while x < width - 300:
        draw.text((x, (height - 20) // 2), text, font=render.font(17), fill="black")
        x += int(draw.textlength(text + "  ", font=render.font(17)))
    return im


def test_a_text_line_strip_is_read_whole():
    """A 3000x24 line (aspect 125:1, which RapidOCR cannot resize) reads every word once."""
    page = ocr.read(text_strip(3000, 24, LINE))
    assert page.width == 3000 and page.height == 24
    assert page.text.count("1,234.56") == page.text.count("Total") >= 8
    assert page.text.split()[:5] == LINE.split()
    xs = [w.box[0] for w in page.words]
    assert xs == sorted(xs) and max(w.box[2] for w in page.words) <= 3000
    assert all(0 <= w.box[1] < w.box[3] <= 24 for w in page.words)


@pytest.mark.parametrize("size", [(20000, 20), (20, 20000), (24, 3000), (9000, 1)])
def test_blank_strips_read_as_empty(size):
    assert ocr.read(Image.new("RGB", size, "white")).words == ()


def test_an_engine_failure_is_an_input_error_naming_the_image(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("onnx exploded")

    engine = ocr.RapidEngine()
    monkeypatch.setattr(engine, "_ocr", broken)
    with pytest.raises(InputError, match="offline OCR engine could not read this 50x40"):
        engine.read(Image.new("RGB", (50, 40), "white"))


def test_a_thin_image_in_a_folder_does_not_stop_the_batch(tmp_path):
    text_strip(3000, 24, LINE).save(tmp_path / "line.png")
    Image.new("RGB", (20000, 20), "white").save(tmp_path / "strip.png")
    render.receipt(seed=1).image.save(tmp_path / "receipt.png")
    run = cli("extract", str(tmp_path), "-m", "local", "-f", "json")
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert "3 of 3 images done" in run.stderr


def test_rapidocr_logging_goes_through_ours_and_is_quiet(capfd, caplog):
    ocr.read(Image.new("RGB", (300, 200), "white"))  # "the text detection result is empty"
    assert capfd.readouterr().err == ""
    rapid = logging.getLogger("RapidOCR")
    assert rapid.propagate is False
    assert not [h for h in rapid.handlers if type(h) is logging.StreamHandler]
    with caplog.at_level(logging.DEBUG, logger="pixelproof.ocr"):
        ocr.engine().read(Image.new("RGB", (310, 200), "white"))
    assert any("RapidOCR" in r.getMessage() for r in caplog.records)


def test_a_blank_page_prints_no_engine_warnings(tmp_path):
    Image.new("RGB", (400, 300), "white").save(tmp_path / "blank.png")
    run = cli("ocr", str(tmp_path / "blank.png"))
    assert run.returncode == 0
    assert run.stderr == "", run.stderr


