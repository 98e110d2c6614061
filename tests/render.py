"""Rendered documents with known contents, for OCR and verification tests and benches.

Each maker returns a ``Doc``: the image (white page, black DejaVu text, glyphs about 17-24 px
tall, like a 150-200 dpi scan) and its ground truth::

    doc = render.statement(seed=3)      # also receipt, invoice, grid (alias table), screenshot
    doc.image                           # PIL RGB image
    doc.lines, doc.text                 # every printed line, in reading order
    doc.header, doc.rows                # the (first) table as printed; "" for an empty cell
    doc.tables[0].header / .rows        # every table (a screenshot has one too)
    doc.values                          # labelled values: {"Closing balance": "1,234.56", ...}
    doc.boxes                           # each value's box (x0, y0, x1, y1) in doc.image pixels

The numbers add up: statement balances chain from the opening balance (balance = previous
- debit + credit) to the closing balance; receipt and invoice rows have quantity x price =
amount, subtotal = sum of amounts, subtotal + tax = total; grid totals sum their columns.
Seeds make every document deterministic.

Degradations (image in, image out): ``scale(im, 0.5)``, ``rotate(im, 2)``, ``blur(im)``,
``jpeg(im, 30)``, ``invert(im)`` (light text on dark), ``noise(im)``; ``DEGRADATIONS`` maps
a name to each of the issue's six conditions. ``cer(truth, read)`` is the character error rate.
"""

from __future__ import annotations

import io
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

FONTS = Path(__file__).parent / "fonts"  # DejaVu Sans, cut to the glyphs drawn (fonts/LICENSE.txt)
WORDS = ["Grocer", "Express", "Cafe", "Lumen", "Rent", "Salary", "ACME", "Ltd", "Refund",
         "Sportshop", "Fuel", "Station", "Pharmacy", "Books", "Cinema", "Transfer", "Savings",
         "Electric", "Water", "Insurance", "Garden", "Centre", "Taxi", "Market", "Bakery"]
ITEMS = ["Sourdough loaf", "Croissant", "Flat white", "Olive oil", "Tomatoes", "Basil",
         "Notebook", "Pencils", "Paper A4", "Cable", "Adapter", "Batteries", "Soap", "Tea"]
PEOPLE = ["Ada Moreno", "Ben Okafor", "Chloe Dubois", "Dev Patel", "Eva Lindqvist",
          "Farid Haddad", "Grace Kim", "Hugo Silva", "Iris Novak", "Jonas Berg"]
Box = tuple[int, int, int, int]


@dataclass
class TableTruth:
    header: list[str]
    rows: list[list[str]]


@dataclass
class Doc:
    image: Image.Image
    lines: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    boxes: dict[str, Box] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def tables(self) -> list[TableTruth]:
        return [TableTruth(self.header, self.rows)] if self.header else []


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
        self.boxes: dict[str, Box] = {}

    def line(self, y: int, cells: list[tuple[int, str]], bold: bool = False,
             right: bool = False, fill: str = "black") -> list[Box]:
        """Draw cells at x positions; numbers are right-aligned at x when ``right``.
        Returns each cell's ink box."""
        f = font(self.size, bold)
        boxes = []
        for x, text in cells:
            if right and re.fullmatch(r"-?[\d,.]+", text):
                x -= int(self.draw.textlength(text, font=f))
            self.draw.text((x, y), text, font=f, fill=fill)
            boxes.append(self.draw.textbbox((x, y), text, font=f))
        self.lines.append(" ".join(t for _, t in cells if t))
        return boxes

    def value(self, y: int, x: int, label: str, value: str, bold: bool = False) -> None:
        """A "Label: value" line; the value's box is kept under the label."""
        self.line(y, [(x, f"{label}: {value}")], bold=bold)
        f = font(self.size, bold)
        self.boxes[label] = self.draw.textbbox(
            (x + self.draw.textlength(f"{label}: ", font=f), y), value, font=f)

    def totals(self, y: int, x: int, values: dict[str, str], labels: tuple[str, ...]) -> None:
        """"Label: value" lines under a table, the last one bold."""
        for label in labels:
            y += 60
            self.value(y, x, label, values[label], bold=label == labels[-1])


