"""describe() and extract(): ask a model about images, read, validate and re-ask."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar, copy_context
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from . import cost, formats, ocr, output, providers, schemas
from . import images as images_mod
from .errors import (
    BadResponse,
    ConfigError,
    ExtractionError,
    PixelproofError,
    ProviderError,
    RefusalError,
    TruncatedError,
)
from .http import Http
from .options import DESCRIBE, Options
from .store import Store, cache_key
from .types import Detail, Extraction, Image, Request, Response, Turn, Usage

DEFAULT_PROMPT = "What is in this image?"
T = TypeVar("T")

ImageInput = str | bytes | Path | Image


def load_images(inputs: ImageInput | Iterable[ImageInput]) -> list[Image]:
    """Load every input (globs and folders expanded, PDFs split into pages)."""
    if isinstance(inputs, str | bytes | Path | Image):
        inputs = [inputs]
    out: list[Image] = []
    for item in inputs:
        if isinstance(item, Image):
            out.append(item)
        elif isinstance(item, str):
            for spec in images_mod.expand([item]):
                out.extend(images_mod.load(spec))
        else:
            out.extend(images_mod.load(item))
    return out


def run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine from synchronous code (the library's plain functions). Inside a running
    event loop (Jupyter, IPython, an async handler) it runs on a private loop in a worker
    thread, with the caller's context, while the caller waits."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    context = copy_context()
    with ThreadPoolExecutor(1, thread_name_prefix="pixelproof") as pool:
        return pool.submit(context.run, lambda: asyncio.run(make())).result()


def build_request(images: list[Image], prompt: str = DEFAULT_PROMPT, *, model: str | None = None,
                  detail: Detail = "auto", system: str | None = None,
                  max_tokens: int | None = None, temperature: float | None = None,
                  **extra: Any) -> Request:
    Options(model=model, detail=detail, max_tokens=max_tokens,
            temperature=temperature).checked()
    return Request(model=model or providers.default_model(), prompt=prompt,
                   images=tuple(images), system=system, detail=detail,
                   max_tokens=max_tokens, temperature=temperature, **extra)




async def send(request: Request, http: Http, *, base_url: str | None = None,
               budget: cost.Purse | None = None, store: Store | None = None,
               cache: bool = True) -> Response:
    """One request to its provider, priced; under a budget, its worst case is reserved first.
    With a store, usage is logged and a repeat comes from the cache (free, ``cached=True``);
    ``cache=False`` always asks, and caches the fresh answer."""
    target = providers.resolve(request.model, base_url)
    if store is None or target.spec.offline:
        return await _send(request, target, http, budget)
    key = cache_key(request, target.id, target.base_url)
    return (_from_cache(store, key, target) if cache else None) or _keep(
        store, key, target, await _send(request, target, http, budget))


def _from_cache(store: Store, key: str, target: providers.Target) -> Response | None:
    """The cached answer (logged as a cache hit), or None."""
    hit = store.cached(key)
    if hit is not None:
        store.record_usage(target.id, hit.usage, Decimal(0), cached=True)
    return hit


# Told the price of each answer paid for (not those from the cache): a batch run sets it per
# item, so its spend counts what was paid even when the item's answer later comes from the cache.
PAID: ContextVar[Callable[[Decimal | None], None] | None] = ContextVar("paid", default=None)


def _keep(store: Store, key: str, target: providers.Target, response: Response) -> Response:
    """Log a fresh response's usage, and cache it unless it is cut off or refused."""
    store.record_usage(target.id, response.usage, response.cost)
    if (paid := PAID.get()) is not None:
        paid(response.cost)
    if response.finish_reason not in ("length", "refusal") and not response.refusal and (
            response.text or response.finish_reason):
        store.remember(key, response)
    return response


async def _send(request: Request, target: providers.Target, http: Http,
                budget: cost.Purse | None) -> Response:
    held: cost.Reservation | None = None
    if budget is not None:
        if request.max_tokens is None:
            request = replace(request, max_tokens=cost.BUDGET_MAX_TOKENS)
        held = budget.reserve(cost.request_ceiling(request, request.max_tokens or 0))
    try:
        response = await providers.get(target).complete(request, target, http)
    except BaseException as e:
        # an HTTP error is not billed; a timeout may have been
        if budget is not None and held is not None:
            budget.settle(held, Decimal(0) if getattr(e, "status", None) else None)
        raise
    if response.cost is None:
        response = replace(response, cost=cost.cost_of(request.model, response.usage))
    if budget is not None and held is not None:
        budget.settle(held, response.cost)
    return response


