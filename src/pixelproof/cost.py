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
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from . import providers
from .errors import BudgetError, ConfigError
from .types import Image, Request, Usage

# --- image token formulas -------------------------------------------------------------------

# OpenAI, "Images and vision: calculating costs" (platform.openai.com/docs/guides/images-vision,
# read 2025-10): tile models fit the image in 2048x2048, scale the shortest side down to 768,
# count 512 px tiles: base + tiles x per-tile; detail "low" costs the base alone.
TILE_MODELS = {"gpt-4o-mini": (2833, 5667), "gpt-4o": (85, 170), "gpt-4.1": (85, 170),
               "gpt-4.5": (85, 170), "gpt-5-chat-latest": (70, 140), "gpt-5": (70, 140),
               "o1": (75, 150), "o3": (75, 150), "computer-use-preview": (65, 129)}
# Same page: patch models count 32 px patches, scaled down to at most 1536 patches, times a
# per-model multiplier.
PATCH_MODELS = {"gpt-4.1-mini": 1.62, "gpt-4.1-nano": 2.46, "o4-mini": 1.72,
                "gpt-5-mini": 1.62, "gpt-5-nano": 2.46}
PATCH_CAP = 1536
# Anthropic, "Vision: evaluate image size" (docs.anthropic.com/en/docs/build-with-claude/vision,
# read 2025-10): images are scaled to fit a 1568 px long edge and about 1.15 megapixels
# (1092x1092 at 1:1), then cost about width x height / 750 tokens.
CLAUDE_EDGE, CLAUDE_PIXELS = 1568, 1092 * 1092
# Google, "Image understanding: tokens" (ai.google.dev/gemini-api/docs/image-understanding,
# read 2025-10): Gemini 2.x counts 258 tokens for an image of at most 384 px on both sides,
# otherwise 258 per 768x768 tile.
GEMINI_TOKENS, GEMINI_SMALL, GEMINI_TILE = 258, 384, 768


@dataclass(frozen=True)
class Family:
    """How one model counts image tokens; ``name`` is also its key in the price file."""

    provider: str
    name: str
    kind: str  # tile, patch, claude, gemini, free


def family(model_id: str) -> Family | None:
    """The token-counting family of a model id, or None when no published formula fits."""
    target = providers.resolve(model_id, base_url="http://unused")
    if target.provider == "local":
        return Family("local", "", "free")
    name = target.model.lower().rsplit("/", 1)[-1]
    name = re.sub(r"-(\d{4}-\d{2}-\d{2}|\d{8}|latest)$", "", name)
    if "claude" in name:
        return Family("anthropic", name, "claude")
    if name.startswith("gemini"):
        return Family("gemini", name, "gemini")
    for table, kind in ((PATCH_MODELS, "patch"), (TILE_MODELS, "tile")):
        for known in sorted(table, key=len, reverse=True):
            if name == known or name.startswith(known + "-"):
                return Family("openai", known, kind)
    return None


def _fit(w: float, h: float, scale: float) -> tuple[float, float]:
    return (w * scale, h * scale) if scale < 1 else (w, h)


def sent_size(model_id: str, width: int, height: int,
              detail: str = "auto") -> tuple[int, int] | None:
    """The size the provider works on after its own resize, or None when unknown."""
    fam = family(model_id)
    if fam is None:
        return None
    w, h = float(width), float(height)
    if fam.kind == "tile":
        if detail == "low":
            return (min(width, 512), min(height, 512))
        w, h = _fit(w, h, 2048 / max(w, h))
        w, h = _fit(w, h, 768 / min(w, h))
    elif fam.kind == "patch":
        if math.ceil(w / 32) * math.ceil(h / 32) > PATCH_CAP:
            shrink = math.sqrt(32 * 32 * PATCH_CAP / (w * h))
            shrink *= min(math.floor(w * shrink / 32) / (w * shrink / 32),
                          math.floor(h * shrink / 32) / (h * shrink / 32))
            w, h = w * shrink, h * shrink
    elif fam.kind == "claude":
        w, h = _fit(w, h, CLAUDE_EDGE / max(w, h))
        w, h = _fit(w, h, math.sqrt(CLAUDE_PIXELS / (w * h)))
    return (int(w), int(h))


def image_tokens(model_id: str, width: int, height: int, detail: str = "auto") -> int | None:
    """Input tokens one image costs (``auto`` is counted as ``high``), None when unknown."""
    fam = family(model_id)
    size = sent_size(model_id, width, height, detail)
    if fam is None or size is None:
        return None
    w, h = size
    if fam.kind == "free":
        return 0
    if fam.kind == "tile":
        base, tile = TILE_MODELS[fam.name]
        return base if detail == "low" else base + tile * math.ceil(w / 512) * math.ceil(h / 512)
    if fam.kind == "patch":
        patches = min(PATCH_CAP, math.ceil(w / 32) * math.ceil(h / 32))
        return math.ceil(patches * PATCH_MODELS[fam.name])
    if fam.kind == "claude":
        return math.ceil(w * h / 750)
    if w <= GEMINI_SMALL and h <= GEMINI_SMALL:
        return GEMINI_TOKENS
    return GEMINI_TOKENS * math.ceil(w / GEMINI_TILE) * math.ceil(h / GEMINI_TILE)


