"""Verification and the local engine on real receipt photos (WildReceipt, ../shared/data).

For each receipt the true company (store name), address, date, total, subtotal and tax come
from the set's labelled regions. The bench measures
(a) the local engine: the object it fills for a company/date/address/total schema, per field;
(b) the verifier: how many true values it flags, and how many injected errors it catches, per
kind (seeded): a digit of the total changed, the total x10, the day moved, one word of the
company replaced, dropped or added, one word of the address replaced, a digit of an item's
price changed, an invented item row, an invented field.

Items are rows of an item label and the rightmost price labelled on its line (or on the line
below, where receipts print long names above their figures), lines measured along the slant
that levels most labels (photos are askew), with the quantity on its line: the set's item
labels carry typos and some prices lack their item, so the item figures are indicative only.

The labels hold text with its spaces removed ("KOREANRESTAURANT"): a text value's characters
are the label's, its spaces those the engine printed at the same place. Text is compared with
case, spaces and punctuation ignored.

The SROIE sample (Malaysian scans, ../shared/data/sroie) measures the local engine only: company
and address right within 0.9 letters+digits similarity and exactly, the date as a date (or as
printed, where the engine left it so), the total as a number.

    python bench/real.py [receipts] [cases shown] [--sroie]   # default: 120, 25, both sets;
                                                              # OCR cached in ~/.cache
"""

from __future__ import annotations

import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from difflib import SequenceMatcher
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from pages import read_pages  # noqa: E402  (the engine's reads, cached)

from pixelproof import formats, ocr  # noqa: E402
from pixelproof.providers.local import fill  # noqa: E402
from pixelproof.verify import verify  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "wildreceipt"
SROIE = DATA.parent / "sroie"
SCHEMA = {"type": "object", "properties": {
    "company": {"type": "string"}, "date": {"type": "string", "format": "date"},
    "address": {"type": "string"}, "total": {"type": "number"}}}
WORDS = ["MARKET", "GRILL", "PHARMACY", "KITCHEN", "STREET", "PLAZA", "COFFEE", "DELI", "BAR",
         "HOUSE", "GARDEN", "SUPPLY", "EXPRESS", "CENTER", "AVENUE", "NORTH", "SOUTH"]


def compact(text: object) -> str:
    return re.sub(r"[\W_]+", "", str(text).casefold())


def _box(points: list[list[float]]) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def spaced(label: str, box: tuple[float, ...], page: ocr.OcrResult) -> str:
    """``label`` (spaces removed) with the spaces the engine printed inside ``box``."""
    words = [w for w in page.words if box[0] - 4 <= (w.box[0] + w.box[2]) / 2 <= box[2] + 4
             and box[1] - 4 <= (w.box[1] + w.box[3]) / 2 <= box[3] + 4]
    printed = " ".join(w.text for w in words)
    seen, breaks = 0, set()  # letters printed before each space
    for ch in printed:
        if ch == " ":
            breaks.add(seen)
        else:
            seen += 1
    plain = printed.replace(" ", "")
    out, cut = [], set()
    for op, a0, a1, b0, b1 in SequenceMatcher(None, label.casefold(), plain.casefold(),
                                              autojunk=False).get_opcodes():
        if op in ("equal", "replace") and a1 - a0 == b1 - b0:
            cut |= {a0 + k for k in range(a1 - a0) if b0 + k in breaks and k}
            if b0 in breaks and a0:
                cut.add(a0)
    for n, ch in enumerate(label):
        out.append((" " if n in cut else "") + ch)
    return "".join(out)


def first_block(mine: list[dict], regions: list[dict]) -> list[dict]:
    """The first of ``mine`` (top to bottom) and those that follow it with no region of another
    label between them: a store name printed twice is one value, not both copies."""
    def mid(r: dict) -> float:
        box = _box(r["points"])
        return (box[1] + box[3]) / 2

    others = [mid(r) for r in regions if r not in mine and r["label"] not in ("Ignore", )]
    block = [mine[0]]
    for r in mine[1:]:
        if any(mid(block[-1]) < y < mid(r) for y in others):
            break
        block.append(r)
    return block


