"""Load images from paths, globs, URLs, bytes, stdin, data URLs and PDF pages; encode to send.

Every image is sniffed from its bytes, turned upright by its EXIF orientation, checked against
the pixel and byte guards, and re-encoded only when it must be (a format the APIs do not take,
a rotation, a resize, or a byte limit).
"""

from __future__ import annotations

import base64
import binascii
import glob
import hashlib
import io
import os
import re
import sys
import warnings
from pathlib import Path

import httpx
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from .errors import ImageTooLarge, InputError, UnsupportedImage
from .types import Image

MAX_PIXELS = 50_000_000  # about 8660 x 5770: larger is refused before decoding
MAX_BYTES = 50 * 1024 * 1024
URL_TIMEOUT = 30.0
PDF_DPI = 200
SENDABLE = {"image/png", "image/jpeg", "image/webp"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".pdf"}

_MAGIC = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"%PDF-", "application/pdf"),
]


def sniff(data: bytes) -> str | None:
    """The real type of ``data`` from its first bytes, or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    return None


def expand(inputs: list[str]) -> list[str]:
    """Turn globs and folders into file paths, sorted; other inputs pass through.

    A glob or folder that matches nothing is kept as is, so loading it names the problem.
    """
    out: list[str] = []
    for spec in inputs:
        if spec == "-" or _is_url(spec) or spec.startswith("data:"):
            out.append(spec)
        elif os.path.isdir(spec):
            found = sorted(
                str(p) for p in Path(spec).rglob("*")
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
            out.extend(found or [spec])
        elif glob.has_magic(spec.split("#")[0]):
            out.extend(sorted(glob.glob(spec, recursive=True)) or [spec])
        else:
            out.append(spec)
    return out


def load(
    spec: str | bytes | Path,
    *,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_BYTES,
    timeout: float = URL_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
) -> list[Image]:
    """Load one input; a PDF gives one image per page (``file.pdf#page=3`` for one)."""
    url = None
    page = None
    if isinstance(spec, bytes):
        source, data = "<bytes>", spec
    elif isinstance(spec, Path) or not (spec == "-" or _is_url(spec) or spec.startswith("data:")):
        source = str(spec)
        path, page = _split_page(source)
        data = _read_file(source, path, max_bytes)
    elif spec == "-":
        source, data = "<stdin>", sys.stdin.buffer.read()
    elif spec.startswith("data:"):
        source, data = "<data url>", _decode_data_url(spec)
    else:
        source = url = spec
        data = _download(spec, max_bytes, timeout, transport)
    if not data:
        raise InputError(source, "the file is empty (0 bytes)", "Check that it was saved fully.")
    if len(data) > max_bytes:
        raise ImageTooLarge(source, f"{len(data):,} bytes is over the {max_bytes:,} byte limit",
                            "Shrink the file or raise the limit.")
    mime = sniff(data)
    if mime is None:
        raise UnsupportedImage(
            source, "not an image (its bytes are not PNG, JPEG, WebP, GIF, BMP, TIFF or PDF)",
            "Pass an image file; the file name's extension does not matter.")
    if mime == "application/pdf":
        return _pdf_pages(source, data, page, max_pixels)
    return [_from_bytes(source, data, mime, max_pixels, url)]


def _is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def _split_page(source: str) -> tuple[str, int | None]:
    m = re.fullmatch(r"(.*\.pdf)#page=(\d+)", source, flags=re.IGNORECASE)
    return (m.group(1), int(m.group(2))) if m else (source, None)


def _read_file(source: str, path: str, max_bytes: int) -> bytes:
    try:
        size = os.path.getsize(path)
        if size > max_bytes:
            raise ImageTooLarge(source, f"{size:,} bytes is over the {max_bytes:,} byte limit",
                                "Shrink the file or raise the limit.")
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise InputError(source, "no such file", "Check the path (globs need quotes in some "
                         "shells).") from None
    except IsADirectoryError:
        raise InputError(source, "is a folder with no images in it", "Pass image files.") from None
    except PermissionError:
        raise InputError(source, "permission denied", "Make the file readable.") from None


def _decode_data_url(spec: str) -> bytes:
    head, _, payload = spec.partition(",")
    if ";base64" not in head:
        raise InputError("<data url>", "only base64 data URLs are supported",
                         "Use data:image/png;base64,...")
    try:
        return base64.b64decode(payload, validate=True)
    except binascii.Error:
        raise InputError("<data url>", "the base64 payload is damaged",
                         "Re-encode the image.") from None


def _download(url: str, max_bytes: int, timeout: float,
              transport: httpx.BaseTransport | None) -> bytes:
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, transport=transport) as client:
            with client.stream("GET", url) as r:
                if r.status_code >= 400:
                    raise InputError(url, f"download failed with HTTP {r.status_code}",
                                     "Check the URL, or download the image and pass the file.")
                chunks, total = [], 0
                for chunk in r.iter_bytes():
                    total += len(chunk)
                    if total > max_bytes:
                        raise ImageTooLarge(url, f"download is over the {max_bytes:,} byte limit",
                                            "Pass a smaller image.")
                    chunks.append(chunk)
                return b"".join(chunks)
    except httpx.TimeoutException:
        raise InputError(url, f"download timed out after {timeout:g} s",
                         "Check the URL, or download the image and pass the file.") from None
    except httpx.HTTPError as e:
        raise InputError(url, f"download failed ({type(e).__name__})",
                         "Check the URL and your network.") from None


