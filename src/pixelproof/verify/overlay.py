"""The image with a box per checked value, written to a file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..types import Image
from .report import Report


def overlay_ready(path: str) -> None:
    """Make ``path``'s folder and check that an overlay can be written there, before any OCR
    work is done."""
    from PIL import Image as PILImage

    target = Path(path)
    problem = ""
    if target.suffix.lower() not in PILImage.registered_extensions():
        problem = f"'{target.suffix or 'no'}' extension is not an image format"
    elif target.is_dir():
        problem = "it is a folder"
    else:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            problem = f"cannot make its folder ({e.strerror or e})"
        else:
            if not os.access(target.parent, os.W_OK):
                problem = "its folder is not writable"
    if problem:
        raise ConfigError(f"cannot write the overlay {path}: {problem}. Give a writable path "
                          "ending in .png or .jpg.")


def draw_overlay(image: Image | Any, report: Report | dict[str, Any], path: str) -> None:
    """The image with a box per value: green verified, red flagged, each labelled with its
    path; flagged values without a place on the page and failed sums are listed in red under
    it. ``report`` may be a Report or its ``to_dict()`` (as stored for a run). For the pages
    of a document (a list), one file per page, named ``path`` with ``-pageN`` before its
    extension; the unplaced values and the sums are listed under the first."""
    rep = report.to_dict() if isinstance(report, Report) else report
    if not isinstance(image, list | tuple):
        _draw(image, rep, path)
        return
    target = Path(path)
    for n, page in enumerate(image, 1):
        number = page.page or n if isinstance(page, Image) else n
        mine = {**rep, "checks": [c for c in rep["checks"] if c.get("page", 1) == number or
                                  (n == 1 and c["box"] is None)],
                "arithmetic": rep["arithmetic"] if n == 1 else []}
        _draw(page, mine, str(target.with_name(f"{target.stem}-page{number}{target.suffix}")))


def _draw(image: Image | Any, rep: dict[str, Any], path: str) -> None:
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFont

    from ..images import to_pil
    page = (to_pil(image) if isinstance(image, Image) else image).convert("RGB")
    size = max(11, page.height // 90)
    font = ImageFont.load_default(size)
    notes = [f"{c['status']}: {c['path']} = {c['value']!r} ({c['note']})"
             for c in rep["checks"] if c["box"] is None and c["status"] != "verified"]
    notes += [f"sum failed: {a['name']}: expected {a['expected']}, found {a['found']}"
              for a in rep["arithmetic"] if not a["ok"]]
    canvas = PILImage.new("RGB", (page.width, page.height + (size + 4) * len(notes) +
                                  (8 if notes else 0)), "white")
    canvas.paste(page)
    draw = ImageDraw.Draw(canvas)
    pad = max(2, size // 4)
    for check in rep["checks"]:
        if check["box"] is None:
            continue
        colour = "#16a34a" if check["status"] == "verified" else "#dc2626"
        x0, y0, x1, y1 = check["box"]
        draw.rectangle((x0 - pad, y0 - pad, x1 + pad, y1 + pad), outline=colour,
                       width=max(2, size // 5))
        draw.text((x0 - pad, max(0, y0 - pad - size - 2)), check["path"], fill=colour,
                  font=font)
    for n, note in enumerate(notes):
        draw.text((pad, page.height + 4 + n * (size + 4)), note, fill="#dc2626", font=font)
    try:
        canvas.save(path)
    except (OSError, ValueError) as e:
        raise ConfigError(f"could not write the overlay {path}: {e}. Check the path and its "
                          "extension (.png, .jpg).") from e
