"""Verification of answers written the ways real vision models write them, on real receipts.

On both real dev sets of ../shared/data (SROIE: 120 Malaysian scans with company, date, address
and total; WildReceipt: 120 photos, mostly American, with items, subtotal and tax labelled),
each receipt's true values are written as a model would answer: one of several key conventions
("company"/"store_name"/"merchant", "items" rows of {description, quantity, price},
{name, qty, unit_price, amount} or {item, count, line_total}), the price as the unit price or as
the line's amount, the date as ISO or as printed, the total as a number or "RM 57.80". Then
one error at a time, as real models make them: a misread digit of the total, the cash tendered,
the subtotal or the pre-rounding total given as the total, day and month swapped, a digit of the
address misread, an abbreviation completed from general knowledge ("JLN" -> "JALAN"), a
word of the name replaced, an item's price misread, an invented line.

It reports errors caught by kind, correct values flagged by field, line-item values flagged,
sums run on itemised answers and how many of those failed (every answer's total is right), and
the calibration: P(right | verified) and P(wrong | contradicted) per field (answers: one correct
and one per error kind, so the error share is about a third), with the worst cases; and draws
that calibration as docs/calibration.png.

    python bench/answers.py [receipts per set] [cases listed] [sroie|wildreceipt] [--look]

With --look the image is given too, so flagged values get their second look (an OCR read of
a crop each: several minutes).
"""

from __future__ import annotations

import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import pages  # noqa: E402

from pixelproof import formats  # noqa: E402
from pixelproof.images import load  # noqa: E402
from pixelproof.verify import check  # noqa: E402

LOOK = "--look" in sys.argv  # verify with the image: a second look at flagged values
if LOOK:
    sys.argv.remove("--look")


def look_at(set_name: str, name: str):
    """The receipt's image, with --look (the second look reads crops of it), else None."""
    if not LOOK:
        return None
    folder = pages.SHARED / set_name / "images"
    return load(str(next(folder.glob(f"{name}.*"))))[0]

STYLES = [  # key conventions real answers use: (company, date, address, total, items, row keys)
    ("company", "date", "address", "total", "items", ("description", "quantity", "price")),
    ("store_name", "date", "address", "total_amount", "line_items",
     ("name", "qty", "unit_price", "amount")),
    ("merchant", "transaction_date", "merchant_address", "total", "items",
     ("item", "count", "line_total")),
]
EXPAND = {"JLN": "JALAN", "TMN": "TAMAN", "BDR": "BANDAR", "KG": "KAMPUNG", "ST": "STREET",
          "RD": "ROAD", "AVE": "AVENUE", "BLVD": "BOULEVARD", "STE": "SUITE", "HWY": "HIGHWAY",
          "DR": "DRIVE", "LN": "LANE", "BHD": "BERHAD", "CO": "COMPANY", "MKT": "MARKET"}
WORDS = ["MARKET", "GRILL", "PHARMACY", "KITCHEN", "TRADING", "PLAZA", "COFFEE", "HARDWARE"]
FIELDS = ["company", "date", "address", "total"]
ITEM_KEYS = {"description": ("description", "name", "item"), "quantity": ("quantity", "qty",
             "count"), "price": ("price", "unit_price"), "amount": ("amount", "line_total")}


def sroie_truth(name: str, key: dict) -> dict:
    """The key fields, with the figures printed after "CASH", "SUB-TOTAL" and the total
    before rounding, read from the set's own transcription (not from our engine)."""
    lines = [ln.split(",", 8)[8].strip() for ln in (
        pages.SHARED / "sroie" / "box" / f"{name}.csv").read_text(errors="replace").splitlines()
        if ln.count(",") >= 8]
    out: dict = {"company": key["company"], "address": key["address"], "printed_date":
                 key["date"], "total": _number(key["total"]), "items": sroie_items(name)}
    parsed = formats.parse_date(key["date"], True)
    if parsed is None and re.fullmatch(r"\d{8}", key["date"]):
        parsed = formats.parse_date(f"{key['date'][:4]}-{key['date'][4:6]}-{key['date'][6:]}")
    if parsed:
        out["date"] = parsed.isoformat()
    for label, pattern in (("cash", r"cash( tendered)?\s*:?"), ("subtotal", r"sub[- ]?total\s*:?"),
                           ("before_rounding", r"total( sales)?( \(?incl.*)?\s*:?")):
        for n, text in enumerate(lines[:-1]):
            figure = _number(lines[n + 1])
            if re.fullmatch(pattern, text, re.I) and figure not in (None, out["total"]):
                out[label] = figure
                break
    return out


