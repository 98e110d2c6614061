"""Many inputs, concurrently up to the rate limit, resumable from the run store.

Each input (a path or URL; a PDF's pages together) is one item of a run. With ``run=NAME`` the
store records each item as it finishes, so a killed run resumes: done items are not asked
again (no request, no cost), failed and interrupted ones are.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from typing import Any

import httpx

from . import images as images_mod
from . import providers, schemas
from .batchapi import META, run_batch
from .cost import Budget
from .errors import (
    BadResponse,
    ConfigError,
    NetworkError,
    PixelproofError,
    ProviderError,
    RateLimitError,
    ServerError,
)
from .extract import (
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
from .store import Store
from .types import Extraction, Image, Usage
from .verify import check

TRANSIENT = (BadResponse, NetworkError, RateLimitError, ServerError)


class RateLimiter:
    """Requests and tokens per minute over a sliding window; pauses everyone when the provider
    says so (a 429's Retry-After, or ``x-ratelimit-remaining-*`` at zero until its reset)."""

    def __init__(self, rpm: int | None = None, tpm: int | None = None,
                 tokens_per_request: int = 1000, window: float = 60.0) -> None:
        self.rpm, self.tpm, self.tokens = rpm, tpm, tokens_per_request
        self.window = window
        self.sent: deque[float] = deque()
        self.paused_until = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                while self.sent and self.sent[0] <= now - self.window:
                    self.sent.popleft()
                limits = [self.rpm] if self.rpm else []
                if self.tpm:
                    limits.append(max(1, self.tpm // self.tokens))
                delay = self.paused_until - now
                if limits and len(self.sent) >= min(limits):
                    delay = max(delay, self.sent[0] + self.window - now)
                if delay <= 0:
                    self.sent.append(now)
                    return
                await asyncio.sleep(delay)

    def observe(self, response: httpx.Response) -> None:
        pause = 0.0
        if response.status_code == 429:
            pause = retry_after(response.headers) or 1.0
        for kind in ("requests", "tokens"):
            if response.headers.get(f"x-ratelimit-remaining-{kind}") == "0":
                pause = max(pause, _duration(response.headers.get(f"x-ratelimit-reset-{kind}")))
        if pause:
            self.paused_until = max(self.paused_until, time.monotonic() + pause)


def _duration(text: str | None) -> float:
    """OpenAI's reset durations: "1s", "6m0s", "20ms"."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(ms|h|m|s)", text or ""))


@dataclass
class Progress:
    total: int
    done: int = 0
    failed: int = 0
    skipped: int = 0
    cost: Decimal = Decimal(0)
    cost_known: bool = True
    started: float = field(default_factory=time.monotonic)

    def add(self, item: list[Extraction]) -> None:
        if any(not e.ok for e in item):
            self.failed += 1
        else:
            self.done += 1
        for e in item:
            if e.cost is None and e.ok:
                self.cost_known = False
            self.cost += e.cost or 0

    @property
    def spend(self) -> str:
        return f"${self.cost:.4f}" + ("" if self.cost_known else " + unknown")


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


def expand(inputs: Iterable[str]) -> list[str]:
    """Globs and folders to files; URLs, stdin and data URLs as they are; in input order."""
    return list(dict.fromkeys(images_mod.expand(list(inputs))))


async def abatch(inputs: Iterable[str], *, task: str = "extract", prompt: str | None = None,
                 schema: Any = None, fields: str | None = None, format: str = "markdown",
                 model: str | None = None, concurrency: int = 8, rpm: int | None = None,
                 tpm: int | None = None, run: str | None = None, store: Store | None = None,
                 http: Http | None = None, budget: Budget | None = None, retries: int = 3,
                 base_url: str | None = None, batch_api: bool = False,
                 poll_seconds: float = 30.0,
                 on_item: Callable[[str, list[Extraction], Progress], None] | None = None,
                 **options: Any) -> AsyncIterator[tuple[str, list[Extraction]]]:
    """(input, its extractions) as each input finishes. Done items of a resumed run come first,
    from the store. ``task="describe"`` asks ``prompt`` of each input on its own."""
    specs = expand(inputs)
    spec = schemas.from_fields(fields) if fields else (
        schemas.from_any(schema) if schema is not None else None)
    progress = Progress(len(specs))
    todo = specs
    if run is not None:
        store = store or Store()
        store.open_run(run, {"task": task, "prompt": prompt, "model": model, "format": format,
                             "schema": spec.json if spec else None})
        store.add_items(run, specs)
        store.requeue(run)
        done = {i.key: i for i in store.items(run, "done")}
        for key in specs:
            if key in done:
                item = [from_json(d) for d in done[key].result]
                progress.skipped += 1
                progress.add(item)
                yield key, item
        todo = [s for s in specs if s not in done]
    if batch_api and todo:
        for key, item in await _batch_api(todo, spec, format, model, prompt, base_url, store,
                                          run, poll_seconds, http, options):
            progress.add(item)
            if on_item:
                on_item(key, item, progress)
            yield key, item
        return
    limiter = RateLimiter(rpm, tpm) if rpm or tpm else None
    own = http is None
    client = http or Http(limiter=limiter, max_connections=max(concurrency, 10))
    if limiter and not own:
        client.limiter = limiter
    gate = asyncio.Semaphore(concurrency)

    async def one(key: str) -> tuple[str, list[Extraction]]:
        async with gate:
            if run is not None and store is not None:
                store.start(run, key)
            item = await _item(key, task, client, spec, format, model, prompt, budget, store,
                               retries, base_url, options)
            if run is not None and store is not None:
                _keep_item(store, run, key, item)
            return key, item

    tasks = [asyncio.ensure_future(one(key)) for key in todo]
    try:
        for finished in asyncio.as_completed(tasks):
            key, item = await finished
            progress.add(item)
            if on_item:
                on_item(key, item, progress)
            yield key, item
    finally:
        for t in tasks:
            t.cancel()
        if own:
            await client.aclose()


async def _item(key: str, task: str, http: Http, spec: schemas.Schema | None, fmt: str,
                model: str | None, prompt: str | None, budget: Budget | None,
                store: Store | None, retries: int, base_url: str | None,
                options: dict[str, Any]) -> list[Extraction]:
    try:
        loaded = await asyncio.to_thread(images_mod.load, key)
    except PixelproofError as e:
        return [Extraction(source=key, error=str(e))]
    out = []
    for image in loaded:
        for attempt in range(retries + 1):
            try:
                if task == "describe":
                    request, saved = await asyncio.to_thread(prepare, build_request(
                        [image], prompt or "What is in this image?", model=model, **options))
                    response = await send(request, http, budget=budget, store=store,
                                          base_url=base_url)
                    out.append(Extraction(
                        source=image.source, page=image.page, data=response.text,
                        records=({"text": response.text},), text=response.text,
                        model=response.model, usage=response.usage, attempts=1,
                        cost=response.cost, cached=response.cached, saved_tokens=saved))
                else:
                    out.append(await extract_one(image, http, schema=spec, fmt=fmt, model=model,
                                                 prompt=prompt, budget=budget, store=store,
                                                 base_url=base_url, **options))
                break
            except TRANSIENT as e:
                if attempt == retries:
                    out.append(Extraction(source=image.source, page=image.page, error=str(e)))
                else:
                    await asyncio.sleep(min(30.0, 0.5 * 2 ** attempt))
            except PixelproofError as e:
                out.append(Extraction(source=image.source, page=image.page, error=str(e)))
                break
    return out


async def _batch_api(keys: list[str], spec: schemas.Schema | None, fmt: str, model: str | None,
                     prompt: str | None, base_url: str | None, store: Store | None,
                     run: str | None, poll_seconds: float, http: Http | None,
                     options: dict[str, Any]) -> list[tuple[str, list[Extraction]]]:
    """Every input's first request through the OpenAI Batch API (half price); answers that do
    not parse or fit the schema are re-asked live, like any other extraction."""
    model = model or providers.default_model()
    target = providers.resolve(model, base_url)
    if target.provider != "openai":
        raise ConfigError(f"--batch-api needs an OpenAI model, not {target.id}.")
    checks = {k: options.pop(k) for k in ("verify", "votes", "vote_models") if k in options}
    loaded: dict[str, list[Image] | PixelproofError] = {}
    requests: list[tuple[str, Any]] = []
    for key in keys:
        try:
            loaded[key] = await asyncio.to_thread(images_mod.load, key)
        except PixelproofError as e:
            loaded[key] = e
            continue
        for n, image in enumerate(loaded[key]):  # type: ignore[arg-type]
            request = extraction_request(image, spec, fmt, model=model, prompt=prompt,
                                         native=spec is not None, **{
                                             k: v for k, v in options.items() if k in (
                                                 "detail", "system", "max_tokens",
                                                 "temperature")})
            requests.append((f"{n}:{key}", (await asyncio.to_thread(prepare, request))[0]))
    own = http is None
    client = http or Http()
    try:
        answers = await run_batch(requests, target, client, store=store, run=run,
                                  poll_seconds=poll_seconds)
        out = []
        for key in keys:
            got = loaded[key]
            if isinstance(got, PixelproofError):
                out.append((key, [Extraction(source=key, error=str(got))]))
                continue
            item = []
            for n, image in enumerate(got):
                answer = answers[f"{n}:{key}"]
                data, problems = (None, ["no answer"]) if isinstance(answer, ProviderError) \
                    else read_answer(answer.text, spec)
                if problems:  # a failed line or an unfit answer: asked live, with re-asks
                    try:
                        item.append(await extract_one(
                            image, client, schema=spec, fmt=fmt, model=model, prompt=prompt,
                            base_url=base_url, store=store, **checks, **options))
                    except PixelproofError as e:
                        item.append(Extraction(source=image.source, page=image.page,
                                               error=str(e)))
                    continue
                report = await asyncio.to_thread(check, image, data) \
                    if checks.get("verify", True) else None
                item.append(Extraction(
                    source=image.source, page=image.page, data=data, records=records_of(data),
                    text=answer.text, model=answer.model, usage=answer.usage, attempts=1,
                    cost=answer.cost, verification=report))
            if run is not None and store is not None:
                _keep_item(store, run, key, item)
            out.append((key, item))
        if store is not None and run is not None:
            store.set_meta(run, META, [])  # kept: a later resume starts new batches
        return out
    finally:
        if own:
            await client.aclose()


def _keep_item(store: Store, run: str, key: str, item: list[Extraction]) -> None:
    if all(e.ok for e in item):
        store.finish(run, key, [to_json(e) for e in item], sum((e.usage for e in item), Usage()),
                     None if any(e.cost is None for e in item)
                     else sum((e.cost or Decimal(0) for e in item), Decimal(0)))
    else:
        store.fail(run, key, "; ".join(e.error or "" for e in item if not e.ok))


def batch(inputs: Iterable[str], **options: Any) -> Iterator[tuple[str, list[Extraction]]]:
    """``for source, extractions in pixelproof.batch(["scans/"], fields="date, amount")``:
    results as they finish (run in a background event loop)."""
    import queue
    import threading

    results: queue.Queue[Any] = queue.Queue()

    async def pump() -> None:
        async for pair in abatch(inputs, **options):
            results.put(pair)

    def main() -> None:
        try:
            run_sync(pump)
        except BaseException as e:  # handed to the consumer
            results.put(e)
        results.put(None)

    threading.Thread(target=main, daemon=True).start()
    while (got := results.get()) is not None:
        if isinstance(got, BaseException):
            raise got
        yield got
