"""Rendered documents with known contents, for OCR and verification tests and benches.

``statement(seed)``, ``receipt(seed)``, ``invoice(seed)`` and ``grid(seed)`` each return a Doc:
the image, every printed line of text, the table (header and rows, as printed), and the
labelled values. The numbers add up: balances chain, quantity x price = amount, subtotal + tax
= total. Degradations: ``scale``, ``rotate``, ``blur``, ``jpeg``, ``invert``.
"""

from __future__ import annotations

import io
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

FONTS = Path("/usr/share/fonts/truetype/dejavu")
WORDS = ["Grocer", "Express", "Cafe", "Lumen", "Rent", "Salary", "ACME", "Ltd", "Refund",
         "Sportshop", "Fuel", "Station", "Pharmacy", "Books", "Cinema", "Transfer", "Savings",
         "Electric", "Water", "Insurance", "Garden", "Centre", "Taxi", "Market", "Bakery"]
ITEMS = ["Sourdough loaf", "Croissant", "Flat white", "Olive oil", "Tomatoes", "Basil",
         "Notebook", "Pencils", "Paper A4", "Cable", "Adapter", "Batteries", "Soap", "Tea"]


@dataclass
class Doc:
    image: Image.Image
    lines: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")),
                              size)


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100:,}.{abs(cents) % 100:02d}"


class _Page:
    def __init__(self, width: int, height: int, size: int = 24) -> None:
        self.image = Image.new("RGB", (width, height), "white")
        self.draw = ImageDraw.Draw(self.image)
        self.size = size
        self.lines: list[str] = []

    def line(self, y: int, cells: list[tuple[int, str]], bold: bool = False,
             right: bool = False) -> None:
        """Draw cells at x positions; numbers are right-aligned at x when ``right``."""
        f = font(self.size, bold)
        for x, text in cells:
            if right and re.fullmatch(r"-?[\d,.]+", text):
                x -= int(self.draw.textlength(text, font=f))
            self.draw.text((x, y), text, font=f, fill="black")
        self.lines.append(" ".join(t for _, t in cells if t))

    def totals(self, y: int, x: int, values: dict[str, str], labels: tuple[str, ...]) -> None:
        """"Label: value" lines under a table, the last one bold."""
        for label in labels:
            y += 60
            self.line(y, [(x, f"{label}: {values[label]}")], bold=label == labels[-1])


def statement(seed: int = 0, rows: int = 8) -> Doc:
    rnd = random.Random(seed)
    page = _Page(1240, 200 + 56 * (rows + 4))
    day, balance = 1, rnd.randint(50_000, 500_000)
    month = rnd.randint(1, 12)
    account = f"{rnd.randint(10, 99)}-{rnd.randint(10, 99)}-{rnd.randint(10, 99)}"
    page.line(50, [(60, "Northbank")], bold=True)
    page.line(110, [(60, f"Account: {account}")])
    page.line(150, [(60, f"Statement date: 28/{month:02d}/2024")])
    header = ["Date", "Description", "Debit", "Credit", "Balance"]
    xs = [60, 260, 820, 990, 1180]
    y = 230
    page.line(y, list(zip(xs[:2], header[:2], strict=True)) +
              [(x - 70, h) for x, h in zip(xs[2:], header[2:], strict=True)], bold=True)
    table = []
    for _ in range(rows):
        day = min(28, day + rnd.randint(1, 3))
        amount = rnd.choice([rnd.randint(100, 9_999), rnd.randint(10_000, 250_000)])
        credit = rnd.random() < 0.3
        balance += amount if credit else -amount
        desc = " ".join(rnd.sample(WORDS, 2))
        row = [f"{day:02d}/{month:02d}/2024", desc, "" if credit else money(amount),
               money(amount) if credit else "", money(balance)]
        y += 56
        page.line(y, list(zip(xs, row, strict=True)), right=True)
        table.append(row)
    y += 90
    page.line(y, [(60, f"Closing balance: {money(balance)}")], bold=True)
    return Doc(page.image, page.lines, header, table,
               {"Account": account, "Statement date": f"28/{month:02d}/2024",
                "Closing balance": money(balance)})


