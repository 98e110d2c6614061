"""How many injected errors the verifier catches, and how many correct values it flags.

Renders statements, receipts, invoices and ruled tables (tests/render.py) with scan-like
degradation, reads each once with the local engine, then checks the true data and copies with
one injected error each: a changed digit, swapped digits, a dropped or added minus sign, a
shifted decimal point, an invented row, a wrong total, a wrong date, day and month swapped,
two numbers of a row swapped between columns.
Each document's data is checked twice: as printed (strings copied from the page) and typed
the way a model's JSON answer usually is (numbers as numbers, ISO dates, debits negative).

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
from render import data_of, typed  # noqa: E402,F401  (the tests' too)

from pixelproof import ocr  # noqa: E402
from pixelproof.verify import verify  # noqa: E402


def scan(im):
    """A phone scan: slightly turned, smaller, grainy, compressed."""
    return render.jpeg(render.noise(render.scale(render.rotate(im, 1.5), 0.7), 10), 50)


DEGRADE = [("clean", lambda im: im), ("jpeg 40", lambda im: render.jpeg(im, 40)),
           ("scaled 60%", lambda im: render.scale(im, 0.6)),
           ("rotated 1deg", lambda im: render.rotate(im, 1)), ("blurred", render.blur),
           ("inverted", render.invert), ("noisy", render.noise), ("scan", scan)]


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
    elif kind == "day/month swapped":
        dates = [p for p in ([f"rows[{n}].date" for n in range(len(data["rows"]))] if "date" in
                             data["rows"][0] else ["date", "due date"])
                 if p in data or p.startswith("rows")]
        dates = [p for p in dates if get(data, p)[:2] != get(data, p)[3:5] and
                 int(get(data, p)[:2]) <= 12]
        if not dates:
            return None
        path = rnd.choice(dates)
        value = get(data, path)
        new = value[3:5] + value[2] + value[:2] + value[5:]
    elif kind == "column swap":
        n = rnd.randrange(len(data["rows"]))
        row = bad["rows"][n]
        numeric = [k for k, v in row.items() if v is None or re.fullmatch(r"-?[\d,.]+", v)]
        pairs = [(a, b) for a in numeric for b in numeric if a < b and row[a] != row[b]]
        if not pairs:
            return None
        a, b = rnd.choice(pairs)
        row[a], row[b] = row[b], row[a]
        return bad, f"rows[{n}].{a}|rows[{n}].{b}", f"column swap: rows[{n}] {a} <-> {b}"
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
    if "|" in path:
        return any(caught(report, p) for p in path.split("|"))
    if path == "rows":
        return any(c.path.startswith("rows[") for c in report.flagged) or any(
            not a.ok for a in report.arithmetic)
    flagged = any(c.path == path and c.status != "verified" for c in report.checks)
    return flagged or any(not a.ok and path in a.paths for a in report.arithmetic)


KINDS = ["changed digit", "swapped digits", "sign", "shifted decimal", "wrong total",
         "wrong date", "day/month swapped", "column swap", "invented row"]


def main(documents: int = 40) -> None:
    rnd = random.Random(0)
    makers = [("statement", render.statement), ("receipt", render.receipt),
              ("invoice", render.invoice), ("grid", render.grid)]
    forms = {"as printed": lambda d: d, "typed": typed}
    injected = {f: 0 for f in forms}
    missed = {f: 0 for f in forms}
    values = {f: 0 for f in forms}
    false_flags = {f: 0 for f in forms}
    by_kind: dict[str, list[int]] = {k: [0, 0] for k in KINDS}
    ocr_seconds = verify_seconds = 0.0
    misses = []
    for n in range(documents):
        kind, make = makers[n % len(makers)]
        label, degrade = DEGRADE[n // len(makers) % len(DEGRADE)]
        doc = make(seed=100 + n)
        start = time.perf_counter()
        page = ocr.read(degrade(doc.image))
        ocr_seconds += time.perf_counter() - start
        start = time.perf_counter()
        truth = data_of(kind, doc)
        for form, shape in forms.items():
            report = verify(None, shape(truth), ocr=page)
            values[form] += len(report.checks)
            false_flags[form] += len(report.flagged) + sum(not a.ok for a in report.arithmetic)
            for check in report.flagged:
                misses.append(f"false flag ({kind}, {label}, {form}): {check}")
            for error in KINDS:
                got = inject(error, truth, rnd)
                if got is None:
                    continue
                bad, path, what = got
                injected[form] += 1
                by_kind[error][0] += 1
                if not caught(verify(None, shape(bad), ocr=page), path):
                    missed[form] += 1
                    by_kind[error][1] += 1
                    misses.append(f"missed ({kind}, {label}, {form}): {what}")
        verify_seconds += time.perf_counter() - start
    print(f"documents: {documents} ({', '.join(k for k, _ in makers)}; "
          f"{', '.join(k for k, _ in DEGRADE)})")
    for form in forms:
        caught_ = injected[form] - missed[form]
        print(f"{form}: injected errors {injected[form]}, caught {caught_} = "
              f"{100 * caught_ / injected[form]:.1f}%; correct values {values[form]}, wrongly "
              f"flagged {false_flags[form]} = {100 * false_flags[form] / values[form]:.2f}%")
    total, lost = sum(injected.values()), sum(missed.values())
    print(f"all: caught {total - lost}/{total} = {100 * (total - lost) / total:.1f}% "
          f"(target >= 97%); wrongly flagged {sum(false_flags.values())}/{sum(values.values())} "
          f"= {100 * sum(false_flags.values()) / sum(values.values()):.2f}% (target <= 1%)")
    for kind, (k, m) in by_kind.items():
        print(f"  {kind:18} {k - m}/{k}")
    print(f"time: OCR {ocr_seconds / documents:.2f} s per document; verification "
          f"{1000 * verify_seconds / documents / (len(forms) * (len(KINDS) + 1)):.0f} ms "
          f"per check of a document's data")
    for line in misses[:20]:
        print("  " + line)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
