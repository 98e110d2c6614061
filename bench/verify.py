"""How many injected errors the verifier catches, and how many correct values it flags.

Renders statements, receipts, invoices and ruled tables (tests/render.py) with scan-like
degradation, reads each once with the local engine, then checks the true data and copies with
one injected error each: a changed digit, swapped digits, a dropped or added minus sign, a
shifted decimal point, an invented row, a wrong total, a wrong date.

    python bench/verify.py [documents]
"""

from __future__ import annotations

import copy
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
import render  # noqa: E402

from pixelproof import ocr  # noqa: E402
from pixelproof.verify import verify  # noqa: E402

DEGRADE = [("clean", lambda im: im), ("jpeg 40", lambda im: render.jpeg(im, 40)),
           ("scaled 60%", lambda im: render.scale(im, 0.6)),
           ("rotated 1deg", lambda im: render.rotate(im, 1)), ("blurred", render.blur)]


def data_of(kind: str, doc: render.Doc) -> dict:
    keys = {"statement": ["date", "description", "debit", "credit", "balance"],
            "receipt": ["item", "qty", "price", "amount"],
            "invoice": ["description", "quantity", "unit price", "amount"],
            "grid": ["region", "units", "revenue"]}[kind]
    rows = [{k: (v or None) for k, v in zip(keys, row, strict=True)} for row in doc.rows]
    return {"rows": rows, **{k.lower(): v for k, v in doc.values.items()}}


def numeric_paths(data: dict) -> list[str]:
    out = [f"rows[{n}].{k}" for n, r in enumerate(data["rows"]) for k, v in r.items()
           if v and re.fullmatch(r"-?[\d,]+(\.\d+)?", v)]
    return out + [k for k, v in data.items() if isinstance(v, str)
                  and re.fullmatch(r"-?[\d,]+\.\d\d", v)]


def get(data: dict, path: str) -> str:
    m = re.fullmatch(r"rows\[(\d+)\]\.(.+)", path)
    return data["rows"][int(m[1])][m[2]] if m else data[path]


def put(data: dict, path: str, value: str) -> None:
    m = re.fullmatch(r"rows\[(\d+)\]\.(.+)", path)
    if m:
        data["rows"][int(m[1])][m[2]] = value
    else:
        data[path] = value


def inject(kind: str, data: dict, rnd: random.Random) -> tuple[dict, str, str] | None:
    """A copy of ``data`` with one error of ``kind``: (data, path, description)."""
    bad = copy.deepcopy(data)
    paths = numeric_paths(data)
    path = rnd.choice(paths)
    value = get(data, path)
    digits = [i for i, c in enumerate(value) if c.isdigit()]
    if kind == "changed digit":
        i = rnd.choice(digits)
        new = value[:i] + str((int(value[i]) + rnd.randint(1, 9)) % 10) + value[i + 1:]
    elif kind == "swapped digits":
        pairs = [i for i in digits if i + 1 in digits and value[i] != value[i + 1]]
        if not pairs:
            return None
        i = rnd.choice(pairs)
        new = value[:i] + value[i + 1] + value[i] + value[i + 2:]
    elif kind == "sign":
        new = value[1:] if value.startswith("-") else "-" + value
    elif kind == "shifted decimal":
        plain = value.replace(",", "")
        if "." not in plain:
            return None
        i = plain.index(".")
        new = plain[:i - 1] + "." + plain[i - 1] + plain[i + 1:] if i > 1 else \
            plain[:i] + plain[i + 1] + "." + plain[i + 2:]
    elif kind == "wrong total":
        path = next((k for k in ("total", "closing balance", "revenue total", "units total")
                     if k in data), None)
        if path is None:
            return None
        value = data[path]
        new = f"{float(value.replace(',', '')) + rnd.choice([1, 10, 0.1, 100]):,.2f}"
    elif kind == "wrong date":
        dates = [f"rows[{n}].date" for n in range(len(data["rows"]))] if "date" in \
            data["rows"][0] else [k for k in ("date", "due date") if k in data]
        if not dates:
            return None
        path = rnd.choice(dates)
        value = get(data, path)
        day = int(value[:2])
        new = f"{(day % 27) + 1:02d}" + value[2:]
    elif kind == "invented row":
        row = copy.deepcopy(rnd.choice(data["rows"]))
        for k, v in row.items():
            if v and re.fullmatch(r"-?[\d,]+\.\d\d", v):
                row[k] = f"{rnd.randint(100, 99999) / 100:,.2f}"
        bad["rows"].insert(rnd.randint(0, len(bad["rows"])), row)
        return bad, "rows", "invented row"
    else:
        raise ValueError(kind)
    if new == value:
        return None
    put(bad, path, new)
    return bad, path, f"{kind}: {path} {value} -> {new}"


def caught(report, path: str) -> bool:
    if path == "rows":
        return any(c.path.startswith("rows[") for c in report.flagged) or any(
            not a.ok for a in report.arithmetic)
    flagged = any(c.path == path and c.status != "verified" for c in report.checks)
    return flagged or any(not a.ok and path in a.paths for a in report.arithmetic)


KINDS = ["changed digit", "swapped digits", "sign", "shifted decimal", "wrong total",
         "wrong date", "invented row"]


def main(documents: int = 40) -> None:
    rnd = random.Random(0)
    makers = [("statement", render.statement), ("receipt", render.receipt),
              ("invoice", render.invoice), ("grid", render.grid)]
    injected = missed = values = false_flags = 0
    by_kind: dict[str, list[int]] = {k: [0, 0] for k in KINDS}
    start = time.perf_counter()
    misses = []
    for n in range(documents):
        kind, make = makers[n % len(makers)]
        label, degrade = DEGRADE[n % len(DEGRADE)]
        doc = make(seed=100 + n)
        page = ocr.read(degrade(doc.image))
        truth = data_of(kind, doc)
        report = verify(None, truth, ocr=page)
        values += len(report.checks)
        false_flags += len(report.flagged)
        for check in report.flagged:
            misses.append(f"false flag ({kind}, {label}): {check}")
        for error in KINDS:
            got = inject(error, truth, rnd)
            if got is None:
                continue
            bad, path, what = got
            injected += 1
            by_kind[error][0] += 1
            if not caught(verify(None, bad, ocr=page), path):
                missed += 1
                by_kind[error][1] += 1
                misses.append(f"missed ({kind}, {label}): {what}")
    seconds = time.perf_counter() - start
    print(f"documents: {documents} ({', '.join(k for k, _ in makers)}; "
          f"{', '.join(k for k, _ in DEGRADE)})")
    print(f"injected errors: {injected}, caught {injected - missed} "
          f"= {100 * (injected - missed) / injected:.1f}%  (target >= 97%)")
    for kind, (n, m) in by_kind.items():
        print(f"  {kind:16} {n - m}/{n}")
    print(f"correct values: {values}, wrongly flagged {false_flags} "
          f"= {100 * false_flags / values:.2f}%  (target <= 1%)")
    print(f"time: {seconds:.1f} s ({seconds / documents:.2f} s per document, OCR included)")
    for line in misses[:15]:
        print("  " + line)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
