"""The document's own arithmetic: quantity x price = amount, lines against the subtotal or
total, subtotal + taxes and charges = total, running balances and total rows."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from .. import tables
from .page import cell_number, mostly_negative, num, text_key
from .report import Arithmetic, Box
from .totals import TAX
from .walk import leaves, plain, row_lists

QUANTITY = r"^(q(ty|uantity)|count|units?|pcs|no of items)$"  # the line-item keys models use
PRICE = r"price|^rate$|unit|each|cost"


def _field(row: dict[str, Any], *patterns: str) -> str | None:
    for pattern in patterns:
        for key in row:
            if re.search(pattern, text_key(str(key))):
                return str(key)
    return None


# The page's printed subtotal and total, (label, figure) each, where it prints them.
PageTotals = tuple[tuple[str, Decimal] | None, tuple[str, Decimal] | None]


def arithmetic(data: Any) -> list[Arithmetic]:
    """The document's own sums (see ``sums``)."""
    return sums(data)[0]


def sums(data: Any, printed: Sequence[tuple[str, Decimal]] = (),
         page_totals: PageTotals = (None, None)
         ) -> tuple[list[Arithmetic], list[str]]:
    """The document's own sums: quantity x price = amount per line, the lines against the
    subtotal or total, subtotal + tax = total, running balances and total rows; and, for
    sums that could not be set up, why. Rows of several tables in one list (a ``table``
    column) are taken table by table; a key/value table supplies labelled totals like
    top-level fields do. ``printed``: the page's labelled taxes, charges, discounts and
    rounding, which an answer may leave out of its data; ``page_totals``: its printed
    subtotal and total (label, figure), which line items are added up to when the data gives
    neither."""
    data = plain(data)
    scalars = {p: (name, v) for p, name, v in leaves(data) if not re.search(r"\[\d+\]", p)}
    tables: list[tuple[str, list[tuple[int, dict[str, Any]]]]] = []
    for path, rows in row_lists(data):
        groups: dict[Any, list[tuple[int, dict[str, Any]]]] = {}
        for i, row in enumerate(rows):
            groups.setdefault(row.get("table"), []).append((i, row))
        for members in groups.values():
            if {"key", "value"} <= set(members[0][1]):
                scalars.update({f"{path}[{i}].value": (str(r["key"]), r["value"])
                                for i, r in members})
            else:
                tables.append((path, members))
    notes: list[str] = []
    out = [check for path, members in tables
           for check in _row_checks(path, members, scalars, printed, page_totals, notes)]
    return out + _totals(scalars, printed), notes


