"""Hostile inputs and options (issue 13): each a clear error or a result, never a traceback."""

import io
import logging
import os
import time
from pathlib import Path

import httpx
import pytest
import render
from PIL import Image, ImageDraw
from test_cli_describe import cli

from pixelproof import images, ocr
from pixelproof.batch import plan
from pixelproof.errors import ImageTooLarge, InputError

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




# --- inputs -------------------------------------------------------------------------------

def png_file(path, size=(64, 48), color="red"):
    Image.new("RGB", size, color).save(path)
    return str(path)


def test_a_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    start = time.monotonic()
    with pytest.raises(InputError, match=r"pipe\.png: not a regular file \(it is a FIFO"):
        images.load(str(fifo))
    [item] = plan([str(fifo)])  # planning reads files first: it must not block either
    assert "not a regular file" in item.error
    assert time.monotonic() - start < 5


def test_a_link_to_an_endless_file_is_refused_without_reading_it(tmp_path):
    link = tmp_path / "zero.png"
    link.symlink_to("/dev/zero")
    with pytest.raises(InputError, match=r"zero\.png: not a regular file \(it is a device"):
        images.load(str(link))
    [item] = plan([str(link)])
    assert "not a regular file" in item.error


def test_the_byte_limit_holds_while_reading(tmp_path, monkeypatch):
    """A file that says it is small but is not (it grew, or a filesystem lies) is read only up
    to the limit."""
    path = tmp_path / "grows.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 5000)
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: os.stat_result(
        (*real_stat(p)[:6], 10, *real_stat(p)[7:])))  # st_size 10
    with pytest.raises(ImageTooLarge, match="over the 100 byte limit .it grew while being read"):
        images.load(str(path), max_bytes=100)


def test_a_symlink_loop_and_a_broken_link_say_so(tmp_path):
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    with pytest.raises(InputError, match=r"loop\.png: a symbolic link loop"):
        images.load(str(loop))
    broken = tmp_path / "gone.png"
    broken.symlink_to(tmp_path / "missing.png")
    with pytest.raises(InputError, match=r"gone\.png: a broken symbolic link"):
        images.load(str(broken))


def dripping(byte_every: float):
    """A server that sends an image's bytes one at a time, ``byte_every`` seconds apart."""
    class Drip(httpx.SyncByteStream):
        def __iter__(self):
            for b in b"\x89PNG\r\n\x1a\n" + b"\0" * 100:
                time.sleep(byte_every)
                yield bytes([b])

    return httpx.MockTransport(lambda request: httpx.Response(200, stream=Drip()))


def test_an_image_url_has_a_total_download_deadline():
    start = time.monotonic()
    with pytest.raises(InputError, match=r"download took over 1 s in all"):
        images.load("https://example.test/slow.png", timeout=1.0, transport=dripping(0.1))
    assert time.monotonic() - start < 3


def test_an_image_url_redirected_to_plain_http_is_refused():
    def handler(request):
        if request.url.scheme == "https":
            return httpx.Response(302, headers={"location": "http://example.test/a.png"})
        return httpx.Response(200, content=b"")
    with pytest.raises(InputError, match=r"redirected to plain http \(http://example.test/a"
                                         r"\.png\); refused"):
        images.load("https://example.test/a.png", transport=httpx.MockTransport(handler))


def test_an_image_url_redirect_within_https_is_followed():
    data = (Path(__file__).parent.parent / "samples" / "receipt.png").read_bytes()

    def handler(request):
        if request.url.path == "/old.png":
            return httpx.Response(301, headers={"location": "/new.png"})
        return httpx.Response(200, content=data)
    [im] = images.load("https://example.test/old.png", transport=httpx.MockTransport(handler))
    assert im.data == data


def tiff_of(path, pages):
    frames = [Image.new("RGB", (80, 60), c) for c in ("red", "green", "blue")[:pages]]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    return str(path)


def test_a_multi_page_tiff_is_an_item_per_page(tmp_path):
    path = tiff_of(tmp_path / "scan.tif", 3)
    loaded = images.load(path)
    assert [(im.page, im.label) for im in loaded] == [
        (1, f"{path}#page=1"), (2, f"{path}#page=2"), (3, f"{path}#page=3")]
    colours = [Image.open(io.BytesIO(im.data)).convert("RGB").getpixel((5, 5)) for im in loaded]
    assert colours == [(255, 0, 0), (0, 128, 0), (0, 0, 255)]
    [second] = images.load(f"{path}#page=2")
    assert second.page == 2 and second.data == loaded[1].data
    items = plan([path])
    assert [i.label for i in items] == [f"{path}#page={n}" for n in (1, 2, 3)]
    assert items[2].load().data == loaded[2].data
    with pytest.raises(InputError, match=r"page 4 does not exist \(the TIFF has 3 pages\)"):
        images.load(f"{path}#page=4")
    [one] = images.load(tiff_of(tmp_path / "one.tif", 1))
    assert one.page is None and len(plan([str(tmp_path / "one.tif")])) == 1


def one_page_pdf(path):
    Image.new("RGB", (100, 80), "white").save(path, "PDF")
    return str(path)


def test_page_zero_is_refused_by_extract_as_by_describe(tmp_path):
    pdf = one_page_pdf(tmp_path / "scan.pdf")
    with pytest.raises(InputError, match="page 0 does not exist"):
        images.load(f"{pdf}#page=0")
    [item] = plan([f"{pdf}#page=0"])
    assert "no page 0" in item.error
    run = cli("extract", f"{pdf}#page=0", "-m", "local")
    assert run.returncode == 1
    assert "no page 0" in run.stderr and "Traceback" not in run.stderr
    assert "0 of 1 images done" in run.stderr


def test_a_folder_lists_what_it_cannot_read_and_reads_avif(tmp_path):
    png_file(tmp_path / "a.png")
    Image.new("RGB", (64, 48), "blue").save(tmp_path / "b.avif")
    (tmp_path / "c.heic").write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64)
    (tmp_path / "d.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"></svg>')
    (tmp_path / "e.png").symlink_to(tmp_path / "nowhere.png")
    (tmp_path / "notes.txt").write_text("not an image, not listed")
    assert [Path(p).name for p in images.expand([str(tmp_path)])] == [
        "a.png", "b.avif", "c.heic", "d.svg", "e.png"]
    [avif] = images.load(str(tmp_path / "b.avif"))
    assert avif.mime in ("image/png", "image/jpeg") and (avif.width, avif.height) == (64, 48)
    run = cli("extract", str(tmp_path), "-m", "local", "--no-verify")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "c.heic: HEIC/HEIF images cannot be read" in run.stderr
    assert "d.svg: a vector image (SVG)" in run.stderr
    assert "e.png: a broken symbolic link" in run.stderr
    assert "2 of 5 images done, 3 failed" in run.stderr


def test_messages_speak_the_users_terms(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(InputError) as e:
        images.load(str(bad))
    assert "BytesIO" not in str(e.value) and "bad.png" in str(e.value)
    big = tmp_path / "big.png"
    png_file(big, (300, 200))
    with pytest.raises(ImageTooLarge) as e:
        images.load(str(big), max_pixels=1000)
    assert "max_pixels" not in str(e.value).replace("pass a larger max_pixels to load()", "")
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type"
                      b"/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    with pytest.raises(InputError) as e:
        images.load(str(empty))
    assert "Success" not in str(e.value) and "empty.pdf" in str(e.value)