def receipt(seed: int = 0, items: int = 4) -> Doc:
    rnd = random.Random(seed)
    page = _Page(760, 380 + 50 * items + 200)
    page.line(40, [(240, "CORNER BAKERY")], bold=True)
    when = f"{rnd.randint(1, 28):02d}/{rnd.randint(1, 12):02d}/2024"
    number = str(rnd.randint(10000, 99999))
    page.line(110, [(40, f"Date: {when}")])
    page.line(150, [(40, f"Receipt No: {number}")])
    header = ["Item", "Qty", "Price", "Amount"]
    y = 230
    page.line(y, [(40, "Item"), (360, "Qty"), (450, "Price"), (590, "Amount")], bold=True)
    subtotal, table = 0, []
    for name in rnd.sample(ITEMS, items):
        qty, price = rnd.randint(1, 5), rnd.randint(50, 2_500)
        subtotal += qty * price
        row = [name, str(qty), money(price), money(qty * price)]
        y += 50
        page.line(y, [(40, row[0]), (360, row[1]), (450, row[2]), (590, row[3])])
        table.append(row)
    tax = round(subtotal * 0.1)
    values = {"Date": when, "Receipt No": number, "Subtotal": money(subtotal),
              "Tax": money(tax), "Total": money(subtotal + tax)}
    page.totals(y, 400, values, ("Subtotal", "Tax", "Total"))
    return Doc(page.image, page.lines, header, table, values)


def invoice(seed: int = 0, items: int = 5) -> Doc:
    rnd = random.Random(seed)
    page = _Page(1240, 420 + 56 * items + 220)
    number, customer = f"INV-{rnd.randint(1000, 9999)}", " ".join(rnd.sample(WORDS, 2))
    due = f"{rnd.randint(1, 28):02d}.{rnd.randint(1, 12):02d}.2024"
    page.line(50, [(60, "INVOICE")], bold=True)
    page.line(120, [(60, f"Invoice No: {number}")])
    page.line(160, [(60, f"Customer: {customer}")])
    page.line(200, [(60, f"Due date: {due}")])
    header = ["Description", "Quantity", "Unit price", "Amount"]
    y = 290
    xs = [60, 640, 820, 1050]
    page.line(y, list(zip(xs, header, strict=True)), bold=True)
    subtotal, table = 0, []
    for name in rnd.sample(ITEMS, items):
        qty, price = rnd.randint(1, 20), rnd.randint(100, 50_000)
        subtotal += qty * price
        row = [name, str(qty), money(price), money(qty * price)]
        y += 56
        page.line(y, list(zip(xs, row, strict=True)))
        table.append(row)
    tax = round(subtotal * 0.2)
    values = {"Invoice No": number, "Customer": customer, "Due date": due,
              "Subtotal": money(subtotal), "VAT": money(tax), "Total": money(subtotal + tax)}
    page.totals(y, 760, values, ("Subtotal", "VAT", "Total"))
    return Doc(page.image, page.lines, header, table, values)


def grid(seed: int = 0, rows: int = 6) -> Doc:
    """A ruled table of regions and figures, with a total row."""
    rnd = random.Random(seed)
    page = _Page(1000, 140 + 60 * (rows + 2))
    header = ["Region", "Units", "Revenue"]
    xs, y = [40, 420, 700], 60
    table, units, revenue = [], 0, 0
    names = rnd.sample(["North", "South", "East", "West", "Central", "Coast", "Islands",
                        "Highlands", "Valley", "Metro"], rows)
    for n, cells in enumerate([header] + [[name] for name in names] + [["Total"]]):
        if 0 < n <= rows:
            u, r = rnd.randint(10, 9_000), rnd.randint(1_000, 9_000_000)
            units, revenue = units + u, revenue + r
            cells = cells + [f"{u:,}", money(r)]
        elif n == rows + 1:
            cells = cells + [f"{units:,}", money(revenue)]
        page.draw.line((30, y - 12, 970, y - 12), fill="#888", width=2)
        page.line(y, list(zip(xs, cells, strict=True)), bold=n in (0, rows + 1))
        if n:
            table.append(cells)
        y += 60
    page.draw.line((30, y - 12, 970, y - 12), fill="#888", width=2)
    return Doc(page.image, page.lines, header, table,
               {"Units total": f"{units:,}", "Revenue total": money(revenue)})


def scale(im: Image.Image, factor: float = 0.5) -> Image.Image:
    return im.resize((round(im.width * factor), round(im.height * factor)), Image.LANCZOS)


def rotate(im: Image.Image, degrees: float = 2.0) -> Image.Image:
    return im.rotate(degrees, resample=Image.BICUBIC, expand=True, fillcolor="white")


def blur(im: Image.Image, radius: float = 1.2) -> Image.Image:
    return im.filter(ImageFilter.GaussianBlur(radius))


def jpeg(im: Image.Image, quality: int = 30) -> Image.Image:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def invert(im: Image.Image) -> Image.Image:
    return ImageOps.invert(im.convert("RGB"))


DEGRADATIONS = {"clean": lambda im: im, "scaled 50%": scale, "rotated 2deg": rotate,
                "blurred": blur, "jpeg 30": jpeg, "inverted": invert}


def cer(truth: str, read: str) -> float:
    """Character error rate: edits to turn ``read`` into ``truth``, over truth's length
    (whitespace runs count as one space)."""
    a, b = " ".join(truth.split()), " ".join(read.split())
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1] / max(1, len(a))
