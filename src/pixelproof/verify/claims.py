"""Free-text answers checked against the page: the figures, dates and quoted words a
description states ("the total is RM 59.20", "dated 15 January 2019", 'it reads "SALE"'),
each looked up like a value of the data."""

from __future__ import annotations

import re
from typing import Any

from .. import formats
from ..types import Image, OcrResult
from .report import Check, Report

# Dates with month names, numeric dates, money and other figures with decimals or grouping,
# and text in quotes; each is a claim about the page.
_MONEY = r"(?:[$€£¥₹]|RM ?|MYR ?|USD ?|EUR ?|GBP ?)"
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_CLAIM = re.compile(
    rf"(?P<date>\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{2,4}}\b|\b{_MONTH}\s+\d{{1,2}}"
    rf"(?:st|nd|rd|th)?,?\s+\d{{4}}\b|\b\d{{4}}-\d{{2}}-\d{{2}}\b|\b\d{{1,2}}[/.-]\d{{1,2}}[/.-]"
    r"\d{2,4}\b)"
    rf"|(?P<number>(?<![\w.,])-?{_MONEY}?\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?(?![\w,]|\.\d)"
    rf"|(?<![\w.,])-?{_MONEY}?\d+\.\d{{2}}(?!\w|\.\d))"
    r"|[\"“](?P<quote>[^\"”\n]{2,80})[\"”]", re.I)


def claims(text: str) -> list[tuple[str, str]]:
    """(kind, claim) for each figure, date and quotation that ``text`` states, in order."""
    out = []
    for m in _CLAIM.finditer(text):
        kind = m.lastgroup or ""
        claim = m[kind].strip()
        if not claim:
            continue
        if kind == "date" and formats.parse_date(claim, True) is None and formats.parse_date(
                claim, False) is None:
            continue
        out.append((kind, claim))
    return out


def check_claims(text: str, pages: list[tuple[Image | Any, OcrResult]]) -> Report:
    """A Check per claim of ``text``: verified where a page prints it, unverified (with the
    reason) where none does; a quotation whose words read otherwise is contradicted."""
    from .ground import check

    found: list[Check] = []
    for n, (kind, claim) in enumerate(claims(text)):
        value: Any = claim
        if kind == "date":
            parsed = formats.parse_date(claim, formats.day_first([claim]))
            value = parsed.isoformat() if parsed and not formats.ambiguous(claim) else claim
        elif kind == "number":
            value = formats.parse_number(claim)
            value = claim if value is None else float(value) if "." in claim else int(value)
        best = None
        for image, ocr in pages:
            (c,) = check(image, {"claim": value}, ocr=ocr).checks
            if best is None or _rank(c) < _rank(best):
                best = c
            if c.status == "verified":
                break
        if best is not None:
            found.append(Check(f"claims[{n}]", claim, best.status, best.box, best.ocr_text,
                               best.note or f"a {kind} the answer states"))
    return Report(tuple(found), image=pages[0][0] if len(pages) == 1 and isinstance(
        pages[0][0], Image) else None)


def _rank(c: Check) -> int:
    return ("verified", "contradicted", "unverified").index(c.status)
