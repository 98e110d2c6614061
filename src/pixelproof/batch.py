"""Many inputs, concurrently up to the rate limit, resumable from the run store.

Every image (every PDF page) is one item of a run, keyed by its label and the sha256 of its
file, so a file changed under the same name is a new item. With ``run=NAME`` the store records
each item as it finishes, so a killed run resumes: done items are not asked again (no request,
no cost), failed and interrupted ones are.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import time
import traceback
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from contextlib import aclosing
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from typing import Any

import httpx

from . import cost, ocr, providers, schemas
from . import images as images_mod
from .batchapi import META, run_batch
from .cost import Purse
from .errors import (
    ConfigError,
    ConnectionRefused,
    InputError,
    PixelproofError,
    ProviderError,
)
from .extract import (
    PAID,
    build_request,
    extract_one,
    extraction_request,
    prepare,
    read_answer,
    records_of,
    run_sync,
    send,
)
from .http import Http, retry_after
from .options import Options
from .store import Store
from .types import Extraction, Image, Usage
from .verify import check


class RateLimiter:
    """Requests and tokens per minute over a sliding window, and pauses for everyone when the
    provider says so: a 429's Retry-After, or ``x-ratelimit-remaining-*`` too low until its
    ``x-ratelimit-reset-*``. Tokens per request start at ``tokens_per_request`` and follow the
    ``usage`` the answers report."""

    def __init__(self, rpm: int | None = None, tpm: int | None = None,
                 tokens_per_request: int = 1000, window: float = 60.0) -> None:
        self.rpm, self.tpm, self.tokens = rpm, tpm, float(tokens_per_request)
        self.window = window
        self.sent: deque[tuple[float, float]] = deque()  # (when, tokens counted)
        self.paused_until = 0.0
        self._lock = asyncio.Lock()

    def _delay(self, now: float) -> float:
        while self.sent and self.sent[0][0] <= now - self.window:
            self.sent.popleft()
        delay = self.paused_until - now
        if not self.sent:
            return delay
        full = self.rpm is not None and len(self.sent) >= self.rpm
        if self.tpm is not None:
            used = sum(tokens for _, tokens in self.sent)
            full = full or used + min(self.tokens, self.tpm) > self.tpm
        return max(delay, self.sent[0][0] + self.window - now) if full else delay

    async def wait(self) -> None:
        async with self._lock:
            while (delay := self._delay(time.monotonic())) > 0:
                await asyncio.sleep(delay)
            self.sent.append((time.monotonic(), self.tokens))

    def observe(self, response: httpx.Response) -> None:
        used = _total_tokens(response)
        if used:  # a running mean, so the tpm window counts what requests really take
            self.tokens = 0.8 * self.tokens + 0.2 * used
        headers = response.headers
        pause = (retry_after(headers) or 1.0) if response.status_code == 429 else 0.0
        for kind, need in (("requests", 1.0), ("tokens", self.tokens)):
            left = headers.get(f"x-ratelimit-remaining-{kind}")
            try:
                low = left is not None and float(left) < need
            except ValueError:
                low = False
            if low:
                pause = max(pause, _duration(headers.get(f"x-ratelimit-reset-{kind}")) or 1.0)
        if pause:
            self.paused_until = max(self.paused_until, time.monotonic() + pause)


def _total_tokens(response: httpx.Response) -> int:
    """``usage.total_tokens`` of a read JSON answer (0 when streamed, absent or not JSON)."""
    if response.status_code >= 400:
        return 0
    try:
        usage = response.json().get("usage") or {}
    except (ValueError, AttributeError, httpx.ResponseNotRead):
        return 0
    total = usage.get("total_tokens") if isinstance(usage, dict) else None
    return total if isinstance(total, int) else 0


def _duration(text: str | None) -> float:
    """OpenAI's reset durations: "1s", "6m0s", "20ms", or plain seconds."""
    text = (text or "").strip()
    try:
        return float(text)
    except ValueError:
        pass
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(ms|h|m|s)", text))