def truth(record: dict, page: ocr.OcrResult) -> dict:
    regions = defaultdict(list)
    for r in sorted(record["regions"], key=lambda r: (_box(r["points"])[1],
                                                       _box(r["points"])[0])):
        regions[r["label"]].append(r)
    out: dict[str, object] = {}
    text = {"company": "Store_name_value", "address": "Store_addr_value"}
    for key, label in text.items():
        if regions[label]:
            out[key] = " ".join(spaced(r["transcription"], _box(r["points"]), page)
                                for r in first_block(regions[label], record["regions"]))
    for r in regions["Date_value"]:
        m = re.search(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{2,4}", r["transcription"])
        parsed = formats.parse_date(m[0], Path(record["image"]).stem in DAY_FIRST) if m else None
        if parsed:
            out["date"], out["date printed"] = parsed.isoformat(), m[0]
            break
    items = _items(regions, page)
    if items:
        out["items"] = items
    for key, label in (("total", "Total_value"), ("subtotal", "Subtotal_value"),
                       ("tax", "Tax_value")):
        for r in regions[label]:
            number = formats.parse_number(r["transcription"].replace("$", ""))
            if number is not None:
                out[key] = float(number)
                break
    return out


def _items(regions: dict[str, list[dict]], page: ocr.OcrResult) -> list[dict]:
    """A row per labelled item: the rightmost labelled price on its printed line (measured
    along the line's slant, for photos) is the line's amount, its quantity on that line; an
    item with no price on its line takes the unclaimed price on the line below (receipts that
    print long names above their figures)."""
    prices = [p for p in regions["Prod_price_value"] if _price(p) is not None]
    slant = _slant(regions["Prod_item_value"], prices)
    mine: dict[int, list[dict]] = defaultdict(list)
    items = regions["Prod_item_value"]
    for price in prices:
        same = [(abs(off), n) for n, item in enumerate(items)
                if (off := _offset(price, item, slant)) is not None and abs(off) < 0.6]
        if same:
            mine[min(same)[1]].append(price)
    claimed = {id(p) for ps in mine.values() for p in ps}
    for n, item in enumerate(items):
        below = [(off, id(p), p) for p in prices if id(p) not in claimed and (
            off := _offset(p, item, slant, left=False)) is not None and -2.0 < off < -0.6]
        if not mine[n] and below:
            price = max(below, key=lambda b: b[:2])[2]
            mine[n].append(price)
            claimed.add(id(price))
    rows: list[tuple[float, dict]] = []
    for n, item in enumerate(items):
        if not mine[n]:
            continue
        price = max(mine[n], key=lambda p: _box(p["points"])[2])
        row: dict[str, object] = {"item": spaced(item["transcription"], _box(item["points"]),
                                                 page), "price": _price(price)}
        qty = [(abs(off), q["transcription"]) for q in regions["Prod_quantity_value"]
               if (off := _offset(price, q, slant)) is not None and abs(off) < 0.6]
        if qty and re.fullmatch(r"\d+", min(qty)[1]):
            row = {"qty": int(min(qty)[1]), **row}
        rows.append((_box(price["points"])[1], row))
    return [row for _, row in sorted(rows, key=lambda r: r[0])]


def _price(region: dict) -> float | None:
    text = re.sub(r"^[^\d(.-]+|[^\d)]+$", "", region["transcription"])
    number = formats.parse_number(re.sub(r"^\.", "0.", text))
    return float(number) if number is not None else None


def _slant(items: list[dict], prices: list[dict]) -> float:
    """How much the printed lines climb per pixel across (photos are taken askew): the slant
    that puts most labelled items level with a labelled price."""
    def level(slant: float) -> int:
        return sum(any(abs(_offset(p, i, slant) or 9) < 0.35 for p in prices) for i in items)
    return max((n / 200 for n in range(-30, 31)), key=lambda s: (level(s), -abs(s)))


def _offset(price: dict, other: dict, slant: float, left: bool = True) -> float | None:
    """How far ``other`` lies from ``price``'s printed line, in line heights (negative: above),
    along the page's slant; None when ``left`` and it is not to the left of the price."""
    (x0, y0, x1, y1), (a0, b0, a1, b1) = _box(price["points"]), _box(other["points"])
    vx, vy = (a0 + a1 - x0 - x1) / 2, (b0 + b1 - y0 - y1) / 2
    if left and vx >= 0:
        return None
    return (vy - slant * vx) / max(1.0, y1 - y0)


def read_all(limit: int) -> list[tuple[str, dict, ocr.OcrResult]]:
    """Each WildReceipt receipt with its labels and what the engine read."""
    records = [json.loads(line) for line in (DATA / "labels.jsonl").open()][:limit]
    pages = read_pages("wildreceipt", [DATA / rec["image"] for rec in records])
    return [(rec["image"], rec, page) for rec, page in zip(records, pages, strict=True)]


def inject(kind: str, data: dict, rng: random.Random) -> tuple[str, dict] | None:
    """A copy of ``data`` with one error of ``kind`` and the path it is at, or None."""
    bad = dict(data)
    if kind in ("total digit", "total x10") and data.get("total"):
        text = f"{data['total']:.2f}"
        if kind == "total x10":
            bad["total"] = round(data["total"] * 10, 2)
        else:
            spots = [n for n, c in enumerate(text) if c.isdigit()]
            n = rng.choice(spots)
            new = rng.choice([d for d in "0123456789" if d != text[n] and (n or d != "0")])
            bad["total"] = float(text[:n] + new + text[n + 1:])
        return "total", bad
    if kind == "day" and "date" in data:
        y, m, d = map(int, data["date"].split("-"))
        d = d + 1 if d < 28 else d - 1
        bad["date"] = f"{y:04d}-{m:02d}-{d:02d}"
        return "date", bad
    if kind.startswith(("company", "address")):
        field = kind.split()[0]
        words = str(data.get(field, "")).split()
        if not words or kind.endswith("dropped") and sum(bool(compact(w)) for w in words) < 2:
            return None
        n = rng.choice([k for k, w in enumerate(words) if compact(w)] or [0])
        if kind.endswith("replaced"):
            words[n] = rng.choice([w for w in WORDS if compact(w) != compact(words[n])])
        elif kind.endswith("dropped"):
            del words[n]
        else:
            words.insert(n + 1, rng.choice(WORDS))
        bad[field] = " ".join(words)
        return field, bad
    if kind == "item price digit" and data.get("items"):
        rows = [dict(r) for r in data["items"]]
        n = rng.randrange(len(rows))
        text = f"{rows[n]['price']:.2f}"
        spot = rng.choice([k for k, c in enumerate(text) if c.isdigit()])
        rows[n]["price"] = float(text[:spot] + str((int(text[spot]) + rng.randrange(1, 10)) % 10)
                                 + text[spot + 1:])
        return f"items[{n}].price", {**data, "items": rows}
    if kind == "invented row" and data.get("items"):
        rows = [dict(r) for r in data["items"]]
        rows.insert(rng.randrange(len(rows) + 1), {"item": rng.choice(WORDS) + " " + rng.choice(
            WORDS), "price": round(rng.uniform(1, 40), 2)})
        n = next(k for k, r in enumerate(rows) if r not in data["items"])
        return f"items[{n}].item", {**data, "items": rows}
    if kind == "invented field":
        bad["invoice_number"] = f"INV-{rng.randrange(10000, 99999)}"
        return "invoice_number", bad
    return None


# Labels that disagree with what the receipt prints, seen by eye on crops of their regions:
# a verifier should flag these values, so they are counted apart from the correct ones.
LABEL_ERRORS = {
    "wr006": {"date": "printed 22-09-2014"},
    "wr016": {"total": "printed 197,285 (rupiah)", "subtotal": "printed 170,000",
              "tax": "printed 17,935"},
    "wr026": {"address": "printed 1488 ... V6H1L1"},
    "wr046": {"company": "printed WAL*MART"},
    "wr056": {"address": "printed KØBENHAVN"},
    "wr057": {"address": "printed Abbey Wood", "tax": "printed 14.79"},
    "wr062": {"company": "printed STORE"},
    "wr074": {"subtotal": "printed 11.99"},
    "wr078": {"address": "printed 630 St Peter Street ... LA"},
    "wr083": {"address": "printed Parikh Marg ... Mumbai"},
}
# Receipts from day-first countries, by the address and currency they print (Spain, the UK,
# Malaysia, the Netherlands, India, Australia, Ireland): their dates are read day first.
DAY_FIRST = {"wr008", "wr009", "wr012", "wr014", "wr053", "wr072", "wr075", "wr083", "wr097",
             "wr102"}
KINDS = ["total digit", "total x10", "day", "company word replaced", "company word dropped",
         "company word added", "address word replaced", "item price digit", "invented row",
         "invented field"]


def right(key: str, got: object, want: object) -> bool:
    if got is None:
        return False
    if key in ("total", "date"):
        return str(got) == str(want) if key == "date" else formats.parse_number(
            got) == formats.parse_number(want)
    a, b = compact(got), compact(want)
    return bool(a) and SequenceMatcher(None, a, b, autojunk=False).ratio() >= 0.9


def main() -> None:
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()] + [120, 25]
    limit, shown = numbers[0], numbers[1] if len(numbers) > 3 else 25
    if "--sroie" in sys.argv:
        return sroie(limit, shown)
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: this bench needs the WildReceipt sample beside the repo.")
    start = time.perf_counter()
    docs = read_all(limit)
    print(f"{len(docs)} receipts read in {time.perf_counter() - start:.0f} s")
    rng = random.Random(11)
    local, local_n, printed, swapped = Counter(), Counter(), Counter(), Counter()
    false, seen, label_errors = Counter(), Counter(), Counter()
    caught, tried = Counter(), Counter()
    worst: list[str] = []
    misses: list[str] = []
    local_wrong: list[str] = []
    seconds = 0.0
    for name, rec, page in docs:
        data = truth(rec, page)
        got = fill(SCHEMA, [page])
        for key in SCHEMA["properties"]:
            if key in data:
                local_n[key] += 1
                ok = right(key, got.get(key), data[key]) or key == "date" and compact(
                    got.get(key)) == compact(data["date printed"])
                printed[key] += ok and got.get(key) != data[key]
                swapped[key] += key == "date" and swap(got.get(key)) == data[key]
                local[key] += ok
                if not ok:
                    local_wrong.append(f"{name} {key}: got {got.get(key)!r}, want {data[key]!r}")
        t = time.perf_counter()
        data.pop("date printed", None)
        report = verify(None, data, ocr=page)
        seconds += time.perf_counter() - t
        wrong_labels = LABEL_ERRORS.get(Path(name).stem, {})
        for c in report.checks:
            if c.path in wrong_labels:
                label_errors[c.status != "verified"] += 1
                continue
            key = re.sub(r"\[\d+\]", "[]", c.path)
            seen[key] += 1
            if c.status != "verified":
                false[key] += 1
                worst.append(f"{name} {c.path}={c.value!r}: {c.status} ({c.note}; "
                             f"read {c.ocr_text!r})")
        for kind in KINDS:
            made = inject(kind, data, rng)
            if made is None:
                continue
            path, bad = made
            check = next(c for c in verify(None, bad, ocr=page).checks if c.path == path)
            if Path(name).stem in LABEL_ERRORS and path in LABEL_ERRORS[Path(name).stem]:
                continue
            tried[kind] += 1
            caught[kind] += check.status != "verified"
            if check.status == "verified":
                misses.append(f"{name} {kind}: {check.value!r} verified by {check.ocr_text!r}")
    print("\n(a) local engine, object schema (company, date, address, total): right value")
    for key in SCHEMA["properties"]:
        print(f"  {key:10} {local[key]:3} of {local_n[key]:3}  {pct(local[key], local_n[key])}"
              + (f"   ({printed[key]} left as printed, {swapped[key]} day and month swapped)"
                 if key == "date" else ""))
    print("\n(b) verifier: true values flagged")
    for group, keys in (("fields", [k for k in seen if "[" not in k]),
                        ("items (indicative)", [k for k in seen if "[" in k])):
        for key in sorted(keys):
            print(f"  {key:14} {false[key]:3} of {seen[key]:4}  {pct(false[key], seen[key])}")
        flagged, total = sum(false[k] for k in keys), sum(seen[k] for k in keys)
        print(f"  {'all ' + group:14} {flagged:3} of {total:4}  {pct(flagged, total)}\n")
    print(f"  and {label_errors[True]} of {sum(label_errors.values())} values whose label "
          "disagrees with the print (LABEL_ERRORS)")
    print("\n    injected errors caught")
    for kind in KINDS:
        print(f"  {kind:22} {caught[kind]:3} of {tried[kind]:3}  {pct(caught[kind], tried[kind])}")
    all_caught, all_tried = sum(caught.values()), sum(tried.values())
    print(f"  {'all':22} {all_caught:3} of {all_tried:3}  {pct(all_caught, all_tried)}")
    print(f"\nverify: {1000 * seconds / len(docs):.0f} ms per receipt (OCR read excluded)")
    for title, lines in (("true values flagged", worst), ("errors missed", misses),
                         ("local engine wrong", local_wrong)):
        print(f"\n{title} ({len(lines)}):")
        print("\n".join(f"  {line}" for line in lines[:shown]))
    if SROIE.exists():
        sroie(limit, shown)


