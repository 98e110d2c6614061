"""Load images from paths, globs, URLs, bytes, stdin, data URLs and PDF pages; encode to send.

Every image is sniffed from its bytes, turned upright by its EXIF orientation, checked against
the pixel and byte guards, and re-encoded only when it must be (a format the APIs do not take,
a rotation, a resize, or a byte limit).
"""

from __future__ import annotations

import base64
import binascii
import errno
import glob
import hashlib
import io
import ipaddress
import os
import re
import socket
import stat
import sys
import threading
import time
import warnings
from dataclasses import replace
from pathlib import Path

import httpx
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from .errors import ImageTooLarge, InputError, UnsupportedImage
from .textlayer import page_words
from .types import Image

MAX_PIXELS = 50_000_000  # about 8660 x 5770: larger is refused before decoding
MAX_BYTES = 50 * 1024 * 1024
URL_TIMEOUT = 30.0
PDF_DPI = 200
SENDABLE = {"image/png", "image/jpeg", "image/webp"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".pdf",
                  ".avif", ".jp2", ".j2k", ".jpf", ".jpx"}
# Image files a folder may hold that cannot be read: listed as failed, never skipped silently.
OTHER_IMAGE_SUFFIXES = {".heic", ".heif", ".svg", ".svgz", ".jxl", ".psd", ".ico", ".raw",
                        ".cr2", ".nef", ".dng", ".eps", ".xcf"}

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
    if data[4:8] == b"ftyp":  # ISO media: AVIF (Pillow reads it) or HEIC (it does not)
        brands = data[8:12] + data[16:min(len(data), 64)]
        if b"avif" in brands or b"avis" in brands:
            return "image/avif"
        if any(b in brands for b in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1")):
            return "image/heic"
    if data.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "image/jp2"
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
            # Every file named like an image: ones that cannot be read (HEIC, SVG, a broken
            # link, a FIFO) fail with a line saying why instead of vanishing from the batch.
            found = sorted(
                str(p) for p in Path(spec).rglob("*")
                if p.suffix.lower() in IMAGE_SUFFIXES | OTHER_IMAGE_SUFFIXES
                and (p.is_symlink() or not p.is_dir())
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
    public_only: bool = False,
    max_pages: int | None = None,
    name: str = "<bytes>",
) -> list[Image]:
    """Load one input; a PDF gives one image per page (``file.pdf#page=3`` for one).

    ``public_only`` refuses URLs (and redirects) to loopback, private, link-local and other
    non-public addresses, as a server must; ``max_pages`` caps a PDF's or TIFF's pages;
    ``name`` is the source of bytes (an upload's file name)."""
    url = None
    page = None
    if isinstance(spec, bytes):
        source, data = name, spec
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
        data = _download(spec, max_bytes, timeout, transport, public_only)
    if not data:
        raise InputError(source, "the file is empty (0 bytes)", "Check that it was saved fully.")
    if len(data) > max_bytes:
        raise ImageTooLarge(source, f"{len(data):,} bytes is over the {max_bytes:,} byte limit",
                            "Shrink the file or raise the limit.")
    mime = sniff(data)
    if mime == "image/heic":
        raise UnsupportedImage(source, "HEIC/HEIF images cannot be read",
                               "Convert it to JPEG or PNG (e.g. on the phone, or with "
                               "`heif-convert`).")
    if mime is None and data.lstrip()[:5].lower() in (b"<?xml", b"<svg ", b"<svg>"):
        raise UnsupportedImage(source, "a vector image (SVG), not pixels",
                               "Export it as PNG first.")
    if mime is None:
        raise UnsupportedImage(
            source, "not an image (its bytes are not PNG, JPEG, WebP, GIF, BMP, TIFF, AVIF, "
            "JPEG 2000 or PDF)", "Pass an image file; the file name's extension does not "
            "matter.")
    if max_pages is not None and page is None and mime in ("application/pdf", "image/tiff"):
        n = tiff_pages(data) if mime == "image/tiff" else pdf_pages(data)
        if n > max_pages:
            raise ImageTooLarge(source, f"{n} pages is over the {max_pages} page limit",
                                "Split the document, or send the pages you need.")
    if mime == "application/pdf":
        return _pdf_pages(source, data, page, max_pixels)
    if mime == "image/tiff":
        return _tiff_pages(source, data, page, max_pixels)
    if page is not None:
        raise InputError(source, "#page=N is for PDF and TIFF files", "Drop the #page= part.")
    return [_from_bytes(source, data, mime, max_pixels, url)]


def _is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


PAGED = re.compile(r"(.*\.(?:pdf|tiff?))#page=(\d+)", flags=re.IGNORECASE)


def _split_page(source: str) -> tuple[str, int | None]:
    m = PAGED.fullmatch(source)
    return (m.group(1), int(m.group(2))) if m else (source, None)


def _read_file(source: str, path: str, max_bytes: int) -> bytes:
    """The file's bytes: only a regular file (a FIFO or device would block or never end), and
    never more than ``max_bytes`` read (a file may grow, or lie about its size)."""
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else
                    "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else
                    "a socket" if stat.S_ISSOCK(info.st_mode) else "a special file")
            raise InputError(source, f"not a regular file (it is {kind})",
                             "Pass an image file; to read a pipe, use - for stdin.")
        if info.st_size > max_bytes:
            raise ImageTooLarge(source, f"{info.st_size:,} bytes is over the {max_bytes:,} "
                                "byte limit", "Shrink the file.")
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ImageTooLarge(source, f"the file is over the {max_bytes:,} byte limit (it "
                                "grew while being read)", "Shrink the file.")
        return data
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputError(source, f"a broken symbolic link (to {os.readlink(path)})",
                             "Fix or remove the link.") from None
        raise InputError(source, "no such file", "Check the path (globs need quotes in some "
                         "shells).") from None
    except IsADirectoryError:
        raise InputError(source, "is a folder with no images in it", "Pass image files.") from None
    except PermissionError:
        raise InputError(source, "permission denied", "Make the file readable.") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise InputError(source, "a symbolic link loop (the link points back at itself)",
                             "Fix or remove the link.") from None
        raise InputError(source, f"cannot read the file ({e.strerror or e})",
                         "Check the file and the disk.") from None


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