@dataclass(frozen=True)
class Item:
    """One image of a batch: what to load, and the key the run store knows it by."""

    key: str
    source: str
    page: int | None = None
    image: Image | None = field(default=None, repr=False)  # inputs that can be read only once
    error: str | None = None  # the input could not be read: the item fails, unrecorded
    size: tuple[int, int] | None = None  # a PDF page's rendered size, known without rendering

    @classmethod
    def of(cls, image: Image) -> Item:
        """The item of an image already loaded (stdin, a data URL, an upload)."""
        return cls(_key(image.label, image.sha256), image.source, image.page, image)

    @property
    def label(self) -> str:
        return f"{self.source}#page={self.page}" if self.page else self.source

    def load(self) -> Image:
        if self.image is not None:
            return self.image
        if _is_url(self.source):
            loaded = images_mod.load(self.source)
            if len(loaded) > 1:
                raise InputError(self.source, f"is a PDF of {len(loaded)} pages", "Download it "
                                 "and pass the file (or a URL ending in .pdf): each page is "
                                 "its own item.")
            return loaded[0]
        if self.page and not _PDF_PAGE.fullmatch(self.label):  # a PDF without .pdf in its name
            return images_mod.load(self.source)[self.page - 1]
        (image,) = images_mod.load(self.label)
        return replace(image, source=self.source)  # load() keeps "#page=N" in the source

    def outline(self) -> Image:
        """What a cost estimate needs, its label and size: for a PDF page without rendering it
        (an image with no pixels), for anything else the image."""
        if self.size is None:
            return self.load()
        return Image(b"", "image/png", *self.size, source=self.source, sha256="",
                     page=self.page)


_PDF_PAGE = images_mod.PAGED  # scan.pdf#page=2, scan.tif#page=2


def _is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def _key(label: str, sha256: str) -> str:
    return f"{label}@{sha256[:16]}"


def plan(inputs: Iterable[str]) -> list[Item]:
    """Every image of ``inputs`` (globs and folders expanded, each PDF page its own item), in
    input order, each once. Files are only hashed here (and PDFs' pages counted); they are
    loaded when their turn comes. Image URLs are known by their address and downloaded at
    their turn; stdin, data URLs and PDF URLs are read now, once."""
    out: dict[str, Item] = {}
    for spec in images_mod.expand(list(inputs)):
        for item in _items_of(spec):
            out.setdefault(item.key, item)
    return list(out.values())


def load_one(spec: str) -> Image:
    """The one image ``spec`` names (a file, URL, data URL, stdin or one PDF page), labelled as
    a batch labels it; raises InputError when it names several."""
    items = plan([spec])
    if len(items) > 1:
        what = f"a PDF of {len(items)} pages" if all(i.page for i in items) else \
            f"{len(items)} images"
        raise InputError(spec, f"is {what}", "Give one image, or one page as FILE.pdf#page=N.")
    if items[0].error:
        raise PixelproofError(items[0].error)
    return items[0].load()


def load_document(spec: str) -> list[Image]:
    """The pages ``spec`` names: one image, or every page of one PDF or TIFF (one page with
    ``#page=N``); raises InputError when it names several images."""
    items = plan([spec])
    if not all(i.page for i in items) and len(items) > 1:
        raise InputError(spec, f"is {len(items)} images", "Give one image, or one document "
                         "(a PDF or a TIFF).")
    for item in items:
        if item.error:
            raise PixelproofError(item.error)
    return [item.load() for item in items]


def _items_of(spec: str) -> list[Item]:
    if _is_url(spec) and not spec.split("?")[0].lower().endswith(".pdf"):
        return [Item(spec, spec)]  # known by its address; downloaded at its turn
    m = _PDF_PAGE.fullmatch(spec)
    path, page = (m.group(1), int(m.group(2))) if m else (spec, None)
    if page == 0:
        return [Item(spec, spec, error=f"{spec}: there is no page 0 (pages count from 1). "
                     "Use #page=1 for the first page.")]
    try:
        if spec == "-" or _is_url(spec) or spec.startswith("data:"):
            return [Item.of(im) for im in images_mod.load(spec)]
        data = images_mod._read_file(spec, path, images_mod.MAX_BYTES)
    except (PixelproofError, OSError) as e:
        return [Item(spec, spec, error=str(e))]
    sha = hashlib.sha256(data).hexdigest()
    sizes = _page_sizes(data)
    if page:
        size = sizes[page - 1] if page <= len(sizes) else None
        return [Item(_key(spec, sha), path, page, size=size)]
    if not sizes:
        return [Item(_key(spec, sha), spec)]
    return [Item(_key(f"{path}#page={p}", sha), path, p, size=size)
            for p, size in enumerate(sizes, 1)]