def text_tokens(text: str) -> int:
    """A rough count for prompt text: about four characters per token (an estimate)."""
    return math.ceil(len(text) / 4)


# --- prices ---------------------------------------------------------------------------------

@cache
def _bundled() -> dict[str, Any]:
    return json.loads(resources.files("pixelproof").joinpath("data/prices.json").read_text())


_default: dict[str, Any] | None = None


def use_price_file(path: str | Path | None) -> None:
    """Make ``path`` (merged over the bundled table) the prices used when none are passed."""
    global _default
    _default = load_prices(path) if path else None


def load_prices(path: str | Path | None = None) -> dict[str, Any]:
    """The bundled price table, with a user's ``--price-file`` merged over it."""
    table = dict(_bundled())
    if path is not None:
        try:
            extra = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise ConfigError(f"{path}: cannot read the price file ({e}). It is JSON like "
                              '{"models": {"openai:gpt-4o": {"input": "2.50", ...}}}.') from None
        table["models"] = {**table["models"], **extra.get("models", {})}
        table["date"] = extra.get("date", table["date"])
    return table


def price(model_id: str, prices: dict[str, Any] | None = None) -> dict[str, Decimal] | None:
    prices = prices or _default or _bundled()
    fam = family(model_id)
    target = providers.resolve(model_id, base_url="http://unused")
    keys = [target.id] + ([f"{fam.provider}:{fam.name}"] if fam and fam.name else []) + (
        ["local"] if target.provider == "local" else [])
    for key in keys:
        if key in prices["models"]:
            return {k: Decimal(str(v)) for k, v in prices["models"][key].items()}
    return None


def cost_of(model_id: str, usage: Usage, batch: bool = False,
            prices: dict[str, Any] | None = None) -> Decimal | None:
    """Dollars for real usage; cached input tokens at the cached price. None when unknown."""
    p = price(model_id, prices)
    if p is None:
        return None
    fresh = usage.input_tokens - usage.cached_tokens
    if batch:
        total = fresh * p["batch_input"] + usage.cached_tokens * p["batch_input"] \
            + usage.output_tokens * p["batch_output"]
    else:
        total = fresh * p["input"] + usage.cached_tokens * p["cached_input"] \
            + usage.output_tokens * p["output"]
    return total / Decimal(1_000_000)


# --- estimates ------------------------------------------------------------------------------

DEFAULT_OUTPUT = 1024  # assumed answer length when no max_tokens is given


@dataclass(frozen=True)
class ImageCost:
    label: str
    size: tuple[int, int]
    sent: tuple[int, int] | None
    tokens: int | None


@dataclass(frozen=True)
class Estimate:
    model: str
    images: tuple[ImageCost, ...]
    text_tokens: int
    output_tokens: int
    cost: Decimal | None

    @property
    def input_tokens(self) -> int | None:
        tokens = [i.tokens for i in self.images]
        return None if None in tokens else sum(tokens) + self.text_tokens  # type: ignore


def estimate(images: list[Image], model_id: str, prompt: str = "", detail: str = "auto",
             max_tokens: int | None = None, schema: dict[str, Any] | None = None,
             prices: dict[str, Any] | None = None, requests: int = 1) -> Estimate:
    """Tokens and dollars for sending ``images`` with ``prompt``, before sending anything.
    ``requests`` > 1 counts one request per image (an extract batch) with the prompt in each."""
    rows = tuple(ImageCost(im.label, (im.width, im.height),
                           sent_size(model_id, im.width, im.height, detail),
                           image_tokens(model_id, im.width, im.height, detail)) for im in images)
    text = text_tokens(prompt + (json.dumps(schema) if schema else "")) * requests
    output = (max_tokens or DEFAULT_OUTPUT) * requests
    est = Estimate(model_id, rows, text, output, None)
    if est.input_tokens is None:
        return est
    return replace(est, cost=cost_of(model_id, Usage(est.input_tokens, output), prices=prices))


def money(cost: Decimal | None) -> str:
    return "unknown" if cost is None else f"${cost:.4f}"


