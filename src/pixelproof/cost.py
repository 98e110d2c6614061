"""What a request costs before it is sent: image tokens by each provider's published formula,
prices from a dated data file, a budget that concurrency cannot overshoot, and the cheapest
image size that the local engine still reads as well as the full one.

Cost is ``Decimal | None``: None means unknown, never zero.
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from . import providers
from .errors import BudgetError, ConfigError
from .types import Image, Request, Usage

# --- image token formulas -------------------------------------------------------------------

# OpenAI, "Images and vision", section "Calculating costs"
# (https://platform.openai.com/docs/guides/images-vision#calculating-costs, read 2025-11).
# Tile models: fit the image in 2048x2048, scale it down so the shortest side is 768 px, count
# 512 px tiles: base + tiles x per-tile tokens. detail "low" sends a 512x512 version and costs
# the base alone. "auto" is counted as "high" (the worst case). (base, per-tile) per model:
TILE_MODELS = {"gpt-4o-mini": (2833, 5667), "gpt-4o": (85, 170), "gpt-4.1": (85, 170),
               "gpt-4.5": (85, 170), "gpt-5": (70, 140), "o1": (75, 150), "o3": (75, 150),
               "computer-use-preview": (65, 129)}
# Same page: patch models count 32 px patches; above 1536 patches the image is scaled down
# (r = sqrt(32^2 x 1536 / (w x h)), then r shrunk so whole patches fit each side); tokens =
# patches x a per-model multiplier. The detail level does not change the count. Note: OpenAI's
# own pricing calculator has used 1.2 (gpt-5-mini) and 1.5 (gpt-5-nano), and users report
# bills that match those; the guide's 1.62/2.46 are kept here as the published (higher) rule.
PATCH_MODELS = {"gpt-4.1-mini": 1.62, "gpt-4.1-nano": 2.46, "o4-mini": 1.72,
                "gpt-5-mini": 1.62, "gpt-5-nano": 2.46}
PATCH, PATCH_CAP = 32, 1536
# Anthropic, "Vision", section "Evaluate image size"
# (https://docs.anthropic.com/en/docs/build-with-claude/vision, read 2025-11): an image whose
# long edge is over 1568 px, or which is over ~1,600 tokens, is scaled down (aspect kept) until
# it fits, then costs about width x height / 750 tokens (rounded up here). The page's table of
# the largest sizes sent unscaled (1092x1092, 951x1268, 896x1344, 819x1456, 784x1568) is
# exactly "at most 1568 patches of 28x28 px", which the current page states as Claude's
# unit (28 px patches): that is the limit used. Claude Opus 4.7 and later have a larger native
# resolution whose limits are not modelled: they count as unknown.
CLAUDE_EDGE, CLAUDE_PATCH, CLAUDE_PATCHES, CLAUDE_PIXELS_PER_TOKEN = 1568, 28, 1568, 750
# Google, "Understand and count tokens" and "Image understanding"
# (https://ai.google.dev/gemini-api/docs/tokens, read 2025-11): Gemini 2.x counts 258 tokens for
# an image of at most 384 px on both sides, otherwise 258 per 768x768 tile (tiles counted as
# ceil(w/768) x ceil(h/768); the page does not say how it crops). Gemini 1.x: a flat 258 per
# image. Gemini 3 (https://ai.google.dev/gemini-api/docs/media-resolution): at most 1120 tokens
# per image at its default (high) media resolution; counted as 1120.
GEMINI_TOKENS, GEMINI_SMALL, GEMINI_TILE, GEMINI3_TOKENS = 258, 384, 768, 1120


@dataclass(frozen=True)
class Family:
    """How one model counts image tokens; ``name`` is also its key in the price file."""

    provider: str
    name: str
    kind: str  # tile, patch, claude, gemini2, flat, free


def family(model_id: str) -> Family | None:
    """The token-counting family of a model id, or None when no published formula fits."""
    target = providers.resolve(model_id, base_url="http://unused")
    if target.spec.offline:
        return Family("local", "", "free")
    name = target.model.lower().rsplit("/", 1)[-1]
    name = re.sub(r"-(\d{4}-\d{2}-\d{2}|\d{8}|latest)$", "", name)
    if "claude" in name:
        version = re.search(r"claude-(?:[a-z]+-)?(\d+)(?:[.-](\d{1,2}))?(?!\d)", name)
        if version is None or (int(version[1]), int(version[2] or 0)) >= (4, 7):
            return None
        return Family("anthropic", name, "claude")
    if name.startswith("gemini"):
        version = re.match(r"gemini-(\d+)", name)
        major = int(version[1]) if version else 0
        kind = {1: "flat", 2: "gemini2", 3: "flat"}.get(major)
        return Family("gemini", name, kind) if kind else None
    for table, kind in ((PATCH_MODELS, "patch"), (TILE_MODELS, "tile")):
        for known in sorted(table, key=len, reverse=True):
            if name == known or name.startswith(known + "-"):
                return Family("openai", known, kind)
    return None


def _scaled(w: float, h: float, scale: float) -> tuple[float, float]:
    """Only ever scale down."""
    return (w * scale, h * scale) if scale < 1 else (w, h)


def _patches(w: float, h: float, size: int) -> int:
    return math.ceil(w / size) * math.ceil(h / size)


def _claude_size(w: float, h: float) -> tuple[float, float]:
    w, h = _scaled(w, h, CLAUDE_EDGE / max(w, h))
    if _patches(w, h, CLAUDE_PATCH) > CLAUDE_PATCHES:
        w, h = _scaled(w, h, math.sqrt(CLAUDE_PATCHES * CLAUDE_PATCH ** 2 / (w * h)))
        ratio = h / w
        while _patches(math.floor(w), math.floor(h), CLAUDE_PATCH) > CLAUDE_PATCHES:
            w, h = (w - 1, (w - 1) * ratio) if w >= h else ((h - 1) / ratio, h - 1)
    return w, h


def sent_size(model_id: str, width: int, height: int,
              detail: str = "auto") -> tuple[int, int] | None:
    """The size the provider works on after its own resize, or None when unknown."""
    fam = family(model_id)
    if fam is None:
        return None
    w, h = float(width), float(height)
    if fam.kind == "tile":
        if detail == "low":
            w, h = _scaled(w, h, 512 / max(w, h))
        else:
            w, h = _scaled(w, h, 2048 / max(w, h))
            w, h = _scaled(w, h, 768 / min(w, h))
    elif fam.kind == "patch" and _patches(w, h, PATCH) > PATCH_CAP:
        r = math.sqrt(PATCH ** 2 * PATCH_CAP / (w * h))
        r *= min(math.floor(w * r / PATCH) / (w * r / PATCH),
                 math.floor(h * r / PATCH) / (h * r / PATCH))
        w, h = w * r, h * r
    elif fam.kind == "claude":
        w, h = _claude_size(w, h)
    return (max(1, math.floor(w)), max(1, math.floor(h)))


def image_tokens(model_id: str, width: int, height: int, detail: str = "auto") -> int | None:
    """Input tokens one image costs (``auto`` is counted as ``high``), None when unknown.

    ``model_id`` is ``provider:model`` (a bare name is an OpenAI model); ``local`` costs 0."""
    fam = family(model_id)
    size = sent_size(model_id, width, height, detail)
    if fam is None or size is None:
        return None
    w, h = size
    if fam.kind == "free":
        return 0
    if fam.kind == "tile":
        base, tile = TILE_MODELS[fam.name]
        return base if detail == "low" else base + tile * _patches(w, h, 512)
    if fam.kind == "patch":
        return math.ceil(min(PATCH_CAP, _patches(w, h, PATCH)) * PATCH_MODELS[fam.name])
    if fam.kind == "claude":
        return math.ceil(w * h / CLAUDE_PIXELS_PER_TOKEN)
    if fam.kind == "flat":
        return GEMINI3_TOKENS if fam.name.startswith("gemini-3") else GEMINI_TOKENS
    if w <= GEMINI_SMALL and h <= GEMINI_SMALL:
        return GEMINI_TOKENS
    return GEMINI_TOKENS * _patches(w, h, GEMINI_TILE)


def text_tokens(text: str) -> int:
    """A rough count for prompt text: about four characters per token (an estimate only)."""
    return math.ceil(len(text) / 4)


# --- prices ---------------------------------------------------------------------------------

PRICE_FIELDS = ("input", "cached_input", "output", "batch_input", "batch_output")


@cache
def _bundled() -> dict[str, Any]:
    return json.loads(resources.files("pixelproof").joinpath("data/prices.json").read_text())


_default: dict[str, Any] | None = None


def use_price_file(path: str | Path | None) -> None:
    """Make ``path`` (merged over the bundled table) the prices used when none are passed."""
    global _default
    _default = load_prices(path) if path else None


def load_prices(path: str | Path | None = None) -> dict[str, Any]:
    """The bundled price table (USD per 1M tokens), with a ``--price-file`` merged over it:
    its models replace or add entries by id, its ``date`` replaces the table's."""
    table = dict(_bundled())
    if path is None:
        return table
    shape = ('JSON like {"date": "2025-11-01", "models": {"openai:gpt-4o": {"input": "2.50", '
             '"cached_input": "1.25", "output": "10.00", "batch_input": "1.25", '
             '"batch_output": "5.00"}}}')
    try:
        extra = json.loads(Path(path).read_text())
        models = extra.get("models", {})
        for model, entry in models.items():
            for key in PRICE_FIELDS:
                value = Decimal(str(entry[key]))
                if not value.is_finite() or value < 0:
                    raise ValueError(f"{model} {key} is {entry[key]}: a price is a number "
                                     "of dollars, 0 or more")
    except (OSError, ValueError, AttributeError, TypeError, InvalidOperation) as e:
        raise ConfigError(f"{path}: cannot read the price file ({e}). It is {shape}.") from None
    except KeyError as e:
        raise ConfigError(f"{path}: a model has no {e} price. Each model needs "
                          f"{', '.join(PRICE_FIELDS)}; the file is {shape}.") from None
    table["models"] = {**table["models"], **models}
    table["date"] = extra.get("date", table["date"])
    return table