def sroie_items(name: str) -> list[dict]:
    """The line items the set's transcription prints (their description, quantity where the
    line prints one that its unit price makes its amount, and the line's amount): the lines
    with an amount between the table's header (or the first amount) and the payment."""
    boxes = []
    for row in (pages.SHARED / "sroie" / "box" / f"{name}.csv").read_text(
            errors="replace").splitlines():
        if row.count(",") >= 8:
            *corners, text = row.split(",", 8)
            xs, ys = [int(v) for v in corners[::2]], [int(v) for v in corners[1::2]]
            boxes.append((min(ys), max(ys), min(xs), text.strip()))
    lines: list[list[tuple]] = []
    for box in sorted(boxes, key=lambda b: b[0] + b[1]):
        middle = (box[0] + box[1]) / 2
        if lines and abs(middle - sum(lines[-1][0][:2]) / 2) < (box[1] - box[0]) / 2:
            lines[-1].append(box)
        else:
            lines.append([box])
    texts = [[b[3] for b in sorted(line, key=lambda b: b[2])] for line in lines]
    head = next((n for n, t in enumerate(texts) if len(re.findall(
        r"\b(item|desc\w*|qty|quantity|price|amount|amt)", " ".join(t), re.I)) >= 2
        and not re.search(r"\d\.\d\d", " ".join(t))), None)
    rows = []
    for n, words in enumerate(texts):
        line = " ".join(words)
        if head is not None and n <= head or re.search(r"tel|fax|gst id|gst reg|date|time",
                                                        line, re.I) and head is None:
            continue
        if re.search(r"cash|change|payment|tender|rounding|grand|nett? total|payable|total "
                     r"sales|total amount|inclusive|total\s*(rm)?\s*:?\s*$|^total\b", line,
                     re.I) and rows:
            break
        if re.search(r"total|gst|tax|disc|promo|qty:|saving|service", line, re.I):
            continue
        money = [_number(re.sub(r"(SR|ZR|ZRL|S|Z)$", "", w)) for w in words
                 if re.fullmatch(r"(RM)?-?[\d,]*\d\.\d\d(SR|ZR|ZRL|S|Z)?", w)]
        if not money:
            continue
        row = {"price": money[-1]}
        counts = [m for w in words if (m := re.fullmatch(
            r"(\d{1,3})(\.0+)?\s*[xX]?|(\d{1,3})\s*[xX]\s.*|[\d.]+\*(\d{1,3})", w))
            and (m[1] or m[4])]
        units = money[:-1] + [float(m[0].split("*")[0]) for m in counts if m[4]]
        for count in [float(m[1] or m[4]) for m in counts]:
            if count >= 1 and any(abs(count * u - money[-1]) < 0.005 for u in units):
                row["qty"] = count
        said = [w for w in words if len(re.findall(r"[A-Za-z]", w)) >= max(3, len(
            re.findall(r"\d", w))) and not re.fullmatch(r"(RM)?[\d.,]+\w{0,3}|ZRL", w)]
        row["item"] = " ".join(said)
        rows.append((n, row))
    taken = {n for n, _ in rows}

    def told(step: int) -> list[int]:  # the free text lines under (or over) the bare figures
        return [m for n, r in rows if not r["item"] for m in [n + step]
                if m not in taken and 0 <= m < len(texts) and (head is None or m > head)
                and re.search(r"[A-Za-z]{3}", " ".join(texts[m])) and not re.search(
                    r"total|gst|tax|disc|cash|round|item:", " ".join(texts[m]), re.I)]
    step = max((1, -1), key=lambda step: len(told(step)))
    free = told(step)
    if len(free) * 2 >= sum(not r["item"] for _, r in rows):
        for n, r in rows:
            if not r["item"] and n + step in free:
                r["item"] = " ".join(texts[n + step])
    return [r for _, r in rows if r["item"]]


def _number(text: str) -> float | None:
    number = formats.parse_number(re.sub(r"^(RM|MYR)\s*", "", str(text).strip(), flags=re.I))
    return float(number) if number is not None else None


def wild_truth(record: dict, page) -> dict:
    import real  # the WildReceipt label mapping of bench/real.py
    data = real.truth(record, page)
    return {**data, "items": data.get("items", [])}


def real_label_errors() -> dict[str, dict[str, str]]:
    import real
    return real.LABEL_ERRORS