def _open(source: str, data: bytes, max_pixels: int) -> PILImage.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            im = PILImage.open(io.BytesIO(data))
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise ImageTooLarge(source, "too many pixels (a possible decompression bomb)",
                            "Resize the image below the pixel limit.") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise UnsupportedImage(source, f"cannot read the image ({e})",
                               "The file may be damaged; re-export it.") from None
    if im.width * im.height > max_pixels:
        raise ImageTooLarge(
            source, f"{im.width}x{im.height} is {im.width * im.height:,} pixels, over the "
            f"{max_pixels:,} pixel limit", "Resize the image, or raise max_pixels.")
    try:
        im.load()
    except (OSError, SyntaxError, ValueError) as e:
        raise UnsupportedImage(source, f"the image data is damaged or truncated ({e})",
                               "Re-export or re-download the file.") from None
    return im


def _from_bytes(source: str, data: bytes, mime: str, max_pixels: int,
                url: str | None) -> Image:
    im = _open(source, data, max_pixels)
    rotated = im.getexif().get(0x0112, 1) not in (1, None)
    if mime in SENDABLE and not rotated:
        return _make(data, mime, im.width, im.height, source, url=url)
    # A format the APIs do not all take (GIF: its first frame), or EXIF rotation: re-encode.
    im.seek(0)
    upright = ImageOps.exif_transpose(im)
    return encode(upright, source)


def _pdf_pages(source: str, data: bytes, page: int | None, max_pixels: int) -> list[Image]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        raise UnsupportedImage(source, f"cannot open the PDF ({e})",
                               "The file may be damaged or encrypted.") from None
    try:
        n = len(pdf)
        if page is not None and not 1 <= page <= n:
            raise InputError(source, f"page {page} does not exist (the PDF has {n} pages)",
                             f"Use #page=1 to #page={n}.")
        pages = [page] if page else list(range(1, n + 1))
        out = []
        for p in pages:
            pdf_page = pdf[p - 1]
            w, h = pdf_page.get_size()
            scale = PDF_DPI / 72
            if w * h * scale * scale > max_pixels:
                scale = (max_pixels / (w * h)) ** 0.5
            im = pdf_page.render(scale=scale).to_pil()
            out.append(encode(im, source, page=p, mime="image/png"))
        return out
    finally:
        pdf.close()


def _make(data: bytes, mime: str, width: int, height: int, source: str,
          page: int | None = None, url: str | None = None) -> Image:
    return Image(data=data, mime=mime, width=width, height=height, source=source,
                 sha256=hashlib.sha256(data).hexdigest(), page=page, url=url)


def looks_like_photo(im: PILImage.Image) -> bool:
    """Photos have many colours; screenshots and documents have few (PNG keeps them sharp)."""
    small = im.convert("RGB").resize((64, 64))
    return small.getcolors(maxcolors=1500) is None


def encode(im: PILImage.Image, source: str, *, page: int | None = None,
           mime: str | None = None, quality: int = 90) -> Image:
    """Encode pixels as PNG (text, screenshots) or JPEG (photos) unless ``mime`` is given."""
    if mime is None:
        mime = "image/jpeg" if looks_like_photo(im) else "image/png"
    buf = io.BytesIO()
    if mime == "image/jpeg":
        im.convert("RGB").save(buf, "JPEG", quality=quality, optimize=True)
    else:
        mode = im.mode if im.mode in ("RGB", "RGBA", "L", "LA") else "RGBA"
        im.convert(mode).save(buf, "PNG", optimize=False)
    return _make(buf.getvalue(), mime, im.width, im.height, source, page=page)


def to_pil(image: Image) -> PILImage.Image:
    """Decode an Image's pixels (RGB)."""
    return PILImage.open(io.BytesIO(image.data)).convert("RGB")


def resize(image: Image, width: int, height: int) -> Image:
    """The same image at a new size, in its own format; the URL is dropped (pixels changed)."""
    if (width, height) == (image.width, image.height):
        return image
    im = to_pil(image).resize((width, height), PILImage.Resampling.LANCZOS)
    return encode(im, image.source, page=image.page,
                  mime=image.mime if image.mime in SENDABLE else None)


def fit_bytes(image: Image, max_bytes: int) -> Image:
    """Shrink the encoding (JPEG quality, then size) until it fits ``max_bytes``."""
    if len(image.data) <= max_bytes:
        return image
    im = to_pil(image)
    for quality in (85, 70):
        out = encode(im, image.source, page=image.page, mime="image/jpeg", quality=quality)
        if len(out.data) <= max_bytes:
            return out
    while len(out.data) > max_bytes and im.width > 64:
        im = im.resize((int(im.width * 0.8), int(im.height * 0.8)), PILImage.Resampling.LANCZOS)
        out = encode(im, image.source, page=image.page, mime="image/jpeg", quality=70)
    return out
