"""A receipt's total among the figures printed on it, chosen by the page's own arithmetic."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from .. import formats, tables

_TOTAL_LABEL = re.compile(r"\b(total|ttl|amount|due|grand|to pay|payable|gross amt|sale|"
                          r"balance)\b", re.I)  # printed by a receipt's total
_FINAL = re.compile(r"\b(grand|nett?|payable|due|after|rounded|rounding|round|final|to pay)\b",
                    re.I)  # the words of a last, final total ("ROUNDED TOTAL", "Total Payable")
_NOT_TOTAL = re.compile(r"\b(cash|change|tender\w*|paid|card|visa|qty|quantity|items?|count|"
                        r"saving|savings|discount|disc|tax|gst|vat|sst|sub|excl\w*|before|"
                        r"supplies|points?|deposit)\b", re.I)


def total(name: str, placed: list[tuple[str, str]], figures: list[Decimal]) -> Decimal | None:
    """A receipt's total (field ``name``) from its (label, value) pairs and its figures, both
    in the page's order, by the page's own arithmetic: of the figures at labels that name it
    (also "ROUNDED TOTAL", "NET TOTAL", "Total Payable", the rounded figure of a rounding
    line; never cash, change or a tendered amount), those that the
    printed subtotal and taxes, or a total and its rounding adjustment, add up to; a figure
    whose decimal point OCR lost ("3100" where the page adds up to 31.00, "28-90") read as
    the page adds up; of two that a rounding tells apart (under 0.05) the one printed last;
    else the largest. With no such label, a printed figure that they add up to, a figure at
    a total-like label ("Amt Due", "FUEL SALE"), or the first amount that all the amounts
    printed above it add up to (the items and taxes)."""
    def numbers(field: str) -> list[Decimal]:
        return [n for k, v in placed if tables.fits(field, k) and (n := figure(v))
                is not None]
    taxes, subtotals = numbers("tax"), numbers("subtotal")
    finals = [(k, n) for k, v in placed if _totals(name, k) and (n := figure(re.sub(
        r"^(\D*\d+)-(\d\d)$", r"\1.\2", v.strip()))) is not None]
    rounding = [n for k, n in finals if re.search(r"round|adj", k, re.I) and abs(n) < Decimal(
        "0.10")]
    totals = [n for k, n in finals if n not in rounding and not (re.search(
        r"\bnett?\b", k, re.I) and n < max(subtotals, default=n))]  # a net before its tax
    sums = {base + t for base in subtotals for t in [sum(taxes, Decimal(0)), *taxes] if t}
    sums |= {t + r for t in totals for r in rounding}
    amounts = [n for n in figures if n.as_tuple().exponent == -2]
    known = sums | set(subtotals) | {sum(amounts[:j]) for j in range(2, len(amounts) + 1)}
    totals = [n / 100 if n.as_tuple().exponent == 0 and n / 100 in known and n not in known
              else n for n in totals]  # "3100" for 31.00
    loose = [n for k, v in placed if _TOTAL_LABEL.search(k) and not tables.qualified(k)
             and (n := figure(v)) is not None]
    money = [n for n in taxes if n and n.as_tuple().exponent == -2]
    taxed = sums | {f + t for f in figures for t in money if f and f.as_tuple().exponent == -2
                    and f != t}  # a figure and its tax printed, then their sum ("SUBTOTAL")
    for candidates in (totals, [n for n in figures if n in taxed], loose):
        if candidates:
            agreed = [n for n in candidates if n in sums] or candidates
            last = agreed[-1]
            if all(abs(last - n) < Decimal("0.05") for n in agreed):
                return last
            return max(agreed)
    return next((f for j, f in enumerate(amounts) if j > 1 and f == sum(amounts[:j])), None)


def _totals(name: str, label: str) -> bool:
    """Whether ``label`` prints a total for field ``name``: one that names it, or a final
    total's ("Total Payable", "ROUNDING"), never cash, change, a count or a tax."""
    return (tables.fits(name, label) or bool(_FINAL.search(label) and re.search(
        r"total|amount|amt|payable|due|round", label, re.I))) and not _NOT_TOTAL.search(
        re.sub(r"\(.*?\)|\binc(l\w*|\w*ive)?\b.*", "", label, flags=re.I))


def figure(text: str) -> Any:
    """The figure in a label's text: "RM 57.80", "TOTAL: $13.10", "28.00*"."""
    for token in reversed(re.findall(r"[-(]?[$€£]?\d[\d.,]*\)?", text)):
        number = formats.parse_number(token.rstrip(".,"))
        if number is not None:
            return number
    return None