def swap(iso: object) -> str | None:
    """``iso`` with its day and month swapped: a date read the wrong way round."""
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)", str(iso))
    return f"{m[1]}-{m[3]}-{m[2]}" if m and m[2] != m[3] else None


def sroie_date(text: str) -> str | None:
    """A SROIE label's date ("18/04/2018", "20180428", "05 MAR 2018"), read day first as the
    set prints them, in ISO form."""
    if m := re.fullmatch(r"(20\d\d)(\d\d)(\d\d)", text.strip()):
        text = f"{m[1]}-{m[2]}-{m[3]}"
    found = formats.find_dates(text)
    parsed = formats.parse_date(found[0] if found else text, True)
    return parsed.isoformat() if parsed else None


def sroie_right(key: str, got: object, want: str) -> tuple[bool, bool]:
    """(right within 0.9 letters+digits similarity or as a date/number, right exactly)."""
    if got is None:
        return False, False
    if key == "date":
        ok = str(got) == sroie_date(want) or compact(got) == compact(want)
        return ok, ok
    if key == "total":
        ok = formats.parse_number(str(got)) == formats.parse_number(re.sub(r"[^\d.,-]", "", want))
        return ok, ok
    a, b = compact(got), compact(want)
    return bool(a) and SequenceMatcher(None, a, b, autojunk=False).ratio() >= 0.9, a == b