def statement(seed: int = 0, rows: int = 8) -> Doc:
    """A bank statement: account, period and opening balance, then an unruled table
    Date | Description | Debit | Credit | Balance (amounts right-aligned), then the closing
    balance."""
    rnd = random.Random(seed)
    page = _Page(1240, 260 + 56 * (rows + 4))
    day, balance = 1, rnd.randint(50_000, 500_000)
    month = rnd.randint(1, 12)
    account = f"{rnd.randint(10, 99)}-{rnd.randint(10, 99)}-{rnd.randint(10, 99)}"
    values = {"Account": account, "Period": f"01/{month:02d}/2024 - 28/{month:02d}/2024",
              "Opening balance": money(balance)}
    page.line(50, [(60, "Northbank")], bold=True)
    for n, label in enumerate(values):
        page.value(110 + 40 * n, 60, label, values[label])
    header = ["Date", "Description", "Debit", "Credit", "Balance"]
    xs = [60, 260, 820, 990, 1180]
    y = 290
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
    values["Closing balance"] = money(balance)
    page.value(y + 90, 60, "Closing balance", money(balance), bold=True)
    return Doc(page.image, page.lines, header, table, values, page.boxes)


def receipt(seed: int = 0, items: int = 4) -> Doc:
    """A shop receipt: date and number, Item | Qty | Price | Amount, subtotal, tax (10%),
    total."""
    rnd = random.Random(seed)
    page = _Page(760, 380 + 50 * items + 200)
    page.line(40, [(240, "CORNER BAKERY")], bold=True)
    when = f"{rnd.randint(1, 28):02d}/{rnd.randint(1, 12):02d}/2024"
    number = str(rnd.randint(10000, 99999))
    page.value(110, 40, "Date", when)
    page.value(150, 40, "Receipt No", number)
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
    return Doc(page.image, page.lines, header, table, values, page.boxes)


def invoice(seed: int = 0, items: int = 5) -> Doc:
    """An invoice: number, customer, due date, Description | Quantity | Unit price | Amount,
    subtotal, VAT (20%), total."""
    rnd = random.Random(seed)
    page = _Page(1240, 420 + 56 * items + 220)
    number, customer = f"INV-{rnd.randint(1000, 9999)}", " ".join(rnd.sample(WORDS, 2))
    due = f"{rnd.randint(1, 28):02d}.{rnd.randint(1, 12):02d}.2024"
    page.line(50, [(60, "INVOICE")], bold=True)
    page.value(120, 60, "Invoice No", number)
    page.value(160, 60, "Customer", customer)
    page.value(200, 60, "Due date", due)
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
    return Doc(page.image, page.lines, header, table, values, page.boxes)


def grid(seed: int = 0, rows: int = 6) -> Doc:
    """A ruled table of regions and figures, with a total row (values "Units total",
    "Revenue total")."""
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
        boxes = page.line(y, list(zip(xs, cells, strict=True)), bold=n in (0, rows + 1))
        if n:
            table.append(cells)
        y += 60
    page.draw.line((30, y - 12, 970, y - 12), fill="#888", width=2)
    page.boxes = {"Units total": boxes[1], "Revenue total": boxes[2]}
    return Doc(page.image, page.lines, header, table,
               {"Units total": f"{units:,}", "Revenue total": money(revenue)}, page.boxes)


table = grid


def screenshot(seed: int = 0, members: int = 5) -> Doc:
    """An app's settings screen: a grey sidebar menu on the left (read first: reading order
    goes column by column), and a main pane with "Label: value" lines and a members table
    Name | Role | Seats. Smaller type (18 px) on coloured panels, like a UI at 100%."""
    rnd = random.Random(seed)
    page = _Page(1280, 420 + 44 * members, size=18)
    page.draw.rectangle((0, 0, 1280, 56), fill="#dfe6f0")
    page.draw.rectangle((0, 56, 250, page.image.height), fill="#f1f1f4")
    menu = ["Dashboard", "Projects", "Billing", "Members", "Settings", "Help"]
    for n, item in enumerate(menu):
        page.line(90 + 50 * n, [(30, item)], bold=item == "Members", fill="#333")
    plan = rnd.choice(["Team", "Business", "Starter"])
    seats = rnd.randint(members, 40)
    renews = f"{rnd.randint(1, 28):02d}/{rnd.randint(1, 12):02d}/2025"
    values = {"Workspace": f"{rnd.choice(WORDS)} {rnd.choice(['Labs', 'Studio', 'Co'])}",
              "Plan": plan, "Seats": str(seats), "Renews": renews}
    page.line(90, [(300, "Members and billing")], bold=True)
    for n, label in enumerate(values):
        page.value(140 + 34 * n, 300, label, values[label])
    header = ["Name", "Role", "Seats"]
    xs = [300, 640, 900]
    y = 320
    page.line(y, list(zip(xs, header, strict=True)), bold=True, fill="#555")
    rows = []
    for name in rnd.sample(PEOPLE, members):
        row = [name, rnd.choice(["Owner", "Admin", "Editor", "Viewer"]), str(rnd.randint(1, 3))]
        y += 44
        page.line(y, list(zip(xs, row, strict=True)))
        rows.append(row)
    # drawn in reading order: the sidebar column first, then the main pane
    return Doc(page.image, page.lines, header, rows, values, page.boxes)