def price(model_id: str, prices: dict[str, Any] | None = None) -> dict[str, Decimal] | None:
    """The five prices of a model (USD per 1M tokens), looked up by its id, then by its
    family name (``openrouter:openai/gpt-4o`` is priced as ``openai:gpt-4o``); None if unknown."""
    prices = prices or _default or _bundled()
    fam = family(model_id)
    target = providers.resolve(model_id, base_url="http://unused")
    keys = [target.id, "local" if target.spec.offline else ""] + (
        [f"{fam.provider}:{fam.name}"] if fam and fam.name else [])
    for key in keys:
        if key in prices["models"]:
            entry = prices["models"][key]
            return {k: Decimal(str(entry[k])) for k in PRICE_FIELDS}
    return None


def cost_of(model_id: str, usage: Usage, batch: bool = False,
            prices: dict[str, Any] | None = None) -> Decimal | None:
    """Dollars for real usage; cached input tokens at the cached price (the batch input price
    under ``batch``). None when the price is unknown."""
    p = price(model_id, prices)
    if p is None:
        return None
    fresh = usage.input_tokens - usage.cached_tokens
    if batch:
        total = usage.input_tokens * p["batch_input"] + usage.output_tokens * p["batch_output"]
    else:
        total = fresh * p["input"] + usage.cached_tokens * p["cached_input"] \
            + usage.output_tokens * p["output"]
    return total / Decimal(1_000_000)


