"""The document's own arithmetic: quantity x price = amount, lines against the subtotal or
total, subtotal + taxes and charges = total, running balances and total rows."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal
from typing import Any

from .. import tables
from .page import cell_number, mostly_negative, num, text_key
from .report import Arithmetic, Box
from .walk import leaves, plain, row_lists


def _field(row: dict[str, Any], *patterns: str) -> str | None:
    for pattern in patterns:
        for key in row:
            if re.search(pattern, text_key(str(key))):
                return str(key)
    return None


def arithmetic(data: Any) -> list[Arithmetic]:
    """The document's own sums: quantity x price = amount per line, the lines against the
    subtotal or total, subtotal + tax = total, running balances and total rows. Rows of
    several tables in one list (a ``table`` column) are taken table by table; a key/value
    table supplies labelled totals like top-level fields do."""
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
    return [check for path, members in tables for check in _row_checks(path, members, scalars)
            ] + _totals(scalars)


def _row_checks(path: str, indexed: list[tuple[int, dict[str, Any]]],
                scalars: dict[str, tuple[str, Any]]) -> list[Arithmetic]:
    out: list[Arithmetic] = []
    rows = [r for _, r in indexed]
    at = [f"{path}[{i}]" for i, _ in indexed]
    first = rows[0]
    qty = _field(first, r"^q(ty|uantity)|units?$")
    price = _field(first, r"price|rate|unit")
    amount = _field(first, r"amount|line total|^total$|value")
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
                out.append(_sum_check(f"{col} column total", sum(values, Decimal(0)), total,
                                      [f"{a}.{col}" for a in at]))
    if qty and price and amount:
        for n, r in enumerate(body):
            q, p, a = num(r.get(qty)), num(r.get(price)), num(r.get(amount))
            if None not in (q, p, a):
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
    if amount and not balance:
        lines = [num(r.get(amount)) for r in body]
        label_col = next((k for k in first if isinstance(first[k], str) and k != amount), None)
        lines = [-abs(n) if n is not None and label_col and _LESS.search(str(
            r.get(label_col, ""))) else n for n, r in zip(lines, body, strict=True)]
        subtotal = _scalar(scalars, _SUBTOTAL)
        total = _scalar(scalars, _TOTAL)
        extras = _extras(scalars)
        if None not in lines and lines and (subtotal or total):
            paths = [f"{a}.{amount}" for a in at[:len(body)]]
            if subtotal:
                out.append(_sum_check(f"{amount} lines = {scalars[subtotal[0]][0]}",
                                      sum(lines, Decimal(0)), subtotal[1],
                                      [subtotal[0], *paths]))
            elif total:
                names = " + ".join([f"{amount} lines"] + [scalars[p][0] for p, _ in extras])
                out.append(_sum_check(f"{names} = {scalars[total[0]][0]}", sum(
                    lines + [x for _, x in extras], Decimal(0)), total[1],
                    [total[0], *paths, *(p for p, _ in extras)]))
    return out


_SUBTOTAL = r"sub ?total"


_TOTAL = r"^(grand )?total( amount| due| payable| paid)?$|amount due|balance due"


_LESS = re.compile(r"discount|coupon|promo|saving|less\b|off\b|rebate|voucher", re.I)


EXTRA = re.compile(r"tax|vat|gst|sst|hst|service|tip|gratuity|rounding|round|discount|coupon|"
                    r"saving|voucher|rebate|deposit")


def _extras(scalars: dict[str, tuple[str, Any]]) -> list[tuple[str, Decimal]]:
    """The labelled figures between a subtotal and its total, each with the sign it adds
    with: taxes, service, tips and rounding as printed, discounts taken off."""
    out = []
    for path, (name, value) in scalars.items():
        key, number = text_key(name), num(value)
        if number is not None and EXTRA.search(key) and not re.search(
                r"rate|percent|%|sub ?total|^(grand )?total", key):
            out.append((path, -abs(number) if _LESS.search(key) else number))
    return out


def _totals(scalars: dict[str, tuple[str, Any]]) -> list[Arithmetic]:
    """subtotal + taxes and charges - discounts (+ rounding) = total, from labelled figures."""
    subtotal, total, extras = _scalar(scalars, _SUBTOTAL), _scalar(scalars, _TOTAL), _extras(
        scalars)
    if not (subtotal and total and extras):
        return []
    names = " + ".join(["subtotal"] + [text_key(scalars[p][0]) for p, _ in extras])
    return [_sum_check(f"{names} = total", subtotal[1] + sum(x for _, x in extras), total[1],
                       [subtotal[0], *(p for p, _ in extras), total[0]])]


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


def explained(sum_: Arithmetic, labels: list[tuple[str, str, Box]]) -> Arithmetic:
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
