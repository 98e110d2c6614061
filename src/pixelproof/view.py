"""Self-contained HTML views of extractions and verification reports (for Jupyter's
``_repr_html_``): the image inline with a coloured box per value, and a table of the values
with their statuses. No scripts, no network."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from .types import Extraction, Image

COLOURS = {"verified": "#16a34a", "unverified": "#d97706", "contradicted": "#dc2626",
           "read": "#2563eb"}  # read: where the offline engine read a value
RANK = {"contradicted": 0, "unverified": 1, "verified": 2}


def worst(statuses: list[str]) -> str | None:
    """The most alarming of ``statuses`` (None for none)."""
    return min(statuses, key=RANK.__getitem__) if statuses else None


def _as_dict(report: Any) -> dict[str, Any] | None:
    return report.to_dict() if hasattr(report, "to_dict") else report


def _image(image: Image | None, checks: list[dict[str, Any]]) -> str:
    """The image with one SVG rectangle per located value, scaled with it."""
    if image is None:
        return ""
    boxes = "".join(
        f'<rect x="{x0 - 3:.0f}" y="{y0 - 3:.0f}" width="{x1 - x0 + 6:.0f}" '
        f'height="{y1 - y0 + 6:.0f}" fill="none" stroke="{COLOURS[c["status"]]}" '
        f'stroke-width="3" data-path="{html.escape(c["path"])}" data-status="{c["status"]}">'
        f'<title>{html.escape(c["path"])}: {html.escape(c["status"])}</title></rect>'
        for c in checks if c.get("box") for x0, y0, x1, y1 in [c["box"]])
    return (f'<div style="position:relative;max-width:{min(image.width, 720)}px">'
            f'<img src="{image.data_url()}" alt="{html.escape(image.label)}" '
            'style="width:100%;display:block">'
            f'<svg viewBox="0 0 {image.width} {image.height}" preserveAspectRatio="none" '
            f'style="position:absolute;left:0;top:0;width:100%;height:100%">{boxes}</svg></div>')


def _table(checks: list[dict[str, Any]], arithmetic: list[dict[str, Any]]) -> str:
    rows = "".join(
        f'<tr><td><code>{html.escape(c["path"])}</code></td>'
        f'<td>{html.escape(json.dumps(c["value"], ensure_ascii=False))}</td>'
        f'<td style="color:{COLOURS[c["status"]]};font-weight:bold">{c["status"]}</td>'
        f'<td>{html.escape(c.get("ocr_text") or "")}</td>'
        f'<td>{html.escape(c.get("note") or "")}</td></tr>' for c in checks)
    sums = "".join(
        f'<li style="color:{COLOURS["contradicted"]}">sum failed: {html.escape(a["name"])}: '
        f'expected {html.escape(str(a["expected"]))}, found {html.escape(str(a["found"]))} '
        f'({html.escape(", ".join(a["paths"]))})</li>' for a in arithmetic if not a["ok"])
    return ('<table><thead><tr><th>path</th><th>value</th><th>status</th><th>page reads</th>'
            f'<th>note</th></tr></thead><tbody>{rows}</tbody></table>'
            + (f"<ul>{sums}</ul>" if sums else ""))


def report_html(report: Any, image: Image | None = None, title: str = "") -> str:
    """A verification report (a Report or its ``to_dict()``): summary, the image with its
    boxes (when given) and the table of values."""
    rep = _as_dict(report) or {"summary": "", "checks": [], "arithmetic": []}
    head = f"<b>{html.escape(title)}</b>: " if title else ""
    return (f'<div class="pixelproof"><p>{head}{html.escape(rep["summary"])}</p>'
            f'<div style="display:flex;gap:1em;flex-wrap:wrap;align-items:flex-start">'
            f'{_image(image, rep["checks"])}<div>{_table(rep["checks"], rep["arithmetic"])}'
            "</div></div></div>")


def extraction_html(item: Extraction, image: Image | None = None) -> str:
    """One extraction: its report with the image, or its records when it was not verified,
    or its error."""
    if not item.ok:
        return f'<p><b>{html.escape(item.label)}</b>: failed: {html.escape(item.error or "")}</p>'
    if item.verification is not None:
        return report_html(item.verification, image or getattr(item.verification, "image", None),
                           item.label)
    if item.model == "local":
        offline = _offline(item, image)
        if offline:
            return offline
    from .output import render
    return (f"<p><b>{html.escape(item.label)}</b>: not verified</p>"
            f"<pre>{html.escape(render(list(item.records), 'markdown'))}</pre>")


def _offline(item: Extraction, image: Image | None) -> str:
    """An offline (``local``) answer: the page with a box where the engine read each value,
    and the values; "" when the image cannot be loaded again (stdin, a URL)."""
    from .errors import PixelproofError
    from .images import load
    from .ocr import read
    from .providers.local import places
    if image is None:
        if not Path(item.source).is_file():
            return ""
        try:
            pages = load(item.source)
        except PixelproofError:
            return ""
        image = next((p for p in pages if p.page == item.page), pages[0])
    checks = [dict(c, status="read", note="" if c["box"] else "not found word for word")
              for c in places(item.data, read(image))]
    head = f"<b>{html.escape(item.label)}</b>: " if item.label else ""
    notes = "".join(f"<li>{html.escape(line[6:])}</li>" for line in item.text.splitlines()
                    if line.startswith("Note: "))  # what the engine left as printed, and why
    return (f'<div class="pixelproof"><p>{head}read offline by the local engine (not '
            'verified): each box is where a value was read</p>'
            '<div style="display:flex;gap:1em;flex-wrap:wrap;align-items:flex-start">'
            f'{_image(image, checks)}<div>{_table(checks, [])}'
            f'{f"<ul>{notes}</ul>" if notes else ""}</div></div></div>')


def record_statuses(item: Extraction) -> list[dict[str, str]]:
    """For each of ``item``'s records, ``{field: worst status of its values}`` (empty when the
    item was not verified)."""
    rep = _as_dict(item.verification)
    if rep is None:
        return [{} for _ in item.records]
    rows = isinstance(item.data, list)
    out = []
    for n, record in enumerate(item.records):
        prefix = f"[{n}]." if rows else ""
        out.append({k: s for k in record if (s := worst([
            c["status"] for c in rep["checks"] if c["path"] == prefix + k
            or c["path"].startswith((prefix + k + ".", prefix + k + "["))]))})
    return out
