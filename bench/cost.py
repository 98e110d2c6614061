"""Image tokens sent naively (detail high, full size) against ``--detail auto``, and whether
the local engine still reads what auto sends as well as the full image.

32 images: rendered statements, receipts, invoices and tables (tests/render.py) at 100%, 150%
and 200% size, plus synthetic photos (gradients, shapes, noise) with no text. CER is the local
engine's character error rate against the rendered text, on the full image and on what auto
sends; tokens are each provider's published count.

    python bench/cost.py [model ...]     (default openai:gpt-4o)
"""

from __future__ import annotations

import io
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
import render  # noqa: E402
from PIL import Image as PILImage  # noqa: E402
from PIL import ImageDraw  # noqa: E402

from pixelproof import cost, images, ocr  # noqa: E402


def photo(seed: int) -> PILImage.Image:
    rnd = random.Random(seed)
    w, h = rnd.choice([(1600, 1200), (1024, 768), (3000, 2000), (800, 800)])
    im = PILImage.linear_gradient("L").resize((w, h)).convert("RGB")
    draw = ImageDraw.Draw(im)
    for _ in range(30):
        x, y = rnd.randrange(w), rnd.randrange(h)
        r = rnd.randint(10, w // 6)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rnd.randrange(256) for _ in "rgb"))
    noise = PILImage.effect_noise((w, h), 40).convert("RGB")
    return PILImage.blend(im, noise, 0.15)


def as_image(im: PILImage.Image, name: str):
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return images.load(buf.getvalue())[0], name


def main(model: str = "openai:gpt-4o") -> None:
    docs, photos = [], []
    makers = [render.statement, render.receipt, render.invoice, render.grid]
    for n in range(24):
        doc = makers[n % 4](seed=300 + n)
        factor = (1.0, 1.5, 2.0)[n // 4 % 3]
        im = doc.image if factor == 1 else render.scale(doc.image, factor)
        docs.append((as_image(im, f"{makers[n % 4].__name__}-{n}"), doc.text))
    for n in range(8):
        photos.append(as_image(photo(n), f"photo-{n}"))
    start = time.perf_counter()
    naive = auto = 0
    full_cer = sent_cer = worst = 0.0
    print(f"{'image':16} {'size':>10} {'naive':>6} {'auto':>6} {'sent as':>14} "
          f"{'CER full':>8} {'CER sent':>8}")
    for (image, name), truth in docs:
        plan = cost.choose_detail(image, model, "extract", "extract")
        sent = images.resize(image, *plan.size)
        a, b = render.cer(truth, ocr.read(image).text), render.cer(truth, ocr.read(sent).text)
        naive += plan.full_tokens or 0
        auto += plan.tokens or 0
        full_cer, sent_cer, worst = full_cer + a, sent_cer + b, max(worst, b - a)
        print(f"{name:16} {image.width:>4}x{image.height:<5} {plan.full_tokens:>6} "
              f"{plan.tokens:>6} {plan.detail:>4} {plan.size[0]:>4}x{plan.size[1]:<4} "
              f"{100 * a:7.2f}% {100 * b:7.2f}%")
    photo_naive = photo_auto = 0
    for image, name in photos:
        for prompt, task in (("What is in this picture?", "describe"), ("extract", "extract")):
            plan = cost.choose_detail(image, model, prompt, task)
            photo_naive += plan.full_tokens or 0
            photo_auto += plan.tokens or 0
            print(f"{name:16} {image.width:>4}x{image.height:<5} {plan.full_tokens:>6} "
                  f"{plan.tokens:>6} {plan.detail:>4} {plan.size[0]:>4}x{plan.size[1]:<4}  "
                  f"({task})")
    n = len(docs)
    print(f"\nmodel {model}; {n} documents, {len(photos)} photos (each asked a scene question "
          f"and an extraction)")
    print(f"documents: naive {naive} tokens, auto {auto} = {100 * auto / naive:.0f}% of naive "
          f"(target <= 50%)")
    print(f"documents: mean CER full size {100 * full_cer / n:.2f}%, as sent "
          f"{100 * sent_cer / n:.2f}%, worst document +{100 * worst:.2f} points "
          f"(target: within 0.5 points)")
    print(f"photos: naive {photo_naive} tokens, auto {photo_auto} = "
          f"{100 * photo_auto / photo_naive:.0f}%")
    print(f"time: {time.perf_counter() - start:.0f} s (planning reads each page once; the CER "
          "column reads what is sent too)")


if __name__ == "__main__":
    for name in sys.argv[1:] or ["openai:gpt-4o"]:
        main(name)