# --- estimates ------------------------------------------------------------------------------

DEFAULT_OUTPUT = 1024  # assumed answer length when no max_tokens is given


@dataclass(frozen=True)
class ImageCost:
    """One image of an estimate: its size, the size the provider works on, its input tokens
    and their dollars (None when unknown)."""

    label: str
    size: tuple[int, int]
    sent: tuple[int, int] | None
    tokens: int | None
    cost: Decimal | None = None


@dataclass(frozen=True)
class Estimate:
    """Tokens and dollars before sending. ``text_tokens`` is a chars/4 estimate of the prompt
    (and schema); ``output_tokens`` is the answer allowance (max_tokens, else DEFAULT_OUTPUT).
    ``cost`` counts the whole allowance of output (the most it can cost), ``input_cost`` none."""

    model: str
    images: tuple[ImageCost, ...]
    text_tokens: int
    output_tokens: int
    cost: Decimal | None
    input_cost: Decimal | None = None
    price_date: str = ""

    @property
    def input_tokens(self) -> int | None:
        tokens = [i.tokens for i in self.images]
        return None if None in tokens else sum(tokens) + self.text_tokens  # type: ignore


def estimate(images: list[Image], model_id: str, prompt: str = "", detail: str = "auto",
             max_tokens: int | None = None, schema: dict[str, Any] | None = None,
             prices: dict[str, Any] | None = None, requests: int = 1) -> Estimate:
    """Tokens and dollars for sending ``images`` with ``prompt``, before sending anything.
    ``requests`` > 1 counts one request per image (an extract batch) with the prompt in each."""
    table = prices or _default or _bundled()
    unit = price(model_id, table)

    def dollars(tokens: int | None, kind: str) -> Decimal | None:
        if tokens is None or unit is None:
            return None
        return tokens * unit[kind] / Decimal(1_000_000)

    rows = []
    for im in images:
        tokens = image_tokens(model_id, im.width, im.height, detail)
        rows.append(ImageCost(im.label, (im.width, im.height),
                              sent_size(model_id, im.width, im.height, detail), tokens,
                              dollars(tokens, "input")))
    text = text_tokens(prompt + (json.dumps(schema) if schema else "")) * requests
    output = (max_tokens or DEFAULT_OUTPUT) * requests
    est = Estimate(model_id, tuple(rows), text, output, None, price_date=table.get("date", ""))
    if est.input_tokens is None:
        return est
    return replace(est, cost=cost_of(model_id, Usage(est.input_tokens, output), prices=table),
                   input_cost=dollars(est.input_tokens, "input"))