def _page_sizes(data: bytes) -> list[tuple[int, int] | None]:
    """Each page of a PDF (its rendered size) or of a TIFF of several (None: known once
    loaded); [] for anything else, or a file too damaged to open (loading says so)."""
    if images_mod.sniff(data) == "image/tiff":
        pages = images_mod.tiff_pages(data)
        return [None] * pages if pages > 1 else []
    if images_mod.sniff(data) != "application/pdf":
        return []
    return list(images_mod.pdf_page_sizes(data))


def limiter_for(items: list[Item], rpm: int | None, tpm: int | None, model: str,
                prompt: str | None = None, detail: str = "auto",
                max_tokens: int | None = None) -> RateLimiter | None:
    """The limiter for ``--rpm``/``--tpm`` (None without them). Until answers report their
    usage, ``--tpm`` counts each request as the first readable image's estimate."""
    if not (rpm or tpm):
        return None
    return RateLimiter(rpm, tpm, _first_guess(items, model, prompt or "", detail, max_tokens)
                       if tpm else 1000)


def _first_guess(items: list[Item], model: str, prompt: str, detail: str,
                 max_tokens: int | None) -> int:
    for item in items[:5]:
        try:
            image = item.outline() if item.error is None else None
        except PixelproofError:
            continue
        if image is not None:
            est = cost.estimate([image], model, prompt, detail, max_tokens)
            return est.input_tokens + est.output_tokens if est.input_tokens else 1000
    return 1000


@dataclass
class Progress:
    total: int
    done: int = 0
    failed: int = 0
    skipped: int = 0  # done in an earlier attempt of the run: not asked again
    cost: Decimal = Decimal(0)
    cost_known: bool = True
    started: float = field(default_factory=time.monotonic)

    def add(self, item: Extraction) -> None:
        if item.ok:
            self.done += 1
            self.cost_known = self.cost_known and item.cost is not None
            self.cost += item.cost or 0
        else:
            self.failed += 1

    def tell(self, item: Extraction,
             on_item: Callable[[Extraction, Progress], None] | None) -> None:
        """Count ``item``, and tell ``on_item`` with the counts so far."""
        self.add(item)
        if on_item is not None:
            on_item(item, self)

    @property
    def spend(self) -> str:
        return f"${self.cost:.4f}" + ("" if self.cost_known else " + unknown")

    @property
    def rate(self) -> float:
        """Items per second asked in this process (skipped ones left out)."""
        return (self.done + self.failed - self.skipped) / max(
            1e-9, time.monotonic() - self.started)


def to_json(item: Extraction) -> dict[str, Any]:
    report = item.verification
    out = asdict(replace(item, verification=None))
    out["data"] = _plain(item.data)
    out["verification"] = report.to_dict() if hasattr(report, "to_dict") else report
    return out


def _plain(data: Any) -> Any:
    if hasattr(data, "model_dump"):
        return data.model_dump(mode="json")
    if isinstance(data, list):
        return [_plain(d) for d in data]
    return data


def from_json(data: dict[str, Any]) -> Extraction:
    cost = data.get("cost")
    return Extraction(**{**data, "records": tuple(data["records"]), "usage": Usage(
        **data["usage"]), "cost": None if cost is None else Decimal(str(cost))})


def done_items(store: Store, run: str) -> dict[str, Extraction]:
    """The finished items of ``run`` by key, from the store."""
    return {i.key: from_json(i.result) for i in store.items(run, "done")
            if isinstance(i.result, dict)}


def run_options(task: str, prompt: str | None, model: str | None, fmt: str,
                spec: schemas.Schema | None) -> dict[str, Any]:
    """What a run is recorded with; resuming with other options is refused."""
    return {"task": task, "prompt": prompt, "model": model, "format": fmt,
            "schema": spec.json if spec else None}


def _schema(schema: Any, fields: str | None) -> schemas.Schema | None:
    return schemas.from_fields(fields) if fields else (
        schemas.from_any(schema) if schema is not None else None)