def _row_checks(path: str, indexed: list[tuple[int, dict[str, Any]]],
                scalars: dict[str, tuple[str, Any]], printed: Sequence[tuple[str, Decimal]],
                page_totals: PageTotals, notes: list[str]) -> list[Arithmetic]:
    out: list[Arithmetic] = []
    rows = [r for _, r in indexed]
    at = [f"{path}[{i}]" for i, _ in indexed]
    first = {k: v for r in rows for k, v in r.items()}  # every key, as the rows give them
    qty = _field(first, QUANTITY)
    price = _field({k: v for k, v in first.items() if k != qty}, PRICE)
    amount = _field(first, r"amount|line total|^total$|value|line price|^sum$")
    if amount == price:
        amount = None
    balance = _field(first, r"balance")
    debit = _field(first, r"debit|withdraw|paid out")
    credit = _field(first, r"credit|deposit|paid in")
    body = rows
    label_col = next((k for k in first if k != "table"), None)
    if label_col and str(rows[-1].get(label_col, "")).strip().lower().startswith("total"):
        body = rows[:-1]
        for col in first:
            values = [num(r.get(col)) for r in body]
            total = num(rows[-1].get(col))
            if col not in (label_col, "table") and total is not None and None not in values:
                out.append(_sum_check(f"{col} column total", sum(
                    (v for v in values if v is not None), Decimal(0)), total,
                                      [f"{a}.{col}" for a in at]))
    if qty and price and amount:
        for n, r in enumerate(body):
            q, p, a = num(r.get(qty)), num(r.get(price)), num(r.get(amount))
            if q is not None and p is not None and a is not None:
                out.append(_sum_check(f"line {n + 1}: {qty} x {price} = {amount}", q * p, a,
                                      [f"{at[n]}.{k}" for k in (qty, price, amount)]))
    if balance:
        # debits taken off whether written 12.00 or -12.00, as long as the column is consistent
        out_sign = 1 if debit and mostly_negative([r.get(debit) for r in body]) else -1
        in_sign = -1 if credit and mostly_negative([r.get(credit) for r in body]) else 1
        before = _scalar(scalars, r"opening|brought forward|previous balance|start")
        for n, row in enumerate(body):
            cur = num(row.get(balance))
            if before is not None and cur is not None:
                if debit or credit:
                    d = num(row.get(debit)) if debit else None
                    c = num(row.get(credit)) if credit else None
                    expected = before[1] + (d or 0) * out_sign + (c or 0) * in_sign
                    used = [k for k in (debit, credit) if k and row.get(k) not in (None, "")]
                elif amount and (a := num(row.get(amount))) is not None:
                    expected, used = before[1] + a, [amount]
                else:
                    used = None
                if used is not None:
                    out.append(_sum_check(f"running balance, row {n + 1}", expected, cur,
                                          [before[0]] + [f"{at[n]}.{k}" for k in used +
                                                         [balance]]))
            before = None if cur is None else (f"{at[n]}.{balance}", cur)
        closing = _scalar(scalars, r"closing|carried forward|ending balance|new balance")
        if closing and before:
            out.append(_sum_check("last balance = closing balance", before[1], closing[1],
                                  [before[0], closing[0]]))
    if (amount or price) and not balance:
        out += _lines_sum(path, body, at[:len(body)], (qty, price, amount), scalars if len(
            body) < len(rows) else _with_page(scalars, page_totals), printed, notes)
    return out


def _with_page(scalars: dict[str, tuple[str, Any]], page_totals: PageTotals
               ) -> dict[str, tuple[str, Any]]:
    """``scalars``, with the page's printed subtotal and total where the data gives neither
    (their paths "page: LABEL")."""
    if _scalar(scalars, _SUBTOTAL) or _scalar(scalars, _TOTAL):
        return scalars
    named = zip(("subtotal", "total"), page_totals, strict=True)
    return {**scalars, **{f"page: {place[0]}": (f"{name} (printed)", place[1])
                          for name, place in named if place is not None}}


def _lines_sum(path: str, body: list[dict[str, Any]], at: list[str],
               columns: tuple[str | None, str | None, str | None],
               scalars: dict[str, tuple[str, Any]], printed: Sequence[tuple[str, Decimal]],
               notes: list[str]) -> list[Arithmetic]:
    """The line amounts against the subtotal, else against the total with the taxes, charges,
    discounts and rounding that the answer or the page gives (prices that include the tax add
    up to the total alone). A price beside a quantity, with no amount, is the unit price or
    the line's amount: whichever the sum bears out (the line's amount when neither does)."""
    qty, price, amount = columns
    label = next((k for r in body for k, v in r.items() if isinstance(v, str) and k not in (
        amount, price, qty)), None)
    column = amount or price
    assert column is not None
    given = [num(r.get(column)) for r in body]
    if None in given:
        n = given.index(None)
        notes.append(f"{path}: the lines are not added up: {at[n]} has no {column}")
        return []
    figures = [x for x in given if x is not None]
    less = [bool(label and _LESS.search(str(r.get(label, "")))) for r in body]
    counts = [num(r.get(qty)) if qty else None for r in body]
    ways = [(figures, f"{column} lines", [f"{a}.{column}" for a in at])]
    if not amount and qty and any(q not in (None, 1) for q in counts):
        ways.append(([p * (Decimal(1) if q is None else q)
                      for p, q in zip(figures, counts, strict=True)],
                     f"{qty} x {price} lines", [f"{a}.{k}" for a in at for k in (qty, price)]))
    subtotal, total = _scalar(scalars, _SUBTOTAL), _scalar(scalars, _TOTAL)
    if not (subtotal or total):
        notes.append(f"{path}: the lines are not added up: neither the data nor the page gives "
                     "a subtotal or total")
        return []
    extras = _extras(scalars)
    known = {x for _, x in extras}
    extras += [(f"page: {label}", x) for label, x in printed if x not in known]
    tries = []
    for values, name, paths in ways:
        lines = sum((-abs(x) if neg else x for x, neg in zip(values, less, strict=True)),
                    Decimal(0))
        if subtotal:
            tries.append(_sum_check(f"{name} = {scalars[subtotal[0]][0]}", lines, subtotal[1],
                                    [p for p in (subtotal[0], *paths) if p[:6] != "page: "]))
            if discounts := [x for p, x in extras if x < 0 and p.startswith("page: ")]:
                tries.append(_sum_check(  # discounts printed among the lines, left out
                    f"{name} + discounts (printed) = {scalars[subtotal[0]][0]}",
                    lines + sum(discounts, Decimal(0)), subtotal[1], [subtotal[0], *paths]))
        if total:
            tries.append(_adds_up(name, lines, paths, extras, total, scalars))
    return [next((a for a in tries if a.ok), tries[0])]