def money(cost: Decimal | None, places: int = 4) -> str:
    """Dollars for people: ``$0.0138``, or ``unknown`` (never $0 for an unknown cost)."""
    return "unknown" if cost is None else f"${cost:.{places}f}"


def render_estimate(est: Estimate) -> str:
    """A plain table: each image with its size, size after the provider's resize, tokens and
    dollars; then the prompt, the answer allowance and the total."""
    width = max([27] + [len(im.label) for im in est.images])

    def row(label: str, size: str, sent: str, tokens: int | None, cost: Decimal | None) -> str:
        shown = "unknown" if tokens is None else str(tokens)
        return f"{label:{width}} {size:>11} {sent:>11} {shown:>8} {money(cost, 6):>10}"

    lines = [f"{'image':{width}} {'size':>11} {'sent as':>11} {'tokens':>8} {'dollars':>10}"]
    for im in est.images:
        sent = f"{im.sent[0]}x{im.sent[1]}" if im.sent else "unknown"
        lines.append(row(im.label, f"{im.size[0]}x{im.size[1]}", sent, im.tokens, im.cost))
    known = est.input_cost is not None
    text_cost = est.input_cost - sum(i.cost for i in est.images) if known else None  # type: ignore
    lines.append(row("prompt text (about chars/4)", "", "", est.text_tokens, text_cost))
    out_cost = est.cost - est.input_cost if known and est.cost is not None else None  # type: ignore
    lines.append(row("answer (at most)", "", "", est.output_tokens, out_cost))
    total = est.input_tokens
    lines.append(f"total: {'unknown' if total is None else total} input tokens, up to "
                 f"{est.output_tokens} output tokens; {money(est.cost, 6)} at most"
                 + (f" ({money(est.input_cost, 6)} for the input)" if known else "")
                 + f" with {est.model}" + (f", prices of {est.price_date}" if est.price_date
                                            else ""))
    if total is None:
        lines.append("No published image token formula is known for this model, so the cost "
                     "cannot be estimated; unknown is not zero.")
    elif est.cost is None:
        lines.append("No price is known for this model; add it with --price-file.")
    return "\n".join(lines)


# --- budget ---------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Reservation:
    """Money held for one request in flight; settle it exactly once."""

    amount: Decimal