def answer(truth: dict, rng: random.Random, style: tuple, unit: bool) -> dict:
    """``truth`` written as a model would: keys of ``style``, prices as unit prices when
    ``unit`` (and the line amount beside them where the style has one)."""
    company, when, address, total, items, (desc, qty, price, *amount) = style
    out: dict = {}
    if "company" in truth:
        out[company] = truth["company"]
    if "date" in truth:
        printed = truth.get("printed_date")
        out[when] = printed if printed and rng.random() < 0.3 else truth["date"]
    if "address" in truth:
        out[address] = truth["address"]
    if truth.get("total") is not None:
        out[total] = (f"RM {truth['total']:.2f}" if "printed_date" in truth and rng.random() < 0.3
                      else truth["total"])
    rows = []
    for row in truth.get("items", []):
        n = int(row.get("qty", 1))
        line = float(row["price"])
        made = {desc: row["item"]}
        if "qty" in row or rng.random() < 0.5:
            made[qty] = n
        if amount:
            made[price], made[amount[0]] = round(line / n, 2), line
        else:
            made[price] = round(line / n, 2) if unit and n > 1 and not re.search(
                "total|amount", price) else line
        rows.append(made)
    if rows:
        out[items] = rows
    for key in ("subtotal", "tax"):
        if key in truth and truth.get("items"):
            out[key] = truth[key]
    return out


def keys_of(style: tuple) -> dict[str, str]:
    return dict(zip(FIELDS, style[:4], strict=True))


def errors(truth: dict, good: dict, style: tuple, rng: random.Random
           ) -> list[tuple[str, str, dict]]:
    """(kind, path, answer) for each error kind that this receipt allows."""
    k = keys_of(style)
    out = []

    def with_(path: str, value: object) -> dict:
        bad = json.loads(json.dumps(good))
        bad[path] = value
        return bad

    if k["total"] in good and truth.get("total"):
        text = f"{truth['total']:.2f}"
        spot = rng.choice([n for n, c in enumerate(text) if c.isdigit()])
        new = rng.choice([d for d in "0123456789" if d != text[spot] and (spot or d != "0")])
        out.append(("total digit", k["total"], with_(k["total"], float(
            text[:spot] + new + text[spot + 1:]))))
        for kind, key in (("cash as total", "cash"), ("subtotal as total", "subtotal"),
                          ("pre-rounding total", "before_rounding")):
            if truth.get(key) not in (None, truth["total"]):
                out.append((kind, k["total"], with_(k["total"], truth[key])))
    if k["date"] in good and "date" in truth:
        y, m, d = map(int, truth["date"].split("-"))
        if d <= 12 and d != m:
            out.append(("day and month swapped", k["date"], with_(
                k["date"], date(y, d, m).isoformat())))
    words = str(good.get(k["address"], "")).split()
    digits = [n for n, w in enumerate(words) if re.search(r"\d", w)]
    if digits:
        n = rng.choice(digits)
        w = words[n]
        spot = rng.choice([i for i, c in enumerate(w) if c.isdigit()])
        new = list(words)
        new[n] = w[:spot] + str((int(w[spot]) + rng.randrange(1, 10)) % 10) + w[spot + 1:]
        out.append(("address digit", k["address"], with_(k["address"], " ".join(new))))
    for source, kind in ((k["address"], "abbreviation completed"),
                         (k["company"], "abbreviation completed")):
        words = str(good.get(source, "")).split()
        spots = [n for n, w in enumerate(words) if w.strip(".,").upper() in EXPAND]
        if spots and kind not in [e[0] for e in out]:
            n = rng.choice(spots)
            new = list(words)
            new[n] = words[n].upper().replace(words[n].strip(".,").upper(),
                                              EXPAND[words[n].strip(".,").upper()]).strip(".")
            out.append((kind, source, with_(source, " ".join(new))))
    for source in (k["company"], k["address"]):
        words = str(good.get(source, "")).split()
        long = [n for n, w in enumerate(words) if re.fullmatch(r"[A-Za-z]{6,}", w)]
        if long:  # a word misread or completed by the model: two of its letters changed
            n, new = rng.choice(long), list(words)
            spots = rng.sample(range(1, len(words[n]) - 1), 2)
            new[n] = "".join(rng.choice([c for c in "ABDEGHKMNPRTUWY" if c != ch.upper()])
                             if i in spots else ch for i, ch in enumerate(words[n].upper()))
            out.append(("two letters changed", source, with_(source, " ".join(new))))
        glyph = [n for n, w in enumerate(words) if re.search(r"[A-Za-z][IO]|[IO][A-Za-z]", w)]
        if glyph:  # a letter written as the digit it looks like ("1poh" for "Ipoh")
            n, new = rng.choice(glyph), list(words)
            new[n] = re.sub(r"[IO](?=[A-Za-z])|(?<=[A-Za-z])[IO]",
                            lambda m: "1" if m[0] == "I" else "0", words[n], count=1)
            out.append(("letter as a digit", source, with_(source, " ".join(new))))
    words = str(good.get(k["company"], "")).split()
    if len(words) >= 2:
        new = list(words)
        n = rng.randrange(len(new))
        new[n] = rng.choice([w for w in WORDS if w != new[n].upper()])
        out.append(("company word replaced", k["company"], with_(k["company"], " ".join(new))))
    rows = good.get(style[4])
    if rows:
        price = style[5][3] if len(style[5]) > 3 else style[5][2]
        bad = json.loads(json.dumps(good))
        n = rng.randrange(len(rows))
        text = f"{float(rows[n][price]):.2f}"
        spot = rng.choice([i for i, c in enumerate(text) if c.isdigit()])
        bad[style[4]][n][price] = float(
            text[:spot] + str((int(text[spot]) + rng.randrange(1, 10)) % 10) + text[spot + 1:])
        out.append(("item price misread", f"{style[4]}[{n}].{price}", bad))
        bad = json.loads(json.dumps(good))
        at = rng.randrange(len(rows) + 1)
        bad[style[4]].insert(at, {style[5][0]: f"{rng.choice(WORDS)} {rng.choice(WORDS)}",
                                  price: round(rng.uniform(1, 40), 2)})
        out.append(("invented line", f"{style[4]}[{at}].{style[5][0]}", bad))
    return out