async def abatch(inputs: Iterable[str] | list[Item], *, task: str = "extract",
                 prompt: str | None = None, schema: Any = None, fields: str | None = None,
                 format: str = "markdown", model: str | None = None, concurrency: int = 8,
                 rpm: int | None = None, tpm: int | None = None, run: str | None = None,
                 store: Store | None = None, http: Http | None = None,
                 budget: Purse | None = None, retries: int = 3, base_url: str | None = None,
                 batch_api: bool = False, poll_seconds: float = 30.0,
                 on_item: Callable[[Extraction, Progress], None] | None = None,
                 executor: Any = None, **options: Any) -> AsyncGenerator[Extraction, None]:
    """Each image's Extraction as it finishes (failed ones carry ``error``). Done items of a
    resumed run come first, from the store. ``task="describe"`` asks ``prompt`` of each image
    on its own. ``inputs`` are paths, globs, folders, URLs, ``-``, or ``plan()``'s items.
    ``executor`` (``pixelproof.ray.Executor``) runs the items elsewhere; the store stays here.
    The other options are ``Options``', checked before any item runs."""
    Options.of("batch", {"prompt": prompt, "format": format, "model": model,
                         "base_url": base_url, **options})
    given = list(inputs)
    items = [i for i in given if isinstance(i, Item)]
    if len(items) < len(given):
        items = await asyncio.to_thread(plan, [str(i) for i in given])
    owned = Store() if run is not None and store is None else None
    try:
        with ocr.remember_in(store or owned):  # each page read once, kept for the next run
            async with aclosing(_run(
                    items, task, _schema(schema, fields), format,
                    model or providers.default_model(), prompt, concurrency, rpm, tpm, run,
                    store or owned, http, budget, retries, base_url, batch_api, poll_seconds,
                    on_item, executor, options)) as results:
                async for result in results:
                    yield result
    finally:
        if owned is not None:
            owned.close()


async def _run(items: list[Item], task: str, spec: schemas.Schema | None, format: str,
               model: str | None, prompt: str | None, concurrency: int, rpm: int | None,
               tpm: int | None, run: str | None, store: Store | None, http: Http | None,
               budget: Purse | None, retries: int, base_url: str | None, batch_api: bool,
               poll_seconds: float,
               on_item: Callable[[Extraction, Progress], None] | None,
               executor: Any, options: dict[str, Any]) -> AsyncGenerator[Extraction, None]:
    progress = Progress(len(items))
    done: dict[str, Extraction] = {}
    spent: dict[str, Decimal | None] = {}  # what each item's answers cost, as they are paid
    if run is not None and store is not None:
        done, spent = _resume(store, run, items, run_options(task, prompt, model, format, spec))
    for item in items:
        if item.key in done:
            progress.skipped += 1
            progress.tell(done[item.key], on_item)
            yield done[item.key]
    todo = [i for i in items if i.key not in done]
    keep = store if run is not None else None
    if (batch_api or executor is not None) and todo:
        elsewhere = _batch_api(todo, spec, format, model, prompt, base_url, store, run,
                               poll_seconds, http, options) if batch_api else executor.run(
            todo, task=task, spec=spec, fmt=format, model=model, prompt=prompt, store=store,
            run=run, spent=spent, http=http, concurrency=concurrency, budget=budget,
            retries=retries, base_url=base_url, options=options,
            # the executor's workers share one limiter: --rpm/--tpm's, else the client's
            limiter=limiter_for(todo, rpm, tpm, model or "", prompt, options.get(
                "detail", "auto"), options.get("max_tokens")) or (http and http.limiter))
        async with aclosing(elsewhere) as answered:
            async for result in answered:
                progress.tell(result, on_item)
                yield result
        return
    limiter = limiter_for(todo, rpm, tpm, model or "", prompt, options.get("detail", "auto"),
                          options.get("max_tokens"))
    own = http is None
    client = http or Http(retries=retries, limiter=limiter,
                          max_connections=max(concurrency, 10))
    if limiter and not own:
        client.limiter = limiter
    gate = asyncio.Semaphore(concurrency)
    ahead = asyncio.Semaphore(2 * concurrency)  # images read before their turn, bounded
    loading = asyncio.Semaphore(ocr.cores())  # decoding and rendering: CPU work, a core each
    outage = _outage(client, model, base_url)
    reads = wants_read(task, model, prompt, base_url, options)

    async def one(item: Item) -> Extraction:
        async with ahead:
            async with loading if not _is_url(item.source) else contextlib.nullcontext():
                image = await _load(item)  # a download waits on the network, not a core
            if reads and isinstance(image, Image):
                ocr.submit(image)  # read while the item waits and its request is out
            async with gate:
                if keep is not None and item.error is None:
                    keep.start(run, item.key)  # type: ignore[arg-type]
                    PAID.set(lambda price: _paid(keep, run, item.key, spent, price))
                result = image if isinstance(image, Extraction) else await _item(
                    image, task, client, spec, format, model, prompt, budget, store,
                    base_url, options, outage)
                if keep is not None and item.error is None:
                    _keep_item(keep, run, item.key, result, spent)  # type: ignore[arg-type]
                return result

    tasks = [asyncio.ensure_future(one(item)) for item in todo]
    try:
        for finished in asyncio.as_completed(tasks):
            result = await finished
            progress.tell(result, on_item)
            yield result
    finally:
        for t in tasks:
            t.cancel()
        if outage is not None:
            outage.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        if own:
            await client.aclose()