def _pinned(client: httpx.Client, url: str) -> httpx.Request:
    """A GET of ``url`` sent to the public address ``check_public`` found (the Host header and
    TLS name stay the host's), so a second DNS answer cannot point it elsewhere."""
    given = httpx.URL(url)
    return client.build_request("GET", given.copy_with(host=check_public(url)),
                                headers={"Host": given.netloc.decode("ascii")},
                                extensions={"sni_hostname": given.host})


def check_public(url: str) -> str:
    """The address of ``url``'s host; InputError when it is, or resolves to, one that is not
    public (loopback, private, link-local such as cloud metadata, multicast, reserved): a
    server fetching it for a client could reach its own network."""
    host = httpx.URL(url).host
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise InputError(url, f"cannot resolve the host '{host}'", "Check the URL.") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global:
            raise InputError(url, f"the host '{host}' is at {address}, not a public address; "
                             "refused", "Send the image itself (upload or data URL), or start "
                             "the server with --allow-private-urls if you trust its clients.")
    return str(infos[0][4][0])


def _download(url: str, max_bytes: int, timeout: float,
              transport: httpx.BaseTransport | None, public_only: bool = False) -> bytes:
    """The body at ``url``: at most ``max_bytes``, within ``timeout`` seconds in all (not per
    read: a server sending a byte at a time is cut off), following up to 5 redirects but never
    from https to plain http; with ``public_only`` every hop's address is checked first."""
    deadline = time.monotonic() + timeout
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, transport=transport) as client:
            for _ in range(6):
                r = client.send(_pinned(client, url) if public_only else client.build_request(
                    "GET", url), stream=True)
                try:
                    if not (r.is_redirect and "location" in r.headers):
                        return _read_body(url, r, max_bytes, deadline, timeout)
                    target = str(httpx.URL(url).join(r.headers["location"]))
                    if url.startswith("https://") and not target.startswith("https://"):
                        raise InputError(url, f"redirected to plain http ({target}); refused",
                                         "Use an https address that stays https, or download "
                                         "the image and pass the file.")
                finally:
                    r.close()
                url = target
            raise InputError(url, "too many redirects", "Download the image and pass the file.")
    except httpx.TimeoutException:
        raise InputError(url, f"download timed out after {timeout:g} s",
                         "Check the URL, or download the image and pass the file.") from None
    except httpx.HTTPError as e:
        raise InputError(url, f"download failed ({type(e).__name__})",
                         "Check the URL and your network.") from None


def _read_body(url: str, r: httpx.Response, max_bytes: int, deadline: float,
               timeout: float) -> bytes:
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
        if time.monotonic() > deadline:
            raise InputError(url, f"download took over {timeout:g} s in all (got "
                             f"{total:,} bytes)", "The server is too slow: download the "
                             "image another way and pass the file.")
    return b"".join(chunks)


def _open(source: str, data: bytes, max_pixels: int) -> PILImage.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            im = PILImage.open(io.BytesIO(data))
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise ImageTooLarge(source, "too many pixels (a possible decompression bomb)",
                            f"Resize the image below {max_pixels:,} pixels.") from None
    except UnidentifiedImageError:  # its message names a BytesIO object, not the file
        raise UnsupportedImage(source, "cannot read the image: its header is damaged or "
                               "in a variant that cannot be decoded",
                               "Re-export it as PNG or JPEG.") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise UnsupportedImage(source, f"cannot read the image ({e})",
                               "The file may be damaged; re-export it.") from None
    if im.width * im.height > max_pixels:
        raise ImageTooLarge(
            source, f"{im.width}x{im.height} is {im.width * im.height:,} pixels, over the "
            f"{max_pixels:,} pixel limit", "Resize the image below that (or, in Python, "
            "pass a larger max_pixels to load()).")
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


