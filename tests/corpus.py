"""A hostile-input corpus, made at test time: damaged, odd and hostile files beside good ones.

``make(folder)`` writes the files and returns what each should become in a batch::

    corpus = make(tmp_path / "in")
    corpus.good     # {file name: number of items it gives (pages)}
    corpus.bad      # {file name: words its one error line holds}

Nothing is downloaded and every file is small (the bomb only claims its size).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import render
from PIL import Image, ImageDraw


@dataclass
class Corpus:
    folder: Path
    good: dict[str, int] = field(default_factory=dict)
    bad: dict[str, str] = field(default_factory=dict)


def page(seed: int = 0) -> Image.Image:
    """A small receipt: text to read, so the good files do real work."""
    im = render.receipt(seed=seed).image
    return im.resize((im.width // 2, im.height // 2))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG header that claims ``width`` x ``height`` with almost no data: never decoded."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"")) \
        + _chunk(b"IEND", b"")


def pdf(pages: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    pages[0].save(buf, "PDF", save_all=True, append_images=pages[1:])
    return buf.getvalue()


EMPTY_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages"
             b"/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def encrypted_pdf() -> bytes:
    """A PDF whose trailer says it is encrypted (with a password that is not empty)."""
    body = pdf([page(5)])
    return body.replace(b"trailer\n<<", b"trailer\n<</Encrypt<</Filter/Standard/V 2/R 3/"
                        b"Length 128/P -4/O(" + b"x" * 32 + b")/U(" + b"y" * 32 + b")>>", 1)


def make(folder: Path) -> Corpus:
    folder.mkdir(parents=True, exist_ok=True)
    c = Corpus(folder)

    def good(name: str, pages: int = 1) -> Path:
        c.good[name] = pages
        return folder / name

    def bad(name: str, says: str) -> Path:
        c.bad[name] = says
        return folder / name

    base = page(1)
    base.save(good("plain.png"))
    base.save(good("photo.jpg"), quality=85)
    base.convert("CMYK").save(good("cmyk.jpg"))
    Image.fromarray(__import__("numpy").asarray(base.convert("L")).astype("uint16") * 257
                    ).save(good("sixteen-bit.png"))
    pal = base.convert("RGBA").quantize(64)
    pal.info["transparency"] = 0
    pal.save(good("palette-alpha.png"))
    frames = [page(s) for s in (2, 3)]
    frames[0].save(good("animated.gif"), save_all=True, append_images=frames[1:], duration=100)
    tiff = [page(s) for s in (2, 3, 1)]  # fresh images: saving a GIF leaves its settings on
    tiff[0].save(good("three-pages.tif", 3), save_all=True, append_images=tiff[1:])
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: the reader must turn it upright
    base.rotate(90, expand=True).save(good("exif-rotated.jpg"), exif=exif)
    base.save(good("modern.avif"))
    base.save(good("lossless.webp"), lossless=True)
    base.convert("RGB").save(good("old.bmp"))
    base.save(good("PNG bytes named.jpg"), "PNG")
    base.save(good("naïve café #1 (copy).png"))
    base.save(good("-starts-with-a-dash.png"))
    (folder / "two-pages.pdf").write_bytes(pdf([page(6), page(7)]))
    c.good["two-pages.pdf"] = 2
    strip = Image.new("RGB", (3000, 24), "white")
    ImageDraw.Draw(strip).text((5, 2), "Total due 1,234.56 " * 12, font=render.font(17),
                               fill="black")
    strip.save(good("thin-line.png"))
    Image.new("RGB", (20000, 20), "white").save(good("thin-blank.png"))

    raw = (folder / "plain.png").read_bytes()
    bad("truncated.png", "damaged").write_bytes(raw[: len(raw) // 3])
    bad("bomb.png", "pixel").write_bytes(png_claiming(40000, 40000))
    bad("not-an-image.png", "not an image").write_text("hello, I am text\n")
    bad("empty.jpg", "empty").write_bytes(b"")
    bad("zero-pages.pdf", "no pages").write_bytes(EMPTY_PDF)
    bad("encrypted.pdf", "PDF").write_bytes(encrypted_pdf())
    bad("phone.heic", "HEIC").write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64)
    bad("drawing.svg", "SVG").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>\n')
    os.mkfifo(bad("pipe.png", "not a regular file"))
    bad("endless.png", "not a regular file").symlink_to("/dev/zero")
    bad("loop.png", "symbolic link loop").symlink_to(folder / "loop.png")
    bad("gone.png", "broken symbolic link").symlink_to(folder / "nowhere.png")
    (folder / "notes.txt").write_text("not an image: not an input\n")
    return c