def sroie(limit: int, shown: int) -> None:
    """The local engine on the SROIE sample: per field, right within 0.9 and exactly."""
    names = sorted(p.stem for p in (SROIE / "key").glob("*.json"))[:limit]
    start = time.perf_counter()
    pages = read_pages("sroie", [SROIE / "images" / f"{n}.jpg" for n in names])
    print(f"\nSROIE: {len(names)} receipts read in {time.perf_counter() - start:.0f} s")
    near, exact, wrong, printed, swapped = Counter(), Counter(), [], 0, 0
    for name, page in zip(names, pages, strict=True):
        want = json.loads((SROIE / "key" / f"{name}.json").read_text())
        got = fill(SCHEMA, [page])
        for key in SCHEMA["properties"]:
            ok, same = sroie_right(key, got.get(key), want[key])
            if key == "date":
                printed += ok and got["date"] != sroie_date(want["date"])
                swapped += swap(got["date"]) == sroie_date(want["date"])
            near[key] += ok
            exact[key] += same
            if not ok:
                wrong.append(f"{name} {key}: got {got.get(key)!r}, want {want[key]!r}")
    print("(a') local engine on SROIE: right (company/address: letters+digits within 0.9; "
          "exact)")
    for key in SCHEMA["properties"]:
        print(f"  {key:10} {near[key]:3} of {len(names):3}  {pct(near[key], len(names))}"
              f"   exact {pct(exact[key], len(names))}" + (
                  f"   ({printed} left as printed, {swapped} day and month swapped)"
                  if key == "date" else ""))
    print(f"\nSROIE local engine wrong ({len(wrong)}):")
    print("\n".join(f"  {line}" for line in wrong[:shown]))


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:5.1f} %" if b else "   - "


if __name__ == "__main__":
    main()