def render_estimate(est: Estimate) -> str:
    """A plain table of images, sizes, tokens and the total."""
    lines = [f"{'image':40} {'size':>11} {'sent as':>11} {'tokens':>8}"]
    for row in est.images:
        sent = f"{row.sent[0]}x{row.sent[1]}" if row.sent else "?"
        tokens = "unknown" if row.tokens is None else str(row.tokens)
        lines.append(f"{row.label[-40:]:40} {row.size[0]:>5}x{row.size[1]:<5} {sent:>11} "
                     f"{tokens:>8}")
    total = est.input_tokens
    lines.append(f"{'prompt text (about)':64} {est.text_tokens:>8}")
    lines.append(f"total: {'unknown' if total is None else total} input tokens, up to "
                 f"{est.output_tokens} output tokens; {money(est.cost)} with {est.model}")
    if total is None:
        lines.append("No published image token formula is known for this model; "
                     "the cost cannot be estimated.")
    return "\n".join(lines)


# --- budget ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reservation:
    amount: Decimal


class Budget:
    """A spending cap: reserve a request's worst case before sending, settle with the real cost
    after. Reservations and spend together never exceed the cap, whatever the concurrency."""

    def __init__(self, max_cost: Decimal | float | str) -> None:
        self.max_cost = Decimal(str(max_cost))
        self.spent = Decimal(0)
        self.reserved = Decimal(0)
        self._lock = threading.Lock()

    def reserve(self, amount: Decimal | None) -> Reservation:
        if amount is None:
            raise BudgetError("--max-cost needs a cost estimate, but this model's price or "
                              "image formula is unknown. Add it with --price-file.")
        with self._lock:
            if self.spent + self.reserved + amount > self.max_cost:
                raise BudgetError(
                    f"the next request (up to {money(amount)}) would take the spend past "
                    f"--max-cost {money(self.max_cost)} ({money(self.spent)} spent, "
                    f"{money(self.reserved)} in flight). Raise --max-cost to go on.")
            self.reserved += amount
            return Reservation(amount)

    def settle(self, reservation: Reservation, actual: Decimal | None) -> None:
        """Replace the reservation with the real cost (the reservation itself when unknown)."""
        with self._lock:
            self.reserved -= reservation.amount
            self.spent += reservation.amount if actual is None else actual


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


@dataclass(frozen=True)
class Plan:
    """How to send one image: the detail level, the size, and the tokens against full size."""

    detail: str
    size: tuple[int, int]
    tokens: int | None
    full_tokens: int | None

    @property
    def saved(self) -> int:
        return (self.full_tokens or 0) - (self.tokens or 0)


def plan(image: Image, model_id: str, prompt: str = "", task: str = "extract") -> Plan:
    """``low`` where it is enough (a small image, or a question that needs no fine text);
    otherwise the smallest size, on a tile or patch boundary, at which the local engine still
    reads the text as it does at full size."""
    size = (image.width, image.height)
    full = image_tokens(model_id, *size, "high")
    fam = family(model_id)
    if fam is None or fam.kind == "free" or full is None:
        return Plan("auto", size, full, full)
    if fam.kind == "tile" and (max(size) <= 512 or task == "describe"
                               and not NEEDS_TEXT.search(prompt)):
        return Plan("low", size, image_tokens(model_id, *size, "low"), full)
    candidates = _cheaper_sizes(model_id, size, full)
    if not candidates:
        return Plan("high", size, full, full)
    from . import images, ocr  # the legibility check needs the local engine

    reference = ocr.read(image).text
    if not reference.strip():
        return Plan("high", size, full, full)  # nothing to read: keep every detail

    def legible(candidate: tuple[int, int]) -> bool:
        small = ocr.read(images.resize(image, *candidate)).text
        return _cer(reference, small) <= LEGIBLE_CER

    lo, hi, best = 0, len(candidates) - 1, None
    while lo <= hi:  # candidates go from fewest tokens up; legibility grows with size
        mid = (lo + hi) // 2
        if legible(candidates[mid]):
            best, hi = candidates[mid], mid - 1
        else:
            lo = mid + 1
    if best is None:
        return Plan("high", size, full, full)
    return Plan("high", best, image_tokens(model_id, *best, "high"), full)


def _cheaper_sizes(model_id: str, size: tuple[int, int], full: int) -> list[tuple[int, int]]:
    """For each token count below ``full``, the largest size that costs it (fewest first)."""
    best: dict[int, tuple[int, int]] = {}
    for step in range(98, 19, -2):
        w, h = round(size[0] * step / 100), round(size[1] * step / 100)
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
    """Apply ``plan`` to every image of a ``detail="auto"`` request; returns the tokens saved."""
    if request.detail != "auto" or family(request.model) is None or not request.images:
        return request, 0
    from .images import resize

    plans = [plan(im, request.model, request.prompt, task or request.task)
             for im in request.images]
    if all(p.detail == "auto" for p in plans):
        return request, 0
    detail = "low" if all(p.detail == "low" for p in plans) else "high"
    sent = tuple(im if p.size == (im.width, im.height) else resize(im, *p.size)
                 for im, p in zip(request.images, plans, strict=True))
    saved = sum(p.saved for p in plans if p.detail == detail)
    return replace(request, images=sent, detail=detail), saved