def _adds_up(name: str, lines: Decimal, paths: list[str], extras: list[tuple[str, Decimal]],
             total: tuple[str, Decimal], scalars: dict[str, tuple[str, Any]],
             keyed: bool = False) -> Arithmetic:
    """``lines`` plus the extras that make up ``total`` (all of them when none do); names as
    the data gives them, or as text keys when ``keyed``."""
    def named(path: str) -> str:
        if path.startswith("page: "):
            return path.removeprefix("page: ") + " (printed)"
        return text_key(scalars[path][0]) if keyed else scalars[path][0]

    for used in _subsets(extras, scalars):
        if abs(lines + sum((x for _, x in used), Decimal(0)) - total[1]) <= Decimal("0.011"):
            break
    else:
        used = [e for e in extras if not e[0].startswith("page: ")]
    left = [e for e in extras if e not in used and not e[0].startswith("page: ")]
    note = ("the prices include " + ", ".join(named(p) for p, _ in left)) if left else ""
    names = " + ".join([name] + [named(p) for p, _ in used])
    check = _sum_check(f"{names} = {'total' if keyed else scalars[total[0]][0]}", lines + sum(
        (x for _, x in used), Decimal(0)), total[1], [p for p in (total[0], *paths, *(
            p for p, _ in used)) if not p.startswith("page: ")])
    return replace(check, note=note) if check.ok else check


def _subsets(extras: list[tuple[str, Decimal]], scalars: dict[str, tuple[str, Any]]
             ) -> list[list[tuple[str, Decimal]]]:
    """The choices of extras (of at most eight) a total may be made of, biggest first: each
    that the answer gives, except a tax (prices that include it), and any the page prints."""
    def optional(path: str) -> bool:
        return path.startswith("page: ") or bool(TAX.search(text_key(scalars[path][0])))

    extras = extras[:8]
    choices = [[e for k, e in enumerate(extras) if mask >> k & 1]
               for mask in range(1 << len(extras))]
    return sorted((c for c in choices if all(e in c or optional(e[0]) for e in extras)),
                  key=lambda c: (-sum(not p.startswith("page: ") for p, _ in c), -len(c)))


_SUBTOTAL = r"sub ?total"
_TOTAL = (r"^(grand |net |final |rounded )?total( amount| due| payable| paid| price)?$|"
          r"amount (due|payable|paid)|balance due|total amt payable|^total printed$|"
          r"^(rounded|adjusted) total$|^total after \w+$")
_LESS = re.compile(r"discount|coupon|\bcpn\b|promo|saving|less\b|off\b|rebate|voucher", re.I)
EXTRA = re.compile(r"tax|vat|gst|sst|hst|service|tip|gratuity|rounding|round|discount|coupon|"
                   r"saving|voucher|rebate|deposit|adj")


def _extras(scalars: dict[str, tuple[str, Any]]) -> list[tuple[str, Decimal]]:
    """The labelled figures between a subtotal and its total, each with the sign it adds
    with: taxes, service, tips and rounding as printed, discounts taken off."""
    out = []
    for path, (name, value) in scalars.items():
        key, number = text_key(name), num(value)
        if number is not None and extra(key):
            out.append((path, -abs(number) if _LESS.search(key) else number))
    return out


