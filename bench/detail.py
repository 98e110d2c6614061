"""Calibration of ``--detail auto``'s size rule (cost.TEXT_PX) against the legibility search it
replaces.

The search (kept here as ``legibility_search``) read the page at full size, then re-read
resized copies to find the smallest size whose character error rate stays within
cost.LEGIBLE_CER of the full read (and whose median word stays MIN_TEXT_PX tall). The rule
decides from the one full-size read: the page is scaled so the text height measured there
(a low percentile of the words' box heights) becomes TEXT_PX. This bench runs the search on
documents of every maker, at several sizes and in several scan conditions, and prints, per
page, the text height at the size the search chose. TEXT_PX must be at least the largest of
those (the rule never sends a page smaller than the search found legible); the bench also
prints the tokens each way.

    python bench/detail.py [model]      (default openai:gpt-4o)
"""

from __future__ import annotations

import io
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
import render  # noqa: E402

from pixelproof import cost, images, ocr  # noqa: E402

MAKERS = [render.statement, render.receipt, render.invoice, render.grid, render.screenshot]
SCALES = (0.6, 0.75, 1.0, 1.25, 1.5, 2.0)
CONDITIONS = {"clean": lambda im: im, "blurred": render.blur, "jpeg 30": render.jpeg,
              "noise": render.noise}


def docs() -> list[tuple[str, images.Image]]:
    out = []
    for i, make in enumerate(MAKERS):
        for j, factor in enumerate(SCALES):
            name = list(CONDITIONS)[(i + j) % len(CONDITIONS)]
            im = CONDITIONS[name](render.scale(make(seed=500 + 7 * i + j).image, factor))
            if make is render.screenshot and factor < 1:
                continue  # its smallest text would be under 10 px
            buf = io.BytesIO()
            im.save(buf, "PNG")
            out.append((f"{make.__name__} x{factor} {name}", images.load(buf.getvalue())[0]))
    return out


def legibility_search(image: images.Image, model: str, guard: bool = True
                      ) -> tuple[tuple[int, int], tuple[int, int] | None]:
    """The size ``choose_detail`` chose before TEXT_PX: the smallest cheaper size read as
    well as the full one, found by reading resized copies (binary search over token counts);
    and the next cheaper size, which it found illegible (None: there was none). ``guard``:
    only sizes where the median word stays MIN_TEXT_PX tall (as it ran), else all."""
    size = (image.width, image.height)
    full = cost.image_tokens(model, *size, "high")
    candidates = cost._cheaper_sizes(model, size, full)
    read = ocr.read(image)
    if not candidates or not read.text.strip():
        return size, None
    heights = sorted(w.box[3] - w.box[1] for w in read.words)
    smallest = cost.MIN_TEXT_PX / max(1.0, heights[len(heights) // 2]) if guard else 0
    candidates = [c for c in candidates if c[0] >= size[0] * smallest]
    def legible(c: tuple[int, int]) -> bool:
        return cost._cer(read.text, ocr.read(images.resize(image, *c)).text) <= cost.LEGIBLE_CER

    lo, hi, best = 0, len(candidates) - 1, size
    while lo <= hi:
        mid = (lo + hi) // 2
        if legible(candidates[mid]):
            best, hi = candidates[mid], mid - 1
        else:
            lo = mid + 1
    below = candidates[lo - 1] if lo > 0 else None
    assert below is None or not legible(below)
    return best, below


def main(model: str = "openai:gpt-4o") -> None:
    start = time.perf_counter()
    pages = docs()
    for _, image in pages:
        ocr.submit(image)  # the full-size reads, in the pool
    print(f"{'page':28} {'size':>10} {'p10':>4} {'med':>4} {'search':>9} {'legible':>9} "
          f"{'p10@':>5} {'illegible':>9} {'p10@':>5} {'rule':>9} {'tokens: full':>12} "
          f"{'search':>6} {'rule':>5}")
    legible_at, illegible_at, smaller = [], [], 0
    tokens = {"search": 0, "rule": 0, "full": 0}

    def fmt(c: tuple[int, int] | None) -> str:
        return f"{c[0]:>4}x{c[1]:<4}" if c else f"{'-':^9}"

    def searches(image: images.Image) -> tuple[Any, Any]:
        return legibility_search(image, model), legibility_search(image, model, guard=False)

    with ThreadPoolExecutor(2 * ocr.reader().pool.workers or 1) as each:  # keep the pool busy
        found_all = list(each.map(searches, [image for _, image in pages]))
    for (name, image), ((found, _), (legible, below)) in zip(pages, found_all, strict=True):
        read = ocr.read(image)
        p10, med = cost.text_height(read), cost.text_height(read, 0.5)
        plan = cost.choose_detail(image, model, "extract", "extract")
        legible_at.append(p10 * legible[0] / image.width)
        if below is not None:
            illegible_at.append(p10 * below[0] / image.width)
        smaller += plan.size[0] < found[0] and plan.detail == "high"
        t_search = cost.image_tokens(model, *found, "high") or 0
        tokens["search"] += t_search
        tokens["rule"] += plan.tokens or 0
        tokens["full"] += plan.full_tokens or 0
        print(f"{name:28} {image.width:>4}x{image.height:<5} {p10:4.0f} {med:4.0f} {fmt(found)} "
              f"{fmt(legible)} {legible_at[-1]:5.1f} {fmt(below)} "
              f"{illegible_at[-1] if below else float('nan'):5.1f} {fmt(plan.size)} "
              f"{plan.full_tokens:>12} {t_search:>6} {plan.tokens:>5}")
    print(f"\n{len(pages)} pages, {model}. The OCR legibility test alone (no MIN_TEXT_PX "
          f"guard): the smallest legible sizes leave the 10th-percentile word "
          f"{min(legible_at):.1f}-{max(legible_at):.1f} px tall; the next cheaper sizes, read "
          f"worse, {min(illegible_at, default=0):.1f}-{max(illegible_at, default=0):.1f} px "
          f"({len(illegible_at)} pages).")
    print(f"cost.TEXT_PX = {cost.TEXT_PX} (with MIN_TEXT_PX = {cost.MIN_TEXT_PX} on the "
          f"median): the rule chose a smaller size than the search (as it ran) on {smaller} "
          f"of {len(pages)} pages (target 0)")
    print(f"tokens: full size {tokens['full']}, search {tokens['search']} "
          f"({100 * tokens['search'] / tokens['full']:.0f}%), rule {tokens['rule']} "
          f"({100 * tokens['rule'] / tokens['full']:.0f}%); {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main(*sys.argv[1:2])