def prepare(request: Request) -> tuple[Request, int]:
    """``detail="auto"``: each image at the cheapest size that stays legible (cost.plan);
    returns the request to send and the image tokens saved against full size."""
    return cost.optimize(request)


async def stream(request: Request, http: Http, *, base_url: str | None = None,
                 store: Store | None = None,
                 budget: cost.Purse | None = None) -> AsyncIterator[str | Response]:
    """Text pieces as they arrive, then the whole Response (from the cache when it is there);
    under a budget, the request's worst case is reserved first, as ``send`` does."""
    target = providers.resolve(request.model, base_url)
    key = cache_key(request, target.id, target.base_url) \
        if store and not target.spec.offline else ""
    hit = _from_cache(store, key, target) if store and key else None
    if hit is not None:
        yield hit.text
        yield hit
        return
    held = None
    if budget is not None and not target.spec.offline:
        if request.max_tokens is None:
            request = replace(request, max_tokens=cost.BUDGET_MAX_TOKENS)
        held = budget.reserve(cost.request_ceiling(request, request.max_tokens or 0))
    try:
        async for piece in _stream(request, target, http, store, key):
            if isinstance(piece, Response) and held is not None:
                budget.settle(held, piece.cost)  # type: ignore[union-attr]
                held = None
            yield piece
    finally:
        if held is not None:  # broken off: what it cost is not known
            budget.settle(held, None)  # type: ignore[union-attr]


async def _stream(request: Request, target: providers.Target, http: Http, store: Store | None,
                  key: str) -> AsyncIterator[str | Response]:
    async for piece in providers.get(target).stream(request, target, http):
        if isinstance(piece, Response):
            piece = replace(piece, cost=cost.cost_of(request.model, piece.usage)) \
                if piece.cost is None else piece
            if not (piece.text or piece.finish_reason or piece.refusal):
                if store:
                    store.record_usage(target.id, piece.usage, piece.cost)
                raise BadResponse(f"{target.id}: the answer had no content and no finish "
                                  "reason (the stream ended early, or the server does not "
                                  "stream). Try again; nothing was cached.",
                                  provider=target.provider)
            if store and key:
                piece = _keep(store, key, target, piece)
        yield piece


async def adescribe(image: ImageInput | Iterable[ImageInput], prompt: str = DEFAULT_PROMPT, *,
                    options: Options | None = None, http: Http | None = None,
                    budget: cost.Purse | None = None, store: Store | None = None,
                    **given: Any) -> Response:
    """Ask one question about one or several images, sent together in one request. The
    options (``model=``, ``detail=``, ...) are ``Options``' that a question takes."""
    opts = Options.of("describe", given, options, only=DESCRIBE)
    loaded = load_images(image)
    request, _ = await asyncio.to_thread(prepare, build_request(
        loaded, prompt, model=opts.model, detail=opts.detail,  # type: ignore[arg-type]
        system=opts.system, max_tokens=opts.max_tokens, temperature=opts.temperature))
    if http is not None:
        response = await send(request, http, base_url=opts.base_url, budget=budget, store=store)
    else:
        async with Http() as own:
            response = await send(request, own, base_url=opts.base_url, budget=budget,
                                  store=store)
    return await checked_claims(response, loaded) if opts.verify else response


async def checked_claims(response: Response, images: list[Image]) -> Response:
    """``response`` with the figures, dates and quotations of its text checked against the
    pages (``verification``: a Report with a Check per claim)."""
    from .verify.claims import check_claims, claims

    if not claims(response.text):
        return response  # nothing to check: no page is read
    try:
        reads = await asyncio.gather(*(ocr.aread(im) for im in images))  # in the pool at once
        pages = list(zip(images, reads, strict=True))
    except PixelproofError as e:  # an unreadable page does not lose an answer paid for
        logging.getLogger("pixelproof").warning("the answer's claims are not checked: %s", e)
        return response
    return replace(response, verification=await asyncio.to_thread(
        check_claims, response.text, pages))