def _outage(http: Http, model: str | None, base_url: str | None) -> Outage | None:
    """The shared outage pause for the model's server (None offline, or for a model id that
    does not resolve: each item reports it)."""
    try:
        target = providers.resolve(model or providers.default_model(), base_url)
    except PixelproofError:
        return None
    return None if target.spec.offline else Outage(http, target.base_url, OUTAGE_SECONDS)


def _resume(store: Store, run: str, items: list[Item], options: dict[str, Any],
            ) -> tuple[dict[str, Extraction], dict[str, Decimal | None]]:
    """Open ``run`` (refused when it was started with other options) with ``items``: its done
    items by key, and what the others' answers already cost."""
    store.open_run(run, options)
    store.add_items(run, [i.key for i in items if i.error is None])
    store.requeue(run)
    spent: dict[str, Decimal | None] = {
        i.key: i.cost for i in store.items(run) if i.status != "done" and i.cost}
    return done_items(store, run), spent


def wants_read(task: str, model: str | None, prompt: str | None, base_url: str | None,
               options: dict[str, Any]) -> bool:
    """Whether each item needs the local engine's read of its page: for the local answer,
    for verification, or for ``--detail auto``'s choice of size."""
    target = providers.resolve(model or providers.default_model(), base_url)
    if target.spec.offline:
        return True
    if task == "extract" and options.get("verify", True):
        return True
    return options.get("detail", "auto") == "auto" and cost.plan_reads(
        model or "", prompt or "", task)


async def _load(item: Item) -> Image | Extraction:
    """The item's image, or its failed Extraction when it cannot be read."""
    if item.error is not None:
        return Extraction(source=item.source, error=item.error)
    try:
        return await asyncio.to_thread(item.load)
    except PixelproofError as e:
        return Extraction(source=item.source, page=item.page, error=str(e))
    except Exception as e:  # a bug: this item fails, the batch goes on
        return Extraction(source=item.source, page=item.page, error=_unexpected(item.label, e))


OUTAGE_SECONDS = 120.0  # how long a batch waits for a server that stopped taking connections
OUTAGE_WAITS = 5  # outages one item sits through before it fails


class Outage:
    """The server stopped taking connections: every item waits while one probe checks it,
    for ``limit`` seconds in all; then the rest fail with one message (the same for all)."""

    def __init__(self, http: Http, url: str, limit: float) -> None:
        self.http, self.url, self.limit = http, url, limit
        self.gone: str | None = None
        self._up = asyncio.Event()
        self._up.set()
        self._probe: asyncio.Future[None] | None = None

    async def ready(self) -> str | None:
        """None when requests may go (after waiting out a probe), else why they may not."""
        await self._up.wait()
        return self.gone

    async def refused(self) -> str | None:
        """An item could not connect: wait with the others for the probe's verdict."""
        if self.gone is None and self._up.is_set():
            self._up.clear()
            self._probe = asyncio.ensure_future(self._watch())
        return await self.ready()

    def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()

    async def _watch(self) -> None:
        start = time.monotonic()
        delay = 0.5
        try:
            while (left := start + self.limit - time.monotonic()) > 0:
                await asyncio.sleep(min(delay, left))
                try:
                    await self.http.client.get(self.url, timeout=5.0)
                    return  # any answer at all: it is back
                except httpx.HTTPError:
                    delay = min(2 * delay, 10.0)
            host = httpx.URL(self.url).host or self.url
            self.gone = (f"the server at {host} is gone (no connection for {self.limit:g} s); "
                         "the images not done were not sent. Start it again, then run the same "
                         "command again (with the same run=NAME, done images are skipped).")
        finally:
            self._up.set()