def field_of(path: str, style: tuple) -> str:
    if "[" in path:
        key = path.rsplit(".", 1)[-1]
        return "item " + next(kind for kind, keys in ITEM_KEYS.items() if key in keys)
    names = {v: k for k, v in keys_of(style).items()}
    return names.get(path, path)


def main() -> None:
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 120
    listed = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    only = sys.argv[3] if len(sys.argv) > 3 else ""
    sets = []
    for name, loader in (("sroie", pages.sroie), ("wildreceipt", pages.wildreceipt)):
        if only and name != only:
            continue
        if not (pages.SHARED / name).exists():
            print(pages.absent(name))
            continue
        sets.append((name, loader(limit)))
    if not sets:
        sys.exit(1)
    rng = random.Random(20)
    seconds, answers = 0.0, 0
    for set_name, docs in sets:
        flagged, seen = Counter(), Counter()
        caught, tried = Counter(), Counter()
        status = defaultdict(Counter)  # field -> (right/wrong, status) counts
        sums = Counter()
        worst, misses, failed_sums = [], [], []
        for name, rec, page in docs:
            truth = sroie_truth(name, rec) if set_name == "sroie" else wild_truth(rec, page)
            style = rng.choice(STYLES)
            good = answer(truth, rng, style, unit=rng.random() < 0.5)
            t = time.perf_counter()
            image = look_at(set_name, name)
            report = check(image, good, ocr=page)
            seconds, answers = seconds + time.perf_counter() - t, answers + 1
            wrong_labels = real_label_errors().get(name, {}) if set_name == "wildreceipt" else {}
            for c in report.checks:
                key = field_of(c.path, style)
                if key in wrong_labels:
                    continue  # the set's label disagrees with the print (bench/real.py)
                seen[key] += 1
                status[key][("right", c.status)] += 1
                if c.status != "verified":
                    flagged[key] += 1
                    worst.append(f"{name} {c.path}={c.value!r}: {c.status} ({c.note}; read "
                                 f"{c.ocr_text!r})")
            if len(good.get(style[4], [])) >= 2:
                sums["itemised"] += 1
                lines = [a for a in report.arithmetic if " lines" in a.name]
                sums["run"] += bool(lines)
                if any(not a.ok for a in lines):
                    sums["failed"] += 1
                    failed_sums += [f"{name} {a.name}: expected {a.expected}, found {a.found}"
                                    f" {a.note}" for a in lines if not a.ok]
                elif not lines:
                    failed_sums.append(f"{name}: no sum ({'; '.join(report.notes)})")
            for kind, path, bad in errors(truth, good, style, rng):
                got = next((c for c in check(image, bad, ocr=page).checks if c.path == path),
                           None)
                if got is None:
                    continue
                tried[kind] += 1
                caught[kind] += got.status != "verified"
                status[field_of(path, style)][("wrong", got.status)] += 1
                if got.status == "verified":
                    misses.append(f"{name} {kind}: {path}={got.value!r} verified by "
                                  f"{got.ocr_text!r} ({got.note})")
        print(f"\n=== {set_name}: {len(docs)} receipts")
        print("correct values flagged")
        for key in sorted(seen, key=lambda k: ("[" in k or k.startswith("item"), k)):
            print(f"  {key:22} {flagged[key]:3} of {seen[key]:4}  {pct(flagged[key], seen[key])}")
        fields = [k for k in seen if not k.startswith("item")]
        items = [k for k in seen if k.startswith("item")]
        for title, keys in (("all fields", fields), ("all item values", items)):
            print(f"  {title:22} {sum(flagged[k] for k in keys):3} of "
                  f"{sum(seen[k] for k in keys):4}  "
                  f"{pct(sum(flagged[k] for k in keys), sum(seen[k] for k in keys))}")
        print("errors caught")
        for kind in sorted(tried):
            print(f"  {kind:22} {caught[kind]:3} of {tried[kind]:3}  "
                  f"{pct(caught[kind], tried[kind])}")
        print(f"  {'all':22} {sum(caught.values()):3} of {sum(tried.values()):3}  "
              f"{pct(sum(caught.values()), sum(tried.values()))}")
        if sums["itemised"]:
            print(f"sums: run on {sums['run']} of {sums['itemised']} itemised answers "
                  f"({pct(sums['run'], sums['itemised'])}), failed on {sums['failed']} "
                  f"({pct(sums['failed'], sums['run'])} of those run; every total right)")
        print("calibration: P(right | verified), P(wrong | contradicted)")
        for key in sorted(status, key=lambda k: (k.startswith("item"), k)):
            s = status[key]
            v = s[("right", "verified")] + s[("wrong", "verified")]
            c = s[("right", "contradicted")] + s[("wrong", "contradicted")]
            print(f"  {key:22} {pct(s[('right', 'verified')], v)} of {v:4} verified, "
                  f"{pct(s[('wrong', 'contradicted')], c)} of {c:3} contradicted")
            CALIBRATION.setdefault(key, Counter()).update(s)
        for title, lines in (("correct values flagged", worst), ("errors missed", misses),
                             ("sums failed or not run", failed_sums)):
            print(f"\n{title} ({len(lines)}):")
            print("\n".join(f"  {line}" for line in lines[:listed]))
    print(f"\nverify: {1000 * seconds / max(answers, 1):.0f} ms per answer (OCR read excluded)")
    chart(Path(__file__).resolve().parents[1] / "docs" / "calibration.png")