def extra(label: str) -> bool:
    """Whether ``label`` names a figure between a subtotal and its total ("GST", "Rounding",
    "total_tax"; not "rounded_total", "tax_rate" or "GST ID")."""
    key = text_key(label)
    if not EXTRA.search(key) or re.search(r"rate|percent|%|sub ?total|\b(id|no|reg|summary)\b",
                                          key):
        return False
    return "total" not in key or bool(re.search(r"tax|vat|gst|sst|hst|disc|service|tip", key)
                                      ) and not re.search(r"incl|after|with|grand|net", key)


def _totals(scalars: dict[str, tuple[str, Any]], printed: Sequence[tuple[str, Decimal]]
            ) -> list[Arithmetic]:
    """subtotal + taxes and charges - discounts (+ rounding) = total, from labelled figures
    (those the page prints as well, when the answer leaves them out)."""
    subtotal, total, extras = _scalar(scalars, _SUBTOTAL), _scalar(scalars, _TOTAL), _extras(
        scalars)
    if not (subtotal and total and extras):
        return []
    known = {x for _, x in extras}
    extras += [(f"page: {label}", x) for label, x in printed if x not in known]
    return [_adds_up("subtotal", subtotal[1], [subtotal[0]], extras, total, scalars, True)]


def _scalar(scalars: dict[str, tuple[str, Any]], pattern: str) -> tuple[str, Decimal] | None:
    """The first labelled number whose label matches ``pattern``: (its path, its value)."""
    for path, (name, value) in scalars.items():
        number = num(value)
        if number is not None and re.search(pattern, text_key(name)):
            return path, number
    return None


def _sum_check(name: str, expected: Decimal, found: Decimal, paths: list[str]) -> Arithmetic:
    return Arithmetic(name, abs(expected - found) <= Decimal("0.011"), f"{expected:,.2f}",
                      f"{found:,.2f}", tuple(paths))


def printed_extras(labels: list[tuple[str, str, Box]]) -> list[tuple[str, Decimal]]:
    """The taxes, charges, discounts and rounding the page prints as money, once each, with
    the sign they add with; and any other amount printed negative ("CPN/CHEVRON 9.00-")."""
    out: dict[tuple[str, Decimal, Box | None], None] = {}
    for label, text, box in labels:
        figure = cell_number(text)
        if figure is None or figure == 0 or not re.search(r"\d[.,]\d\d(?!\d)", text) or \
                tables.fits("subtotal", label):
            continue
        if extra(re.sub(r"\d+(\.\d+)? ?%", "", label)):
            out[(label, -abs(figure) if _LESS.search(label) else figure, None)] = None
        elif figure < 0 and not re.search(r"total|change|balance|cash|tender|paid|due", label,
                                          re.I):  # each printed, as "ITEM PROMO -5.40" twice
            out[(label, figure, box)] = None
    return [(label, figure) for label, figure, _ in out]


def column_total_explained(sum_: Arithmetic, labels: list[tuple[str, str, Box]]) -> Arithmetic:
    """A column total that failed because the printed total holds tax the answer left out: it
    passes when the page prints the lines' sum as a subtotal and taxes or charges that make up
    the difference."""
    if sum_.ok or "column total" not in sum_.name:
        return sum_
    expected, found = (Decimal(x.replace(",", "")) for x in (sum_.expected, sum_.found))
    figures = [(label, cell_number(text)) for label, text, _ in labels]
    subtotal = [x for label, x in figures if tables.fits("subtotal", label) and x == expected]
    extras = [(label, x) for label, x in figures if x is not None and EXTRA.search(
        text_key(label)) and not tables.fits("subtotal", label)]
    if subtotal and extras and abs(expected + sum(x for _, x in extras) - found) <= Decimal(
            "0.011"):
        printed = ", ".join(f"{label} {x}" for label, x in extras)
        return replace(sum_, ok=True, note=f"the page prints the lines' sum as the subtotal, "
                       f"and {printed} make up the total")
    return sum_
