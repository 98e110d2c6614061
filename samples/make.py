"""Draw the sample images in this folder: a bank statement, a receipt and a settings screenshot.

Run ``python samples/make.py`` to redraw them; the figures are made up and add up.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).parent
FONTS = HERE.parent / "tests" / "fonts"  # DejaVu Sans, cut to the glyphs drawn


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = FONTS / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    return ImageFont.truetype(str(path), size) if path.exists() else ImageFont.load_default(size)


def statement() -> Image.Image:
    im = Image.new("RGB", (1240, 900), "white")
    d = ImageDraw.Draw(im)
    d.text((60, 50), "Northbank", font=font(40, True), fill="#123")
    d.text((60, 120), "Account: 40-12-77 31415926", font=font(24), fill="black")
    d.text((60, 160), "Period: 01/03/2024 - 31/03/2024", font=font(24), fill="black")
    columns = [(60, "Date"), (260, "Description"), (700, "Debit"), (860, "Credit"),
               (1020, "Balance")]
    rows = [("01/03/2024", "Opening balance", "", "", "1,250.00"),
            ("04/03/2024", "Grocer Express", "82.40", "", "1,167.60"),
            ("08/03/2024", "Salary ACME Ltd", "", "2,400.00", "3,567.60"),
            ("12/03/2024", "Rent March", "950.00", "", "2,617.60"),
            ("19/03/2024", "Cafe Lumen", "6.80", "", "2,610.80"),
            ("27/03/2024", "Refund Sportshop", "", "45.99", "2,656.79")]
    y = 250
    for x, title in columns:
        d.text((x, y), title, font=font(24, True), fill="black")
    for row in rows:
        y += 56
        for (x, _), cell in zip(columns, row, strict=True):
            d.text((x, y), cell, font=font(24), fill="black")
    d.text((60, y + 90), "Closing balance: 2,656.79", font=font(26, True), fill="black")
    return im


def receipt() -> Image.Image:
    im = Image.new("RGB", (720, 680), "#fbfaf4")
    d = ImageDraw.Draw(im)
    d.text((220, 40), "CORNER BAKERY", font=font(36, True), fill="black")
    d.text((40, 110), "Date: 14/06/2024", font=font(24), fill="black")
    d.text((40, 150), "Receipt No: 20931", font=font(24), fill="black")
    items = [("Sourdough loaf", 1, "4.50"), ("Croissant", 3, "1.80"), ("Flat white", 2, "3.20")]
    y = 230
    for x, title in ((40, "Item"), (340, "Qty"), (440, "Price"), (580, "Amount")):
        d.text((x, y), title, font=font(24, True), fill="black")
    for name, qty, price in items:
        y += 50
        amount = f"{qty * float(price):.2f}"
        for x, cell in ((40, name), (340, str(qty)), (440, price), (580, amount)):
            d.text((x, y), cell, font=font(24), fill="black")
    subtotal = sum(q * float(p) for _, q, p in items)
    tax = round(subtotal * 0.1, 2)
    for label, value in (("Subtotal", subtotal), ("Tax 10%", tax), ("Total", subtotal + tax)):
        y += 60
        d.text((380, y), f"{label}: {value:.2f}", font=font(26, label == "Total"), fill="black")
    return im


def screenshot() -> Image.Image:
    im = Image.new("RGB", (1000, 560), "#f3f4f6")
    d = ImageDraw.Draw(im)
    d.rectangle((0, 0, 1000, 70), fill="#1f2937")
    d.text((30, 18), "Settings - Billing", font=font(28, True), fill="white")
    fields = [("Plan", "Team (annual)"), ("Seats", "12"), ("Price per seat", "$ 18.00"),
              ("Next invoice", "2024-09-01"), ("Amount due", "$ 216.00")]
    y = 110
    for label, value in fields:
        d.rounded_rectangle((30, y, 970, y + 64), 10, fill="white", outline="#d1d5db")
        d.text((56, y + 17), f"{label}:", font=font(24), fill="#374151")
        d.text((420, y + 17), value, font=font(24, True), fill="#111827")
        y += 82
    return im


if __name__ == "__main__":
    for name, draw in (("statement", statement), ("receipt", receipt),
                       ("screenshot", screenshot)):
        draw().save(HERE / f"{name}.png", optimize=True)
        print(f"wrote samples/{name}.png")