async def _item(image: Image, task: str, http: Http, spec: schemas.Schema | None, fmt: str,
                model: str | None, prompt: str | None, budget: Purse | None,
                store: Store | None, base_url: str | None, options: dict[str, Any],
                outage: Outage | None = None) -> Extraction:
    """One image, asked and read. ``http`` is the one retry layer: an item asks again only
    when the server refused connections and came back after a pause shared by all items
    (``outage``)."""
    refused = ""
    for _ in range(OUTAGE_WAITS + 1):
        if outage is not None and (gone := await outage.ready()) is not None:
            return Extraction(source=image.source, page=image.page, error=gone)
        try:
            return await _ask(image, task, http, spec, fmt, model, prompt, budget, store,
                              base_url, options)
        except ConnectionRefused as e:
            refused = str(e)
            if outage is None:
                break
            if (gone := await outage.refused()) is not None:
                return Extraction(source=image.source, page=image.page, error=gone)
        except PixelproofError as e:
            return Extraction(source=image.source, page=image.page, error=str(e))
        except Exception as e:  # a bug: this item fails, the batch goes on
            return Extraction(source=image.source, page=image.page, error=_unexpected(
                image.label, e))
    return Extraction(source=image.source, page=image.page, error=refused)


async def _ask(image: Image, task: str, http: Http, spec: schemas.Schema | None, fmt: str,
               model: str | None, prompt: str | None, budget: Purse | None,
               store: Store | None, base_url: str | None,
               options: dict[str, Any]) -> Extraction:
    if task != "describe":
        return await extract_one(image, http, schema=spec, fmt=fmt, model=model,
                                 prompt=prompt, budget=budget, store=store,
                                 base_url=base_url, **options)
    checks = ("verify", "votes", "vote_models")
    request, saved = await asyncio.to_thread(prepare, build_request(
        [image], prompt or "What is in this image?", model=model,
        **{k: v for k, v in options.items() if k not in checks}))
    response = await send(request, http, budget=budget, store=store, base_url=base_url)
    return Extraction(
        source=image.source, page=image.page, data=response.text,
        records=({"text": response.text},), text=response.text,
        model=response.model, usage=response.usage, attempts=1,
        cost=response.cost, cached=response.cached, saved_tokens=saved)


def _unexpected(label: str, e: Exception) -> str:
    if os.environ.get("PIXELPROOF_DEBUG"):
        traceback.print_exception(e)
    return (f"{label}: unexpected error ({type(e).__name__}: {e}). This is a bug in pixelproof; "
            "please report it (PIXELPROOF_DEBUG=1 shows the traceback). The other images go on.")


async def _batch_api(items: list[Item], spec: schemas.Schema | None, fmt: str, model: str | None,
                     prompt: str | None, base_url: str | None, store: Store | None,
                     run: str | None, poll_seconds: float, http: Http | None,
                     options: dict[str, Any]) -> AsyncGenerator[Extraction, None]:
    """Every item's first request through the OpenAI Batch API (half price); answers that do
    not parse or fit the schema are re-asked live, like any other extraction."""
    model = model or providers.default_model()
    target = providers.resolve(model, base_url)
    if not target.spec.batch_api:
        raise ConfigError(f"the Batch API (batch_api=True) needs an OpenAI model, not "
                          f"{target.id}.")
    checks = {k: options.pop(k) for k in ("verify", "votes", "vote_models") if k in options}
    wire = {k: v for k, v in options.items()
            if k in ("detail", "system", "max_tokens", "temperature")}
    loaded: dict[str, Image | str] = {}
    requests: list[tuple[str, Any]] = []
    for item in items:
        if item.error is not None:
            loaded[item.key] = item.error
            continue
        try:
            image = await asyncio.to_thread(item.load)
        except PixelproofError as e:
            loaded[item.key] = str(e)
            continue
        loaded[item.key] = image
        if checks.get("verify", True):
            ocr.submit(image)  # read while the batch is out
        request = extraction_request(image, spec, fmt, model=model, prompt=prompt,
                                     native=spec is not None, **wire)
        requests.append((item.key, (await asyncio.to_thread(prepare, request))[0]))
    keep = store if run is not None else None
    own = http is None
    client = http or Http()
    try:
        answers = await run_batch(requests, target, client, store=store, run=run,
                                  poll_seconds=poll_seconds)
        for item in items:
            got = loaded[item.key]
            if isinstance(got, str):
                yield Extraction(source=item.source, page=item.page, error=got)
                continue
            image, answer = got, answers[item.key]
            data, problems = (None, ["no answer"]) if isinstance(answer, ProviderError) \
                else read_answer(answer.text, spec)
            # a failed line or an unfit answer: asked live, with re-asks
            if problems or isinstance(answer, ProviderError):
                try:
                    result = await extract_one(
                        image, client, schema=spec, fmt=fmt, model=model, prompt=prompt,
                        base_url=base_url, store=store, **checks, **options)
                except PixelproofError as e:
                    result = Extraction(source=image.source, page=image.page, error=str(e))
            else:
                report = await asyncio.to_thread(check, image, data) \
                    if checks.get("verify", True) else None
                result = Extraction(
                    source=image.source, page=image.page, data=data, records=records_of(data),
                    text=answer.text, model=answer.model, usage=answer.usage, attempts=1,
                    cost=answer.cost, verification=report)
            if keep is not None:
                _keep_item(keep, run, item.key, result)  # type: ignore[arg-type]
            yield result
        if keep is not None:
            keep.set_meta(run, META, [])  # type: ignore[arg-type]  # kept: resume starts anew
    finally:
        if own:
            await client.aclose()


