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
    reason) where none does; a quotation whose words read otherwise is contradicted. Each
    page is checked once, for all the claims."""
    from .ground import check

    stated = claims(text)
    if not stated:
        return Report(())
    values = [_value(kind, claim) for kind, claim in stated]
    best: list[Check | None] = [None] * len(stated)
    for image, ocr in pages:
        for n, c in enumerate(check(image, {"claims": values}, ocr=ocr).checks):
            held = best[n]
            if held is None or _rank(c) < _rank(held):
                best[n] = c
    found = tuple(Check(f"claims[{n}]", claim, c.status, c.box, c.ocr_text,
                        c.note or f"a {kind} the answer states")
                  for n, ((kind, claim), c) in enumerate(zip(stated, best, strict=True)) if c)
    return Report(found, image=pages[0][0] if len(pages) == 1 and isinstance(
        pages[0][0], Image) else None)


def _value(kind: str, claim: str) -> Any:
    """A claim as the value to look for: a date as ISO (when its order is not in doubt), a
    figure as a number, a quotation as its text."""
    if kind == "date":
        parsed = formats.parse_date(claim, formats.day_first([claim]))
        return parsed.isoformat() if parsed and not formats.ambiguous(claim) else claim
    if kind == "number":
        number = formats.parse_number(claim)
        return claim if number is None else float(number) if "." in claim else int(number)
    return claim


def _rank(c: Check) -> int:
    return ("verified", "contradicted", "unverified").index(c.status)
