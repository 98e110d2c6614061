"""The total is the amount payable: where a receipt or invoice prints it, and what else it
prints that an answer may give for it (cash tendered, change, the subtotal, the total before
rounding or tax)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from .page import cell_number
from .report import Box

# The last of these printed is the amount to pay ("NET TOTAL", "Total Amt Payable", "Rounded
# Total", "Amount Due", "TOTAL AFTER ADJ"), where a receipt prints one.
_FINAL = re.compile(r"payable|\bdue\b|round(ed)? ?total|total ?\(?round|\bnett? ?(total|amount|"
                    r"amt|sales)|grand ?total|after (adj|round)|to pay|total ?incl|"
                    r"total (sales )?(\( ?)?inclusive|total (with|w) (gst|vat|tax)")
# Amounts printed beside the total that are not it.
_NOT_TOTAL = re.compile(r"cash|change|chg|tender|paid by|(sub|sous) ?-? ?total|zwischensumme|"
                        r"excl|exclusive|excluding|before|\bpre\b|w/o|without|deposit|card|visa|"
                        r"master|credit|debit|\bqty\b|quantity|items?\b|discount|saving|"
                        r"includ(es|ed)|points|voucher|refund")
TAX = re.compile(r"\b(tax|gst|vat|sst|hst|pst|btw|mwst|ust|tva|iva)\b")  # taxes by name
_WITH_TAX = re.compile(r"incl|\binc\b|inclusive|\bwith\b|\bw\b|after")
_TOTALISH = re.compile(r"total|\bttl\b|payable|\bdue\b|(amount|amt) (due|payable)|nett? amount")
_CARD = re.compile(r"card|visa|master|amex|credit|debit|eftpos")
_ROUNDING = re.compile(r"round|adj")


@dataclass(frozen=True)
class Place:
    label: str
    text: str
    box: Box
    figure: Decimal


def _key(label: str) -> str:
    """A label or field name as lower-case words ("grandTotal" is "grand total")."""
    return re.sub(r"[\W_]+", " ", re.sub(r"(?<=[a-z])(?=[A-Z])", " ", label).casefold()).strip()


def is_total(name: str) -> bool:
    """Whether a field named ``name`` holds the amount payable ("total", "total_amount",
    "grand_total", "amount_due"; not "fuel_total" or "subtotal")."""
    return bool(re.fullmatch(r"((grand|final|net|receipt|invoice|order|bill) )*(total|ttl)"
                             r"( (amount|amt|due|payable|paid|price|value|incl \w+))*|"
                             r"(amount|amt|balance) (due|payable)|amount|payable|nett? amount",
                             _key(name)))


def places(labels: list[tuple[str, str, Box]]) -> tuple[list[Place], list[Place]]:
    """The printed totals, in the order printed (top to bottom), and the amounts printed at
    labels that name something else (cash, change, subtotal, excl. tax, tax)."""
    totals, others = [], []
    for label, text, box in sorted(labels, key=lambda p: (p[2][1], p[2][0])):
        figure = cell_number(text)
        if not figure or not re.search(r"\d", text):
            continue
        key = _key(label)
        place = Place(label, text, box, figure)
        if _NOT_TOTAL.search(key) or TAX.search(key) and not _WITH_TAX.search(key):
            others.append(place)
        elif _TOTALISH.search(key) and not re.fullmatch(r"(total )?round(ing)?( adj\w*)?", key):
            totals.append(place)
        elif re.search(r"payment|paid", key):
            others.append(place)
    return totals, others


def payable(totals: list[Place], labels: list[tuple[str, str, Box]]) -> Place | None:
    """The amount payable, where the page tells it: a figure that a printed rounding
    adjustment takes a total to (printed at the total or at the rounding label: "Rounding RM
    13.60"), else the last total labelled as final. None when every printed total may be it."""
    rounded = places_at(labels, _ROUNDING)
    steps = [p.figure for p in rounded if abs(p.figure) < 1]
    for before in totals:
        for after in totals + rounded:
            if before.figure and after.figure not in steps and (
                    after in rounded or after.box[1] > before.box[1]) and any(
                    after.figure in (before.figure + r, before.figure - abs(r)) != before.figure
                    for r in steps):  # a rounding down printed without its sign too
                return after
    final = [p for p in totals if _FINAL.search(_key(p.label))]
    return final[-1] if final else None


def net_of_tax(place: Place, labels: list[tuple[str, str, Box]]) -> bool:
    """Whether a "net" total is the amount before tax (as in Europe: "Net Total 5.33" under a
    subtotal of 6.40) rather than the net amount to pay (as in Malaysia: "NET TOTAL 60.30"
    after a rounding): a printed tax takes it to another printed amount, or a tax rate printed
    with the gross amount does ("VAT 20%  6.40")."""
    if not re.search(r"\bnett?\b", _key(place.label)):
        return False
    figures = [(_key(label), cell_number(text)) for label, text, _ in labels]
    taxes = [x for key, x in figures if x and TAX.search(key) and not _WITH_TAX.search(key)]
    rated = [(Decimal(rate), x) for key, x in figures if x and TAX.search(key)
             for rate in re.findall(r"\b(\d{1,2}(?:\.\d+)?) ?%?$", key)]  # "VAT 20   6.40"
    return any(x == place.figure + tax for _, x in figures for tax in taxes) or any(
        0 < rate <= 30 and abs(place.figure * (1 + rate / 100) - x) <= Decimal("0.01")
        for rate, x in rated)


def places_at(labels: list[tuple[str, str, Box]], pattern: re.Pattern[str]) -> list[Place]:
    """The figures printed at labels that match ``pattern``."""
    return [Place(label, text, box, figure) for label, text, box in labels
            if pattern.search(_key(label)) and (figure := cell_number(text)) is not None]


def charged_after(place: Place, labels: list[tuple[str, str, Box]]) -> bool:
    """Whether the page prints a tax, charge or discount below ``place`` (a subtotal) that is
    not said to be included in it (nor a number such as "TAX INVOICE NO. 223894"); a rate
    with an amount ("Food - Bulk 6.625%  0.44") is one."""
    for label, text, box in labels:
        key, figure = _key(label), cell_number(text)
        if box[1] > place.box[1] and figure and re.search(r"\d[.,]\d\d", text) and (
                TAX.search(key) or re.search(r"serv|charge|disc|tip", key) or re.search(
                    r"\d%", label)) and not re.search(
                r"incl|\binc\b|includ|invoice|\bno\b|number|\bid\b", key):
            return True
    return False


def payable_explained(number: Decimal, totals: list[Place], others: list[Place],
                      extras: list[tuple[str, Decimal]], rounds: bool) -> str | None:
    """How the page's own figures make ``number`` the amount payable where the totals it
    prints read otherwise: a net total or subtotal plus the printed taxes and charges (a "NET
    TOTAL" before tax), a total rounded to 0.05 where the page prints a rounding (cash
    rounding), or the card payment of a page that prints no total. None when they do not."""
    bases = totals + [p for p in others if re.search(r"sub|sous|net", _key(p.label))]
    if any(b.figure == number and re.search(r"sub|sous", _key(b.label)) for b in bases) and any(
            _CARD.search(_key(p.label)) or re.search(r"payment|paid", _key(p.label))
            for p in others if p.figure == number):
        return "printed as the subtotal and as the payment"
    for base in bases:
        for n in range(1, 1 << min(len(extras), 6)):
            used = [e for k, e in enumerate(extras) if n >> k & 1]
            if base.figure + sum(x for _, x in used) == number:
                return f"'{base.label}' {base.text} + " + " + ".join(
                    f"'{label}' {x}" for label, x in used)
    if rounds and number % Decimal("0.05") == 0 and any(
            abs(p.figure - number) < Decimal("0.05") for p in totals[-1:]):
        return f"the total '{totals[-1].label}' {totals[-1].text}, rounded to 0.05"
    if not totals and any((_CARD.search(key := _key(p.label)) or re.search(
            r"payment|paid", key)) and not re.search(r"excl|before|without|w/o", key)
            and p.figure == number for p in others):
        return "the payment (by card, or paid); no total is read on the page"
    return None


@dataclass(frozen=True)
class Amounts:
    """A page's printed amounts, read once: its totals (top to bottom), the amounts at labels
    that name something else, and the amount payable where the page tells it."""

    totals: list[Place]
    others: list[Place]
    final: Place | None

    @classmethod
    def of(cls, labels: list[tuple[str, str, Box]]) -> Amounts:
        totals, others = places(labels)
        net = [p for p in totals if net_of_tax(p, labels)]  # a total before tax, as a subtotal
        totals = [p for p in totals if p not in net]
        return cls(totals, others + net, payable(totals, labels))

    def printed(self) -> tuple[tuple[str, Decimal] | None, tuple[str, Decimal] | None]:
        """The page's subtotal and amount payable (label, figure), where it prints them."""
        sub = next((p for p in self.others if re.search(r"(sub|sous) ?-? ?total", _key(
            p.label))), None)
        total = self.final or (self.totals[-1] if self.totals else None)
        return ((sub.label, sub.figure) if sub else None,
                (total.label, total.figure) if total else None)