def scale(im: Image.Image, factor: float = 0.5) -> Image.Image:
    return im.resize((round(im.width * factor), round(im.height * factor)), Image.LANCZOS)


def rotate(im: Image.Image, degrees: float = 2.0) -> Image.Image:
    """Rotated counter-clockwise, canvas grown to fit, corners filled with the page colour."""
    corner = im.convert("RGB").getpixel((0, 0))
    return im.rotate(degrees, resample=Image.BICUBIC, expand=True, fillcolor=corner)


def blur(im: Image.Image, radius: float = 1.2) -> Image.Image:
    return im.filter(ImageFilter.GaussianBlur(radius))


def jpeg(im: Image.Image, quality: int = 30) -> Image.Image:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def invert(im: Image.Image) -> Image.Image:
    return ImageOps.invert(im.convert("RGB"))


def noise(im: Image.Image, sigma: float = 18.0, seed: int = 0) -> Image.Image:
    """Gaussian sensor noise (per pixel, same on every channel)."""
    pixels = np.asarray(im.convert("RGB"), dtype=np.float32)
    grain = np.random.default_rng(seed).normal(0, sigma, pixels.shape[:2])[:, :, None]
    return Image.fromarray(np.clip(pixels + grain, 0, 255).astype(np.uint8))


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


# --- a document's ground truth as the data a model would give ---------------------------

def data_of(kind: str, doc: Doc) -> dict:
    keys = {"statement": ["date", "description", "debit", "credit", "balance"],
            "receipt": ["item", "qty", "price", "amount"],
            "invoice": ["description", "quantity", "unit price", "amount"],
            "grid": ["region", "units", "revenue"]}[kind]
    rows = [{k: (v or None) for k, v in zip(keys, row, strict=True)} for row in doc.rows]
    return {"rows": rows, **{k.lower(): v for k, v in doc.values.items()}}


def typed(data: dict) -> dict:
    """``data`` as a model's JSON answer would carry it: numbers as numbers, dates as ISO
    strings (the page writes them day first), debits negative."""
    def one(key: str, value: str | None) -> object:
        if value is None or key in ("account", "receipt no", "invoice no"):
            return value
        if re.fullmatch(r"\d\d[/.]\d\d[/.]\d{4}", value):
            return f"{value[6:]}-{value[3:5]}-{value[:2]}"
        if re.fullmatch(r"-?[\d,]*\.?\d+", value):
            number = float(value.replace(",", ""))
            return -number if key == "debit" else number
        return value
    return {k: [{c: one(c, x) for c, x in r.items()} for r in v] if k == "rows" else one(k, v)
            for k, v in data.items()}


def text_pdf(pages: list[list[tuple[float, float, str]]], size: tuple[int, int] = (612, 792),
             font_size: float = 10) -> bytes:
    """A born-digital PDF: each page's ``(x, y, text)`` drawn in Helvetica (points from the top
    left), so the page has a text layer."""
    import ctypes

    import pypdfium2 as pdfium
    import pypdfium2.raw as c

    pdf = pdfium.PdfDocument.new()
    font = c.FPDFText_LoadStandardFont(pdf.raw, b"Helvetica")
    for lines in pages:
        page = pdf.new_page(*size)
        for x, y, text in lines:
            obj = c.FPDFPageObj_CreateTextObj(pdf.raw, font, font_size)
            wide = ctypes.create_string_buffer(text.encode("utf-16-le") + b"\0\0")
            c.FPDFText_SetText(obj, ctypes.cast(wide, c.FPDF_WIDESTRING))
            c.FPDFPageObj_Transform(obj, 1, 0, 0, 1, x, size[1] - y)
            c.FPDFPage_InsertObject(page.raw, obj)
        c.FPDFPage_GenerateContent(page.raw)
        page.close()
    out = io.BytesIO()
    pdf.save(out)
    pdf.close()
    return out.getvalue()