CALIBRATION: dict[str, Counter] = {}


def chart(path: Path) -> None:
    """Bars of P(right | verified) and P(wrong | contradicted) per field, both sets together."""
    from PIL import Image, ImageDraw, ImageFont

    keys = [k for k in sorted(CALIBRATION, key=lambda k: (k.startswith("item"), k))]
    width, row = 820, 34
    image = Image.new("RGB", (width, 70 + row * len(keys) + 40), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(14)
    draw.text((10, 10), "pixelproof verify on model-style answers (SROIE + WildReceipt, "
              "bench/answers.py)", fill="black", font=font)
    x0, x1 = 170, width - 130
    draw.text((x0, 34), "P(right | verified)", fill="#16a34a", font=font)
    draw.text((x0 + 220, 34), "P(wrong | contradicted)", fill="#dc2626", font=font)
    for n, key in enumerate(keys):
        s, y = CALIBRATION[key], 62 + row * n
        v = s[("right", "verified")] + s[("wrong", "verified")]
        c = s[("right", "contradicted")] + s[("wrong", "contradicted")]
        draw.text((10, y + 6), key, fill="black", font=font)
        for k, (share, total, colour) in enumerate((
                (s[("right", "verified")] / v if v else 0, v, "#16a34a"),
                (s[("wrong", "contradicted")] / c if c else 0, c, "#dc2626"))):
            top = y + k * 14
            draw.rectangle((x0, top, x0 + (x1 - x0) * share, top + 11), fill=colour)
            draw.text((x0 + (x1 - x0) * share + 4, top - 2), f"{100 * share:.1f} % of {total}"
                      if total else "none", fill="black", font=ImageFont.load_default(11))
    for share in (0, 0.5, 0.9, 1):
        x = x0 + (x1 - x0) * share
        draw.line((x, 58, x, 62 + row * len(keys)), fill="#999999")
        draw.text((x - 10, 64 + row * len(keys)), f"{share:.0%}", fill="#555555", font=font)
    path.parent.mkdir(exist_ok=True)
    image.save(path)
    print(f"calibration chart: {path}")


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:5.1f} %" if b else "   - "


if __name__ == "__main__":
    main()