def describe(image: ImageInput | Iterable[ImageInput], prompt: str = DEFAULT_PROMPT,
             **options: Any) -> Response:
    """Ask a vision model about images: ``describe("chart.png", "What trend does it show?")``.

    Returns a Response with ``text``, ``usage``, ``model``, ``seconds`` and ``verification``
    (the figures, dates and quotations of the text checked against the pages; ``verify=False``
    skips it); the options are ``adescribe``'s.
    """
    return run_sync(lambda: adescribe(image, prompt, **options))


def estimate(image: ImageInput | Iterable[ImageInput], prompt: str | None = None, *,
             model: str | None = None, detail: Detail = "auto",
             max_tokens: int | None = None) -> cost.Estimate:
    """Tokens and dollars of extracting from ``image`` (one request per image), before
    anything is sent: ``estimate("scans/", model="openai:gpt-4o-mini").cost``."""
    loaded = load_images(image)
    return cost.estimate(loaded, model or providers.default_model(), prompt or TABLES_PROMPT,
                         detail, max_tokens, requests=len(loaded))


# --- structured extraction ----------------------------------------------------------------

TABLES_PROMPT = (
    "Extract every table and every labelled value (like 'Total: 42.10') you can see in the "
    "image. Return each table as a Markdown table with a header row. Put the labelled values in "
    "one more table with the header | key | value |. Copy every value exactly as printed: do not "
    "compute, correct or invent anything; leave a cell empty when you cannot read it. Reply with "
    "the tables only.")
ROWS_PROMPT = (
    "Extract the data in the image as a JSON array of objects, one object per table row or "
    "record, with the column headers as keys. Copy every value exactly as printed; do not "
    "compute, correct or invent anything; use null when you cannot read it. Reply with the JSON "
    "only.")
SCHEMA_PROMPT = (
    "Extract the data in the image as JSON that matches the JSON Schema below. Copy every value "
    "exactly as printed (numbers as numbers, dates as YYYY-MM-DD); do not compute, correct or "
    "invent anything; use null for anything not visible. Reply with the JSON only.")
DEFAULT_ATTEMPTS = 3


def extraction_request(image: Image, schema: schemas.Schema | None, fmt: str, *,
                       model: str, prompt: str | None, native: bool, **options: Any) -> Request:
    """The first request for one image: native structured output where asked for."""
    if schema is None:
        text = prompt or (ROWS_PROMPT if fmt in ("json", "jsonl") else TABLES_PROMPT)
        return build_request([image], text, model=model, task="extract", **options)
    text = prompt or SCHEMA_PROMPT
    if not native:
        text += "\n\nJSON Schema:\n" + json.dumps(schema.json, indent=1)
    return build_request([image], text, model=model, task="extract",
                         json_schema=schema.wire if native else None, **options)


def read_answer(text: str, schema: schemas.Schema | None) -> tuple[Any, list[str]]:
    """(data, problems) from one answer; problems are worded for the re-ask."""
    if schema is not None:
        try:
            value = schema.unwrap(formats.find_json(text))
        except ExtractionError as e:
            return None, [str(e)]
        return schemas.validate(schema, value)
    if formats.markdown_tables(text):
        return formats.tables_rows(text), []
    try:
        value = formats.find_json(text)
    except ExtractionError:
        return None, ["no Markdown table or JSON array was found in the answer"]
    if isinstance(value, dict) and len(value) == 1 and isinstance(next(iter(value.values())),
                                                                  list):
        value = next(iter(value.values()))
    rows = value if isinstance(value, list) else [value]
    if not all(isinstance(r, dict) for r in rows):
        return None, ["expected a JSON array of objects (one per row)"]
    return rows, []


def reask(problems: list[str]) -> str:
    listed = "\n".join(f"- {p}" for p in problems)
    return (f"Your answer could not be used:\n{listed}\nReply again with the complete, corrected "
            "answer only.")


def records_of(data: Any) -> tuple[dict[str, Any], ...]:
    """Plain dicts for output: a list of rows, or one object as a single record."""
    items = data if isinstance(data, list) else [data]
    out = []
    for item in items:
        if hasattr(item, "model_dump"):
            item = item.model_dump(mode="json")
        out.append(item if isinstance(item, dict) else {"value": item})
    return tuple(out)