# PDFium is not thread-safe (a batch loads pages in threads: concurrent opens failed with
# "Failed to load document"): every call into it holds this lock. Encoding runs outside it.
_PDFIUM = threading.Lock()


def _pdf_pages(source: str, data: bytes, page: int | None, max_pixels: int) -> list[Image]:
    """The PDF's pages (or one), each rendered and encoded in turn: a long PDF holds one
    page's pixels at a time."""
    import pypdfium2 as pdfium

    with _PDFIUM:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as e:
            why = str(e).split(" (PDFium:")[0]  # PDFium's own code often says "Success"
            raise UnsupportedImage(source, f"cannot open the PDF ({why})",
                                   "The file may be damaged, encrypted or have no pages; "
                                   "re-save it, or remove its password.") from None
        n = len(pdf)
    try:
        if n == 0:
            raise InputError(source, "the PDF has no pages", "Pass a PDF with pages.")
        if page is not None and not 1 <= page <= n:
            raise InputError(source, f"page {page} does not exist (the PDF has {n} pages)",
                             f"Use #page=1 to #page={n}.")
        out = []
        for p in [page] if page else range(1, n + 1):
            with _PDFIUM:
                pdf_page = pdf[p - 1]
                width, height = pdf_page.get_size()
                bitmap = pdf_page.render(scale=_pdf_scale(width, height, max_pixels))
                im = bitmap.to_pil().copy()  # its own pixels: the bitmap is freed now
                bitmap.close()
                words = page_words(pdf_page, im.width, im.height)
                pdf_page.close()
            out.append(replace(encode(im, source, page=p, mime="image/png"), words=words))
        return out
    finally:
        with _PDFIUM:
            pdf.close()


def _tiff_pages(source: str, data: bytes, page: int | None, max_pixels: int) -> list[Image]:
    """A TIFF: one image per page (``scan.tif#page=2`` for one), like a PDF."""
    n = tiff_pages(data)
    if n <= 1 and page in (None, 1):
        return [_from_bytes(source, data, "image/tiff", max_pixels, None)]
    if page is not None and not 1 <= page <= n:
        raise InputError(source, f"page {page} does not exist (the TIFF has {n} "
                         f"page{'s' if n != 1 else ''})", f"Use #page=1 to #page={n}.")
    im = _open(source, data, max_pixels)
    out = []
    for p in [page] if page else range(1, n + 1):
        try:
            im.seek(p - 1)
            if im.width * im.height > max_pixels:
                raise ImageTooLarge(source, f"page {p} is {im.width}x{im.height}, over the "
                                    f"{max_pixels:,} pixel limit", "Resize that page.")
            im.load()
            frame = ImageOps.exif_transpose(im.copy())
        except (OSError, SyntaxError, ValueError, EOFError) as e:
            raise UnsupportedImage(source, f"page {p} is damaged ({e})",
                                   "Re-export the file.") from None
        out.append(encode(frame, source, page=p))
    return out


def _pdf_scale(width: float, height: float, max_pixels: int) -> float:
    """Pixels per point for a page of that size in points: PDF_DPI, or less for a page that
    would be over ``max_pixels``."""
    scale = PDF_DPI / 72
    if width * height * scale * scale > max_pixels:
        scale = (max_pixels / (width * height)) ** 0.5
    return scale


def pdf_pages(data: bytes) -> int:
    """How many pages a PDF holds (0 when it cannot be opened: loading says why)."""
    import pypdfium2 as pdfium

    with _PDFIUM:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError:
            return 0
        try:
            return len(pdf)
        finally:
            pdf.close()


def pdf_page_sizes(data: bytes, max_pixels: int = MAX_PIXELS) -> list[tuple[int, int]]:
    """The size in pixels ``load()`` renders each page of a PDF at, read from the page boxes
    without rendering ([] when it cannot be opened: loading says why)."""
    import math

    import pypdfium2 as pdfium

    with _PDFIUM:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError:
            return []
        try:
            sizes = [pdf.get_page_size(n) for n in range(len(pdf))]
        finally:
            pdf.close()
    return [(math.ceil(w * (scale := _pdf_scale(w, h, max_pixels))), math.ceil(h * scale))
            for w, h in sizes]


def tiff_pages(data: bytes) -> int:
    """How many pages a TIFF holds (1 when it cannot tell: loading says what is wrong)."""
    try:
        with PILImage.open(io.BytesIO(data)) as im:
            return max(1, getattr(im, "n_frames", 1))
    except Exception:  # damaged: loading the file gives the message
        return 1


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