def _paid(store: Store, run: str | None, key: str, spent: dict[str, Decimal | None],
          price: Decimal | None) -> None:
    before = spent.get(key, Decimal(0))
    spent[key] = None if before is None or price is None else before + price
    store.paid(run, key, spent[key])  # type: ignore[arg-type]


def _keep_item(store: Store, run: str, key: str, item: Extraction,
               spent: dict[str, Decimal | None] | None = None) -> None:
    """Record an item's end; with ``spent``, at what its answers cost (re-asks included)."""
    if spent is not None and key in spent:
        item = replace(item, cost=spent[key])
    if item.ok:
        store.finish(run, key, to_json(item), item.usage, item.cost)
    else:
        store.fail(run, key, item.error or "failed")


async def run_items(items: list[Item], *, concurrency: int = 8, rpm: int | None = None,
                    tpm: int | None = None, timeout: float = 120.0, retries: int = 3,
                    on_done: Callable[[Extraction], None] | None = None,
                    **options: Any) -> list[Extraction]:
    """Every item asked under one client (``retries``, ``timeout``, the ``rpm``/``tpm``
    limiter), ``on_done`` told of each as it finishes; the Extractions in input order. The
    options are ``abatch``'s."""
    limiter = limiter_for(items, rpm, tpm, options.get("model") or providers.default_model(),
                          options.get("prompt"), options.get("detail", "auto"),
                          options.get("max_tokens"))
    results: dict[str, Extraction] = {}
    async with Http(timeout=timeout, retries=retries, limiter=limiter,
                    max_connections=max(10, concurrency)) as http:
        async with aclosing(abatch(items, concurrency=concurrency, http=http,
                                   **options)) as each:
            async for e in each:
                results[e.label] = e
                if on_done is not None:
                    on_done(e)
    return [results[i.label] for i in items if i.label in results]


def batch(inputs: Iterable[str], **options: Any) -> Iterator[Extraction]:
    """``for e in pixelproof.batch(["scans/"], fields="date, amount"): print(e.label, e.data)``:
    each image's Extraction as it finishes (run in a background event loop); the options are
    ``abatch``'s."""
    import queue
    import threading

    results: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()

    async def pump() -> None:
        async with aclosing(abatch(inputs, **options)) as each:
            async for result in each:
                if stop.is_set():  # the caller stopped reading: cancel the rest
                    return
                results.put(result)

    def main() -> None:
        try:
            run_sync(pump)
        except BaseException as e:  # handed to the consumer
            results.put(e)
        results.put(None)

    threading.Thread(target=main, daemon=True).start()
    try:
        while (got := results.get()) is not None:
            if isinstance(got, BaseException):
                raise got
            yield got
    finally:
        stop.set()


def pending(items: list[Item], store: Store | None, run: str | None) -> list[Item]:
    """The items a run still has to ask (all of them without a run)."""
    if store is None or run is None:
        return items
    done = {i.key for i in store.items(run, "done")}
    return [i for i in items if i.key not in done]