class Budget:
    """A spending cap: reserve a request's worst case before sending, settle with the real cost
    after. Reserved plus spent never exceeds the cap, whatever the concurrency (threads or
    asyncio tasks), as long as each real cost is within its reservation."""

    def __init__(self, max_cost: Decimal | float | str) -> None:
        self.max_cost = Decimal(str(max_cost))
        self._spent = Decimal(0)
        self._reserved = Decimal(0)
        self._open: set[Reservation] = set()
        self._lock = threading.Lock()

    @property
    def spent(self) -> Decimal:
        return self._spent

    @property
    def reserved(self) -> Decimal:
        return self._reserved

    def reserve(self, amount: Decimal | None) -> Reservation:
        """Hold ``amount`` or raise BudgetError when it would take the total past the cap."""
        if amount is None:
            raise BudgetError("a budget (max_cost=) needs a cost estimate, but this model's "
                              "price or image formula is unknown. Add its price with "
                              "price_file=, or drop max_cost=.")
        if amount < 0:
            raise BudgetError(f"cannot reserve a negative amount ({amount}).")
        with self._lock:
            if self._spent + self._reserved + amount > self.max_cost:
                raise BudgetError(
                    f"the next request (up to {money(amount)}) would take the spend past "
                    f"max_cost={money(self.max_cost)} ({money(self._spent)} spent, "
                    f"{money(self._reserved)} in flight). Raise max_cost= to go on.")
            self._reserved += amount
            held = Reservation(amount)
            self._open.add(held)
            return held

    def settle(self, reservation: Reservation, actual: Decimal | None) -> None:
        """Replace the reservation with the real cost; None (unknown) keeps the whole
        reservation as spent."""
        with self._lock:
            if reservation not in self._open:
                raise BudgetError("this reservation was already settled (or is not from this "
                                  "budget); settle each one once.")
            self._open.discard(reservation)
            self._reserved -= reservation.amount
            self._spent += reservation.amount if actual is None else actual


def request_ceiling(request: Request, max_tokens: int) -> Decimal | None:
    """The most a request can cost: its input plus ``max_tokens`` of output, with a margin on
    the text estimate (which is approximate)."""
    est = estimate(list(request.images), request.model, request.prompt + "".join(
        t.text for t in request.turns) + (request.system or ""), request.detail, max_tokens,
                   request.json_schema)
    if est.input_tokens is None:
        return None
    tokens = est.input_tokens + est.text_tokens // 5 + 50
    return cost_of(request.model, Usage(tokens, max_tokens))


# --- spending less: --detail auto -----------------------------------------------------------

NEEDS_TEXT = re.compile(r"\b(read|text|extract|transcribe|number|amount|total|price|table|date|"
                        r"name|digit|value|figure|row|column|list|write|ocr)s?\b", re.I)
LEGIBLE_CER = 0.005  # the smaller image must read within half a point of the full one
# The height (px) the page's small text (10th percentile of its word box heights, as the one
# full-size read measured them) keeps at the size sent. Calibrated by bench/detail.py against
# the legibility search this rule replaces (re-read resized copies; the smallest whose CER stays
# within LEGIBLE_CER of the full read), on 28 pages (5 kinds of document, 0.6x-2x size, clean,
# blurred, JPEG 30, noisy), 2026-11: with claude-sonnet-4-5's pixel-fine sizes, the smallest
# legible size left that text 6.4-11.8 px tall, and the next smaller size, which read worse,
# 6.3-11.4 px (24 pages); so at 12 px every page is legible. The search also kept the median
# word MIN_TEXT_PX tall, which the rule keeps too: with gpt-4o's tiles it then chooses the
# search's size or a larger one on all 28 pages, never a smaller one.
TEXT_PX = 12.0
LOW_BOX = 512  # detail "low": the tile models look at the image fitted in 512x512
# The local engine reads text far smaller than a vision model can (it rescales each line), so
# no size is chosen at which the page's median word box is under this many pixels tall
# (about an 8 px glyph). A guard, not a measurement of any vision model.
MIN_TEXT_PX = 14


@dataclass(frozen=True)
class Plan:
    """How to send one image: the detail level, the size to resize it to (images.resize), its
    tokens, and the tokens it would cost at full size with detail high."""

    detail: str
    size: tuple[int, int]
    tokens: int | None
    full_tokens: int | None

    @property
    def saved(self) -> int:
        return (self.full_tokens or 0) - (self.tokens or 0)


def plan_reads(model_id: str, prompt: str = "", task: str = "extract") -> bool:
    """Whether ``choose_detail`` may need the local engine's read for this model and question
    (images within the low-detail box never do)."""
    fam = family(model_id)
    if fam is None or fam.kind == "free":
        return False
    return not (fam.kind == "tile" and task == "describe" and not NEEDS_TEXT.search(prompt))


