"""A second look before a value is called contradicted or its cell empty: the value's place on
the page read again closer (cropped, contrast stretched, scaled up so its text is about 48 px
tall), and the value decided from both reads. Where the closer read finds nothing, the place is
told apart by its ink: "not read on the page" when it holds marks the engine cannot read,
"not printed" when it is blank."""

from __future__ import annotations

from dataclasses import replace

from PIL import Image as PILImage
from PIL import ImageOps

from .. import align
from ..types import Image
from .page import CLEAR, kind_of, matches
from .report import Box, Check

LOOKS = 8  # second looks per page at most: each is an OCR read of a small crop
TEXT_HEIGHT = 48.0  # px: the height the crop's text is scaled to


def second_look(checks: list[Check], image: Image | PILImage.Image | None,
                dayfirst: bool | None) -> list[Check]:
    """``checks`` with each contradicted figure, date or short text, and each value whose cell
    was read empty, decided again from a closer read of its box."""
    if image is None:
        return checks
    page: PILImage.Image | None = None
    out, looks = [], 0
    for check in checks:
        if not _worth(check) or looks >= LOOKS:
            out.append(check)
            continue
        if page is None:
            from ..images import to_pil
            page = to_pil(image) if isinstance(image, Image) else image.convert("RGB")
        looks += 1
        out.append(_again(check, page, dayfirst))
    return out


def _worth(check: Check) -> bool:
    if check.box is None or check.status == "verified" or len(str(check.value).split()) > 3:
        return False
    return check.status == "contradicted" or check.note.startswith("its cell is empty")


def _again(check: Check, page: PILImage.Image, dayfirst: bool | None) -> Check:
    from ..ocr import read

    assert check.box is not None
    crop, (x0, y0, x1, y1) = _crop(page, check.box)
    words = [w for w in read(crop).words  # what the closer read finds in the value's own box
             if x0 <= (w.box[0] + w.box[2]) / 2 <= x1 and y0 <= (w.box[1] + w.box[3]) / 2 <= y1]
    text = " ".join(w.text for w in words)
    if kind_of(check.value) == "text":  # word for word, as strict as the first read
        found = align.locate(str(check.value), [w.text for w in words],
                             clear=[w.confidence >= CLEAR for w in words])
        said = found is not None and found.ok and found.score >= 0.75
    else:
        said = bool(text) and (matches(check.value, text, dayfirst) or any(
            matches(check.value, w.text, dayfirst) for w in words))
    if said:
        return replace(check, status="verified", ocr_text=text,
                       note=f"read again closer: {text!r}")
    if check.status == "contradicted":
        return replace(check, note=f"{check.note}; read again closer: {text!r}" if text else
                       f"{check.note}; a closer read finds no text")
    return replace(check, note="not read on the page: its cell holds marks the engine "
                   "cannot read" if _inked(crop) else "not printed: its cell is blank")


def _crop(page: PILImage.Image, box: Box) -> tuple[PILImage.Image, Box]:
    """``box`` with a margin of half its height, contrast stretched, its text scaled to
    about TEXT_HEIGHT px (at most 4x); and where ``box`` is in the crop."""
    x0, y0, x1, y1 = box
    height = max(y1 - y0, 4.0)
    pad, border = height / 2, 16
    left, top = max(0, int(x0 - pad)), max(0, int(y0 - pad))
    region = page.crop((left, top, min(page.width, int(x1 + pad)),
                        min(page.height, int(y1 + pad))))
    scale = min(4.0, max(1.0, TEXT_HEIGHT / height))
    grey = ImageOps.autocontrast(region.convert("L"), cutoff=1)
    big = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
                      PILImage.Resampling.LANCZOS)
    inner = (border + (x0 - left) * scale, border + (y0 - top) * scale,
             border + (x1 - left) * scale, border + (y1 - top) * scale)
    return ImageOps.expand(big, border=border, fill=255).convert("RGB"), inner


def _inked(crop: PILImage.Image) -> bool:
    """Whether a crop holds dark marks (more than 1 % of it well below its median)."""
    counts = crop.convert("L").histogram()
    total, seen = sum(counts), 0
    median = next(v for v, n in enumerate(counts) if (seen := seen + n) * 2 >= total)
    return sum(counts[:max(0, median - 60)]) > 0.01 * total
