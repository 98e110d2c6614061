import base64
import hashlib
import io
import random
import struct
import zlib

import httpx
import pytest
from PIL import Image as PILImage

from pixelproof import images
from pixelproof.errors import ImageTooLarge, InputError, UnsupportedImage


def png_bytes(w=40, h=30, color=(255, 0, 0), mode="RGB", fmt="PNG", **save):
    buf = io.BytesIO()
    PILImage.new(mode, (w, h), color).save(buf, fmt, **save)
    return buf.getvalue()


def test_sniffs_type_from_bytes_not_name(tmp_path):
    p = tmp_path / "photo.png"  # really a JPEG
    p.write_bytes(png_bytes(fmt="JPEG"))
    [im] = images.load(str(p))
    assert im.mime == "image/jpeg"
    assert (im.width, im.height) == (40, 30)
    assert im.sha256 == hashlib.sha256(im.data).hexdigest()


@pytest.mark.parametrize("fmt,mime", [("PNG", "image/png"), ("JPEG", "image/jpeg"),
                                      ("WEBP", "image/webp")])
def test_sendable_formats_pass_through_untouched(fmt, mime):
    data = png_bytes(fmt=fmt)
    [im] = images.load(data)
    assert im.mime == mime and im.data == data


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "GIF"])
def test_other_formats_are_reencoded(fmt):
    [im] = images.load(png_bytes(fmt=fmt, mode="RGB"))
    assert im.mime in ("image/png", "image/jpeg")
    assert (im.width, im.height) == (40, 30)


def test_gif_first_frame():
    frames = [PILImage.new("RGB", (10, 10), c) for c in ("red", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    [im] = images.load(buf.getvalue())
    assert images.to_pil(im).getpixel((5, 5))[0] > 200  # red, the first frame


def test_exif_orientation_applied():
    exif = PILImage.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    [im] = images.load(png_bytes(40, 30, fmt="JPEG", exif=exif))
    assert (im.width, im.height) == (30, 40)


def test_data_url_and_stdin(monkeypatch):
    data = png_bytes()
    [im] = images.load("data:image/png;base64," + base64.b64encode(data).decode())
    assert im.data == data and im.source == "<data url>"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    [im] = images.load("-")
    assert im.data == data and im.source == "<stdin>"


def test_pdf_pages(tmp_path):
    pages = [PILImage.new("RGB", (200, 100), c) for c in ("white", "black", "red")]
    p = tmp_path / "scan.pdf"
    pages[0].save(p, "PDF", save_all=True, append_images=pages[1:], resolution=72)
    got = images.load(str(p))
    assert [im.page for im in got] == [1, 2, 3]
    assert got[1].label == f"{p}#page=2"
    assert got[0].width == round(200 * images.PDF_DPI / 72)
    [third] = images.load(f"{p}#page=3")
    assert third.page == 3 and third.sha256 == got[2].sha256
    with pytest.raises(InputError, match="page 9 does not exist"):
        images.load(f"{p}#page=9")


def test_pdf_pages_load_from_many_threads_at_once(tmp_path):
    """PDFium is not thread-safe; a batch loads pages in threads (opens failed before)."""
    from concurrent.futures import ThreadPoolExecutor
    pages = [PILImage.effect_noise((20, 20), 40 + n).convert("L") for n in range(200)]
    p = tmp_path / "long.pdf"
    pages[0].save(p, "PDF", save_all=True, append_images=pages[1:], resolution=72)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda n: images.load(f"{p}#page={n % 200 + 1}")[0], range(400)))
    assert [im.page for im in got] == [n % 200 + 1 for n in range(400)]
    assert len({im.sha256 for im in got}) == 200


def test_expand_globs_and_folders(tmp_path):
    for name in ("b.png", "a.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(png_bytes())
    assert images.expand([str(tmp_path)]) == [str(tmp_path / "a.jpg"), str(tmp_path / "b.png")]
    assert images.expand([str(tmp_path / "*.png")]) == [str(tmp_path / "b.png")]
    assert images.expand([str(tmp_path / "*.gif")]) == [str(tmp_path / "*.gif")]


# --- bad input: each a clear error naming the input and the fix ---------------------------

def test_missing_file():
    with pytest.raises(InputError, match=r"nope\.png: no such file\. Check the path"):
        images.load("nope.png")


def test_zero_byte_file(tmp_path):
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.png: the file is empty"):
        images.load(str(p))


def test_truncated_png(tmp_path):
    p = tmp_path / "cut.png"
    noisy = PILImage.frombytes("RGB", (200, 200), random.Random(0).randbytes(120000))
    buf = io.BytesIO()
    noisy.save(buf, "PNG")
    p.write_bytes(buf.getvalue()[:2000])
    with pytest.raises(UnsupportedImage, match=r"cut\.png: .*(damaged|truncated)"):
        images.load(str(p))


def test_text_file_named_png(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("hello, I am not an image\n")
    with pytest.raises(UnsupportedImage, match=r"notes\.png: not an image .*Pass an image file"):
        images.load(str(p))


def huge_png(w, h):
    """A valid PNG header claiming w x h, with a tiny body: never decoded."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) \
        + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    p = tmp_path / "bomb.png"
    p.write_bytes(huge_png(30000, 30000))
    with pytest.raises(ImageTooLarge, match=r"bomb\.png: .*(pixels|decompression bomb)"):
        images.load(str(p))


def test_byte_limit(tmp_path):
    p = tmp_path / "big.png"
    p.write_bytes(png_bytes())
    with pytest.raises(ImageTooLarge, match="byte limit"):
        images.load(str(p), max_bytes=10)


def url_transport(status=200, body=b"", delay=False):
    def handler(request):
        if delay:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(status, content=body)
    return httpx.MockTransport(handler)


def test_url_download_keeps_url():
    data = png_bytes()
    [im] = images.load("https://example.test/a.png", transport=url_transport(body=data))
    assert im.url == "https://example.test/a.png" and im.data == data


def test_url_404():
    with pytest.raises(InputError, match=r"https://example.test/x.png: download failed with "
                                         r"HTTP 404"):
        images.load("https://example.test/x.png", transport=url_transport(404))


def test_url_that_never_answers():
    with pytest.raises(InputError, match="timed out"):
        images.load("https://example.test/x.png", transport=url_transport(delay=True))


def test_url_size_cap():
    with pytest.raises(ImageTooLarge, match="byte limit"):
        images.load("https://example.test/x.png", max_bytes=10,
                    transport=url_transport(body=png_bytes()))


# --- encoding ----------------------------------------------------------------------------

def test_png_for_screenshots_jpeg_for_photos():
    flat = PILImage.new("RGB", (100, 100), "white")
    assert images.encode(flat, "s").mime == "image/png"
    band = PILImage.effect_noise((100, 100), 80)
    noise = PILImage.merge("RGB", [band, band.rotate(90), band.rotate(180)])
    assert images.encode(noise, "p").mime == "image/jpeg"


def test_fit_bytes_never_larger_than_limit():
    noise = PILImage.effect_noise((800, 800), 100).convert("RGB")
    im = images.encode(noise, "n", mime="image/png")
    out = images.fit_bytes(im, 50_000)
    assert len(out.data) <= 50_000
    assert images.fit_bytes(out, 10**9) is out


def test_resize_drops_url():
    [im] = images.load(png_bytes(100, 50))
    small = images.resize(im, 50, 25)
    assert (small.width, small.height) == (50, 25) and small.url is None
    assert small.sha256 != im.sha256