def text_height(read: Any, quantile: float = 0.1) -> float:
    """The height in pixels of the page's small text: the ``quantile`` of its words' box
    heights (0 when nothing was read)."""
    heights = sorted(w.box[3] - w.box[1] for w in read.words)
    return float(heights[min(len(heights) - 1, int(quantile * len(heights)))]) if heights \
        else 0.0


def choose_detail(image: Image, model_id: str, prompt: str = "", task: str = "extract") -> Plan:
    """``--detail auto`` for one image. ``low`` (tile models) where it is enough: an image
    already within the low-detail box, or a ``describe`` question that needs no fine text.
    Otherwise the cheapest size (on a tile or patch boundary, the largest size for each token
    count) at which the page's small text (``text_height``, from the local engine's one read
    of the full page) is still TEXT_PX tall and its median word MIN_TEXT_PX; a page with no
    text keeps its size. Text pages are never sent at ``low``: its ~85 tokens are too few for
    a page of figures, however well OCR reads it. Unknown models and the local engine are left
    as they are (``auto``)."""
    size = (image.width, image.height)
    full = image_tokens(model_id, *size, "high")
    fam = family(model_id)
    if fam is None or fam.kind == "free" or full is None:
        return Plan("auto", size, full, full)
    if fam.kind == "tile" and (max(size) <= LOW_BOX or task == "describe"
                               and not NEEDS_TEXT.search(prompt)):
        return Plan("low", _fit(size, LOW_BOX), image_tokens(model_id, *size, "low"), full)
    candidates = [Plan("high", s, image_tokens(model_id, *s, "high"), full)
                  for s in _cheaper_sizes(model_id, size, full)]
    if not candidates:
        return Plan("high", size, full, full)
    from . import ocr  # the one read of the page, shared with verification

    read = ocr.read(image)
    if not read.text.strip():
        return Plan("high", size, full, full)  # nothing to read: keep every detail
    scale = max(TEXT_PX / max(1.0, text_height(read)),
                MIN_TEXT_PX / max(1.0, text_height(read, 0.5)))
    return next((c for c in candidates if c.size[0] >= size[0] * scale),
                Plan("high", size, full, full))


def _fit(size: tuple[int, int], box: int) -> tuple[int, int]:
    scale = min(1.0, box / max(size))
    return (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))


def _cheaper_sizes(model_id: str, size: tuple[int, int], full: int) -> list[tuple[int, int]]:
    """For each token count below ``full``, the largest size (in 0.5% steps down to 15%)
    that costs it; fewest tokens first."""
    best: dict[int, tuple[int, int]] = {}
    for step in range(995, 149, -5):
        w, h = max(1, size[0] * step // 1000), max(1, size[1] * step // 1000)
        tokens = image_tokens(model_id, w, h, "high")
        if tokens is not None and tokens < full and tokens not in best:
            best[tokens] = (w, h)
    return [best[t] for t in sorted(best)]


def _cer(truth: str, read: str) -> float:
    import difflib
    a, b = " ".join(truth.split()), " ".join(read.split())
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    edits = sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in matcher.get_opcodes()
                if op != "equal")
    return edits / max(1, len(a))


def optimize(request: Request, task: str | None = None) -> tuple[Request, int]:
    """Apply ``choose_detail`` to every image of a ``detail="auto"`` request; returns the
    request to send and the image tokens saved against full size at detail high. One detail
    level goes with the request: ``low`` only when every image may go low."""
    if request.detail != "auto" or family(request.model) is None or not request.images:
        return request, 0
    from .images import resize

    plans = [choose_detail(im, request.model, request.prompt, task or request.task)
             for im in request.images]
    if all(p.detail == "auto" for p in plans):
        return request, 0
    detail = "low" if all(p.detail == "low" for p in plans) else "high"
    sent = tuple(resize(im, *p.size) for im, p in zip(request.images, plans, strict=True))
    saved = sum((p.full_tokens or 0) - (image_tokens(request.model, im.width, im.height, detail)
                                        or 0) for im, p in zip(sent, plans, strict=True))
    return replace(request, images=sent, detail=detail), saved