async def extract_one(image: Image, http: Http, *, verify: bool = True, votes: int = 1,
                      vote_models: tuple[str, ...] = (), **options: Any) -> Extraction:
    """Extract from one image; then (for LLM answers) check every value against the pixels and
    the arithmetic. With ``votes`` > 1 ask again, and with ``vote_models`` ask those models
    too, and report per-field agreement."""
    first = await _extract(image, http, **options)
    local = providers.resolve(options.get("model") or providers.default_model(),
                              options.get("base_url")).spec.offline
    if local or not (verify or votes > 1 or vote_models):
        return first
    from .verify import Report, check, vote

    if verify:
        await ocr.aread(image)  # the page's one read, waited for here rather than on a thread
    report = await asyncio.to_thread(check, image, first.data) if verify else Report(())
    if votes > 1 or vote_models:
        again = {**options, "store": None,
                 "temperature": options.get("temperature") or VOTE_TEMPERATURE}
        asks = [again] * (votes - 1) + [{**options, "model": m} for m in vote_models]
        others = await asyncio.gather(*(_extract(image, http, **ask) for ask in asks),
                                      return_exceptions=True)
        answers = [first.data] + [o.data for o in others if isinstance(o, Extraction)]
        report = replace(report, votes=tuple(vote(answers)))
        first = replace(first, usage=sum((o.usage for o in others if isinstance(
            o, Extraction)), first.usage))
    return replace(first, verification=report)


VOTE_TEMPERATURE = 0.7  # extra samples for --votes need some variety


async def _extract(image: Image, http: Http, *, schema: schemas.Schema | None = None,
                   fmt: str = "markdown", model: str | None = None, prompt: str | None = None,
                   attempts: int = DEFAULT_ATTEMPTS, base_url: str | None = None,
                   budget: cost.Purse | None = None, store: Store | None = None,
                   **options: Any) -> Extraction:
    """Ask, parse, validate; re-ask with the exact problems up to ``attempts`` times in all."""
    model = model or providers.default_model()
    target = providers.resolve(model, base_url)
    native = schema is not None
    if options.get("detail", "auto") == "auto" and cost.plan_reads(model, prompt or "",
                                                                  "extract"):
        await ocr.aread(image)  # the send size depends on the page's one read
    request, saved = await asyncio.to_thread(prepare, extraction_request(
        image, schema, fmt, model=model, prompt=prompt, native=native, **options))
    if target.spec.offline:
        attempts = 1  # the engine answers the same every time
    usage, turns = Usage(), tuple[Turn, ...]()
    spent: Decimal | None = Decimal(0)
    for attempt in range(1, attempts + 1):
        try:
            response = await send(replace(request, turns=turns), http, base_url=base_url,
                                  budget=budget, store=store)
        except ProviderError as e:
            if not (native and e.status == 400):
                raise
            # An OpenAI-compatible server without structured output: ask by prompt instead.
            native = False
            request = replace(request, json_schema=None, prompt=extraction_request(
                image, schema, fmt, model=model, prompt=prompt, native=False).prompt)
            response = await send(request, http, base_url=base_url, budget=budget,
                                  store=store)
        usage += response.usage
        spent = None if spent is None or response.cost is None else spent + response.cost
        if response.refusal or response.finish_reason == "refusal":
            raise RefusalError(f"{image.label}: the model refused: {response.refusal}",
                               attempts=attempt, last_text=response.text)
        if response.finish_reason == "length":
            raise TruncatedError(f"{image.label}: the answer was cut off at the token limit "
                                 "(finish_reason: length). Raise max_tokens=, or split the "
                                 "document.", attempts=attempt, last_text=response.text)
        data, problems = read_answer(response.text, schema)
        if not problems or target.spec.offline:  # the engine leaves unread fields null
            return Extraction(source=image.source, page=image.page, data=data,
                              records=records_of(data), text=response.text,
                              model=response.model, usage=usage, attempts=attempt,
                              cost=spent, cached=response.cached, saved_tokens=saved)
        turns = turns + (Turn("assistant", response.text), Turn("user", reask(problems)))
    raise ExtractionError(f"{image.label}: the answer did not fit after {attempts} attempts: "
                          f"{'; '.join(problems[:3])}", attempts=attempts,
                          last_text=response.text)


def tagged(items: Iterable[Extraction]) -> list[dict[str, Any]]:
    """Every record, each with its ``source`` (and ``page``) first."""
    out = []
    for item in items:
        where = {"source": item.source} | ({"page": item.page} if item.page else {})
        out += [where | r for r in item.records]
    return out


@dataclass
class ExtractResult:
    """Extractions from one or many images, in input order; failed items carry ``error``.
    ``one``: the input named one image, so ``data`` and ``records`` are that image's; else
    ``data`` holds each image's data and each record its ``source`` (and ``page``), for a
    list of one image as for a list of many."""

    items: list[Extraction]
    one: bool = False

    @property
    def data(self) -> Any:
        """The one image's data, or a list with each image's data."""
        return self.items[0].data if self._one else [i.data for i in self.items]

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every record; for a list of images each carries its ``source`` (and ``page``)."""
        return list(self.items[0].records) if self._one else tagged(self.items)

    @property
    def _one(self) -> bool:
        return self.one and len(self.items) == 1
    @property
    def failed(self) -> list[Extraction]:
        return [i for i in self.items if not i.ok]

    @property
    def usage(self) -> Usage:
        return sum((i.usage for i in self.items), Usage())

    def render(self, fmt: str = "markdown") -> str:
        return output.render(self.records, fmt)

    def to_pandas(self) -> Any:
        """The records as a DataFrame; for verified items, a ``FIELD_status`` column beside
        each field says the worst status of its values (verified, unverified, contradicted)."""
        try:
            import pandas as pd
        except ImportError:
            raise ConfigError("to_pandas() needs pandas: pip install 'pixelproof[pandas]'.") \
                from None
        from .view import record_statuses
        statuses = [s for i in self.items for s in record_statuses(i)]
        return pd.DataFrame([r | {f"{k}_status": v for k, v in s.items()}
                             for r, s in zip(self.records, statuses, strict=True)])

    def _repr_html_(self) -> str:  # Jupyter: each item's image with its boxes, and the values
        from .view import extraction_html
        return "".join(extraction_html(i) for i in self.items)


async def aextract(image: ImageInput | Iterable[ImageInput], schema: Any = None, *,
                   fields: str | None = None, options: Options | None = None,
                   concurrency: int = 8, http: Http | None = None,
                   budget: cost.Purse | None = None, store: Store | None = None,
                   **given: Any) -> ExtractResult:
    """Extract from every image (every PDF page) as its own item, concurrently. The options
    (``model=``, ``format=``, ``verify=``, ...) are ``Options``', checked before any image is
    asked: a misspelled one, a value out of range or a missing API key raise ConfigError."""
    opts = Options.of("extract", given, options)
    spec = schemas.from_fields(fields) if fields else (
        schemas.from_any(schema) if schema is not None else None)
    loaded = load_images(image)
    gate = asyncio.Semaphore(concurrency)
    ask = {**opts.asked(), "fmt": opts.format}
    ask.pop("format", None)

    async def one(im: Image, client: Http) -> Extraction:
        async with gate:
            try:
                return await extract_one(im, client, schema=spec, budget=budget, store=store,
                                         **ask)
            except PixelproofError as e:
                return Extraction(source=im.source, page=im.page, error=str(e))

    async def run(client: Http) -> ExtractResult:
        items = list(await asyncio.gather(*(one(im, client) for im in loaded)))
        return ExtractResult(items, one=isinstance(image, str | bytes | Path | Image))

    if http is not None:
        return await run(http)
    async with Http() as own:
        return await run(own)


def extract(image: ImageInput | Iterable[ImageInput], schema: Any = None,
            **options: Any) -> ExtractResult:
    """Extract data from images: tables and key values, or objects matching ``schema``
    (a Pydantic model, a JSON Schema dict or file). ``fields="date:date, amount:number"`` is a
    shorthand for rows of those fields. Each image (each PDF page) is its own item; the
    options are ``aextract``'s."""
    return run_sync(lambda: aextract(image, schema, **options))
