"""The Ray executor (the ``ray`` extra): a batch spread over a Ray cluster, with the same items,
options, outputs and run store as a local run.

The driver (the process that runs ``pixelproof extract ... --ray``) plans the items, keeps the
run store and writes the outputs, as a local run does. On the cluster:

- ``OcrActor``: the local engine, built once, reading one page at a time on one CPU; together
  they are the OCR pool of every request actor (and of ``pixelproof ocr --ray``);
- ``Asker``: an async actor that loads, asks, reads and verifies many items at once, as
  ``_item`` does in one process. It sees the driver's store through ``_Relay``: look-ups
  (cached answers, stored reads) go to a read-only ``Lookup`` actor on the driver's node, and
  what a local run would write (answers paid for, usage, reads) streams back to the driver
  with the item, which writes it as it comes;
- one ``Limits`` actor (``--rpm``/``--tpm``, 429s and rate-limit headers) and one ``Purse``
  actor (``--max-cost`` reservations): the provider's limits hold for all workers together.

A request actor lost mid-item costs the item one retry on another; the answers it was paid
for reached the driver's cache first, so they are not paid again. A lost OCR actor is
restarted by Ray and its page read again. Inputs are loaded where they are asked: paths must
be readable on every node (shared storage), URLs reachable; stdin and data URLs travel with
their item.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator
from concurrent.futures import Future
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import httpx
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from . import cost, ocr, providers, schemas
from .batch import (
    OUTAGE_SECONDS,
    Item,
    Outage,
    RateLimiter,
    _item,
    _keep_item,
    _load,
    _paid,
    _schema,
    _total_tokens,
    _unexpected,
    from_json,
    to_json,
    wants_read,
)
from .errors import BudgetError, ConfigError, InputError, OcrError
from .extract import PAID
from .http import Http
from .store import Store
from .types import Extraction, Image, Response, Usage

# What the workers take from the driver's environment: the providers' keys and base URLs.
PROVIDER_VARS = sorted({v for spec in providers.SPECS.values()
                        for v in (*spec.key_vars, *([spec.url_var] if spec.url_var else []))})


def _provider_env() -> Any:
    """The driver's PROVIDER_VARS in Ray's object store (held by the driver, in memory): the
    workers' actor definitions hold only its reference, so a key never sits in Ray's control
    store, a runtime_env or a log."""
    return ray.put({v: os.environ[v] for v in PROVIDER_VARS if v in os.environ})


def _take_env(env: Any) -> None:
    os.environ.update(ray.get(env) if isinstance(env, ray.ObjectRef) else env)


def connect(address: str = "auto") -> None:
    """Join the Ray cluster at ``address`` as Ray takes it (``auto``: the cluster this machine
    belongs to, ``host:6379``, ...); ``local`` starts one in this process."""
    if ray.is_initialized():
        return
    try:
        if address == "local":
            ray.init(include_dashboard=False, logging_level="ERROR")
        else:
            ray.init(address=address, logging_level="ERROR")
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ConfigError(f"--ray: no Ray cluster at {address!r} ({e}). Start one with "
                          "`ray start --head`, pass its address with --ray-address, or use "
                          "--ray-address local for one in this process.") from None


def _wait(ref: Any) -> Any:
    """An actor call's answer, waited for in place: the store's look-ups and the budget's
    reservations are synchronous calls, so a request actor's event loop stops for each (one
    short call to an actor that does nothing else, about a millisecond)."""
    return ref.future().result()


class OcrReader:
    """The local engine on one CPU, built once; ``read`` answers like a pool worker."""

    def __init__(self) -> None:
        self.engine = ocr.RapidEngine(
            {**ocr.SETTINGS, "EngineConfig.onnxruntime.intra_op_num_threads": 1})

    def read(self, page: Any) -> tuple[bool, Any]:
        return ocr.worker_read(self.engine, page)

    def pid(self) -> int:
        return os.getpid()


class ActorPool:
    """``ocr.Pool`` over OCR actors: each page goes to the actor with the fewest pages in
    flight from this process; a page whose actor died is read again once (by Ray)."""

    def __init__(self, actors: list[Any]) -> None:
        self.actors = actors
        self.busy = [0] * len(actors)
        self.calls = 0
        self.closed = False
        self._lock = threading.Lock()

    def submit(self, page: Any) -> Future[ocr.Raw]:
        with self._lock:
            if self.closed:
                raise OcrError("the OCR pool was shut down; pixelproof.ocr.configure() starts "
                               "a new one.")
            n = min(range(len(self.busy)), key=self.busy.__getitem__)
            self.busy[n] += 1
            self.calls += 1
        out: Future[ocr.Raw] = Future()
        label = page.label if isinstance(page, Image) else "an image"
        self.actors[n].read.remote(page).future().add_done_callback(
            lambda answer: self._answer(n, answer, out, label))
        return out

    def _answer(self, n: int, answer: Future[Any], out: Future[ocr.Raw], label: str) -> None:
        with self._lock:
            self.busy[n] -= 1
        try:
            ok, raw = answer.result()
        except ray.exceptions.RayError as e:
            out.set_exception(OcrError(f"{label}: the Ray OCR worker was lost reading it, twice "
                                       f"({type(e).__name__}). Run again to retry it."))
            return
        if ok:
            out.set_result(raw)
        else:
            out.set_exception(ocr.engine_error(raw))

    def shutdown(self, wait: bool = True) -> None:
        self.closed = True


class OwnPool:
    """``ocr.Pool`` in this process: one engine on one thread, for a Ray Data map actor that
    has one CPU."""

    def __init__(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.reader = OcrReader()
        self.thread = ThreadPoolExecutor(1)
        self.calls = 0

    def submit(self, page: Any) -> Future[ocr.Raw]:
        self.calls += 1
        return self.thread.submit(self._read, page)

    def _read(self, page: Any) -> ocr.Raw:
        ok, raw = self.reader.read(page)
        if not ok:
            raise ocr.engine_error(raw)
        return raw

    def shutdown(self, wait: bool = True) -> None:
        self.thread.shutdown(wait=wait)


class SharedLimiter:
    """The one RateLimiter of a batch, for every request actor."""

    def __init__(self, rpm: int | None, tpm: int | None, tokens: float, window: float) -> None:
        self.limiter = RateLimiter(rpm, tpm, 1000, window)
        self.limiter.tokens = tokens

    async def wait(self) -> None:
        await self.limiter.wait()

    def observe(self, status: int, headers: dict[str, str], tokens: int) -> None:
        self.limiter.observe(httpx.Response(status, headers=headers,
                                            json={"usage": {"total_tokens": tokens}}))


class _Limiter:
    """``http.Limiter`` on a request actor: the Limits actor's."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    async def wait(self) -> None:
        await self.actor.wait.remote()

    def observe(self, response: httpx.Response) -> None:
        self.actor.observe.remote(response.status_code, dict(response.headers),
                                  _total_tokens(response))


class SharedBudget:
    """The one Budget of a batch: reservations by number, for every request actor."""

    def __init__(self, max_cost: Decimal) -> None:
        self.budget = cost.Budget(max_cost)
        self.held: dict[int, cost.Reservation] = {}
        self.next = 0

    def reserve(self, amount: Decimal | None) -> tuple[int, str | None]:
        try:
            held = self.budget.reserve(amount)
        except BudgetError as e:
            return -1, str(e)
        self.next += 1
        self.held[self.next] = held
        return self.next, None

    def settle(self, number: int, actual: Decimal | None) -> None:
        self.budget.settle(self.held.pop(number), actual)

    def spent(self) -> Decimal:
        return self.budget.spent


class _Budget:
    """``cost.Budget`` on a request actor: the Purse actor's."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    def reserve(self, amount: Decimal | None) -> int:
        number, error = _wait(self.actor.reserve.remote(amount))
        if error is not None:
            raise BudgetError(error)
        return number

    def settle(self, number: int, actual: Decimal | None) -> None:
        self.actor.settle.remote(number, actual)  # in order after this actor's reservation


class StoreReader:
    """The driver's store, read-only, on the driver's node: cached answers and stored reads."""

    def __init__(self, path: str, use_cache: bool) -> None:
        self.store = Store(path, cache=use_cache)

    def cached(self, key: str) -> Response | None:
        return self.store.cached(key)

    def get_read(self, sha256: str, engine: str) -> str | None:
        return self.store.get_read(sha256, engine)


class _Outbox:
    """What an item would write to the store, in order, sent to the driver in as few messages
    as may be: held until an answer paid for is kept (sent at once, so the answers a lost
    worker had are in the driver's cache) or the item ends."""

    def __init__(self) -> None:
        self.held: list[tuple[Any, ...]] = []
        self.ready: asyncio.Queue[list[tuple[Any, ...]]] = asyncio.Queue()

    def add(self, *event: Any) -> None:
        self.held.append(event)

    def send(self, *event: Any) -> None:
        self.ready.put_nowait([*self.held, event])
        self.held = []


class _Relay:
    """The driver's store as one item on a request actor sees it: look-ups are asked of the
    Lookup actor, writes go to the item's outbox."""

    def __init__(self, lookup: Any, outbox: _Outbox) -> None:
        self.lookup, self.outbox = lookup, outbox

    def cached(self, key: str) -> Response | None:
        return _wait(self.lookup.cached.remote(key))

    def record_usage(self, model: str, usage: Usage, cost: Decimal | None, *,
                     cached: bool = False) -> None:
        self.outbox.add("usage", model, usage, cost, cached)

    def remember(self, key: str, response: Response) -> None:
        self.outbox.send("remember", key, replace(response, raw=None))


class _Reads:
    """A request actor's read store: stored reads from the Lookup actor; new reads kept here
    until the item whose page it is sends them to the driver."""

    def __init__(self, lookup: Any) -> None:
        self.lookup = lookup
        self.new: dict[str, str] = {}

    def get_read(self, sha256: str, engine: str) -> str | None:
        return _wait(self.lookup.get_read.remote(sha256, engine))

    def put_read(self, sha256: str, engine: str, raw: str) -> None:
        self.new[sha256] = raw


@dataclass(frozen=True)
class Job:
    """What every item of a batch is asked with (``_item``'s arguments)."""

    task: str
    spec: schemas.Schema | None
    fmt: str
    model: str | None
    prompt: str | None
    base_url: str | None
    retries: int
    options: dict[str, Any]
    reads: bool  # read each page as soon as it is loaded
    budget: bool


class ItemRunner:
    """Asks items many at once; each ``run`` streams its item's store writes, then the item."""

    def __init__(self, ocr_actors: list[Any], lookup: Any, limits: Any, purse: Any,
                 env: Any, timeout: float, retries: int, connections: int) -> None:
        _take_env(env)
        ocr.configure(pool=ActorPool(ocr_actors))
        self.lookup = lookup
        self.reads = _Reads(lookup) if lookup is not None else None
        if self.reads is not None:
            ocr.reader().stores.append(self.reads)
        self.http = Http(timeout=timeout, retries=retries, max_connections=connections,
                         limiter=_Limiter(limits) if limits is not None else None)
        self.budget = _Budget(purse) if purse is not None else None
        self.outages: dict[str, Outage] = {}

    async def run(self, item: Item, job: Job) -> AsyncIterator[list[tuple[Any, ...]]]:
        outbox = _Outbox()

        async def one() -> None:
            try:
                done = to_json(await self._one(item, job, outbox))
            except Exception as e:  # a bug: this item fails, the batch goes on
                done = to_json(Extraction(source=item.source, page=item.page,
                                          error=_unexpected(item.label, e)))
            outbox.send("done", done)

        task = asyncio.ensure_future(one())
        try:
            while (events := await outbox.ready.get())[-1][0] != "done":
                yield events
            yield events
        finally:
            task.cancel()

    async def _one(self, item: Item, job: Job,
                   outbox: _Outbox) -> Extraction:
        image = await _load(item)
        if isinstance(image, Extraction):
            return image
        if job.reads:
            ocr.submit(image)  # read while the request is out
        PAID.set(lambda price: outbox.add("paid", price))
        result = await _item(
            image, job.task, self.http, job.spec, job.fmt, job.model, job.prompt,
            self.budget if job.budget else None,  # type: ignore[arg-type]
            _Relay(self.lookup, outbox) if self.lookup is not None else None,  # type: ignore
            job.base_url, dict(job.options), self._outage(job))
        if self.reads is not None and (raw := self.reads.new.pop(image.sha256, None)):
            outbox.add("read", image.sha256, raw)
        return result

    def _outage(self, job: Job) -> Outage | None:
        try:
            target = providers.resolve(job.model or providers.default_model(), job.base_url)
        except Exception:
            return None  # each item reports it
        if target.spec.offline:
            return None
        if target.base_url not in self.outages:
            self.outages[target.base_url] = Outage(self.http, target.base_url, OUTAGE_SECONDS)
        return self.outages[target.base_url]

    def pid(self) -> int:
        return os.getpid()


# The actors (the classes above stay importable by name, so Ray ships them by reference).
OcrActor = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=1)(OcrReader)
Limits = ray.remote(num_cpus=0)(SharedLimiter)
Purse = ray.remote(num_cpus=0)(SharedBudget)
Lookup = ray.remote(num_cpus=0)(StoreReader)
Asker = ray.remote(num_cpus=0)(ItemRunner)  # a lost one is replaced by the driver


class Executor:
    """Runs a batch's items on a Ray cluster: ``abatch(..., executor=Executor("auto"))``.
    ``ocr_workers`` OCR actors (default: one per CPU of the cluster), ``askers`` request
    actors (default: one per four OCR actors, spread over the nodes)."""

    def __init__(self, address: str = "auto", ocr_workers: int | None = None,
                 askers: int | None = None) -> None:
        self.address, self.ocr_workers, self.askers = address, ocr_workers, askers
        self.ocr_actors: list[Any] = []
        self.running: list[Any] = []  # the request actors of the run going on

    def start(self) -> Executor:
        """Connect, and start the OCR actors (once)."""
        connect(self.address)
        if not self.ocr_actors:
            n = self.ocr_workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
            self.ocr_actors = [OcrActor.options(scheduling_strategy="SPREAD").remote()
                               for _ in range(n)]
        return self

    def ocr_pool(self) -> ActorPool:
        """The OCR actors as a pool for ``ocr.configure(pool=...)`` in this process."""
        return ActorPool(self.start().ocr_actors)

    def close(self) -> None:
        """Stop the OCR actors (the cluster stays up)."""
        for actor in self.ocr_actors:
            ray.kill(actor)
        self.ocr_actors = []

    async def run(self, todo: list[Item], *, task: str, spec: schemas.Schema | None,
                  fmt: str, model: str | None, prompt: str | None, store: Store | None,
                  run: str | None, spent: dict[str, Decimal | None], http: Http | None,
                  concurrency: int, budget: cost.Budget | None, retries: int,
                  base_url: str | None, limiter: RateLimiter | None,
                  options: dict[str, Any]) -> AsyncIterator[Extraction]:
        """Each item's Extraction as it finishes, recorded in ``store`` under ``run`` as a local
        run records it. Items in flight: ``concurrency``, at least two per OCR actor."""
        self.start()
        job = Job(task, spec, fmt, model, prompt, base_url, retries, options,
                  wants_read(task, model, prompt, base_url, options), budget is not None)
        helpers = _Helpers(store, limiter, budget)
        env = _provider_env()
        timeout = http.client.timeout.read if http is not None else None
        window = max(concurrency, 2 * len(self.ocr_actors))

        def asker() -> Any:
            return Asker.options(scheduling_strategy="SPREAD").remote(
                self.ocr_actors, helpers.lookup, helpers.limits, helpers.purse, env,
                timeout or 120.0, http.retries if http is not None else 3, window)

        askers = self.running = [
            asker() for _ in range(self.askers or max(1, -(-len(self.ocr_actors) // 4)))]
        gate = asyncio.Semaphore(window)
        load = [0] * len(askers)
        keep = store if run is not None else None

        async def one(item: Item) -> Extraction:
            if item.error is not None:
                return Extraction(source=item.source, error=item.error)
            async with gate:
                lost: Exception | None = None
                for _ in range(2):  # a lost request actor costs the item one retry
                    if keep is not None:
                        keep.start(run, item.key)  # type: ignore[arg-type]
                    n = min(range(len(askers)), key=load.__getitem__)
                    load[n] += 1
                    chosen = askers[n]
                    try:
                        result = await _ask(chosen, item, job, store, keep, run, spent)
                        break
                    except (ray.exceptions.RayActorError, ray.exceptions.NodeDiedError,
                            ray.exceptions.OwnerDiedError) as e:  # the actor is gone, not a bug
                        lost = e
                        if askers[n] is chosen:  # the first of its items to find it gone
                            with contextlib.suppress(Exception):
                                ray.kill(chosen)
                            askers[n] = asker()
                    except Exception as e:  # a bug: this item fails, the batch goes on
                        result = Extraction(source=item.source, page=item.page,
                                            error=_unexpected(item.label, e))
                        break
                    finally:
                        load[n] -= 1
                else:
                    result = Extraction(
                        source=item.source, page=item.page,
                        error=f"{item.label}: the Ray worker asking it was lost twice "
                              f"({type(lost).__name__}). Run again with the same --run NAME "
                              "to retry it.")
                if keep is not None:
                    _keep_item(keep, run, item.key, result, spent)  # type: ignore[arg-type]
                return result

        tasks = [asyncio.ensure_future(one(item)) for item in todo]
        try:
            for finished in asyncio.as_completed(tasks):
                yield await finished
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for actor in askers:
                ray.kill(actor)
            await helpers.close()


class _Helpers:
    """A run's Lookup, Limits and Purse actors (each only when needed)."""

    def __init__(self, store: Store | None, limiter: RateLimiter | None,
                 budget: cost.Budget | None) -> None:
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        self.lookup = Lookup.options(scheduling_strategy=here).remote(
            str(store.path), store.use_cache) if store is not None else None
        self.limits = Limits.remote(limiter.rpm, limiter.tpm, limiter.tokens, limiter.window) \
            if limiter is not None else None
        self.budget = budget
        self.purse = Purse.remote(budget.max_cost - budget.spent - budget.reserved) \
            if budget is not None else None

    async def close(self) -> None:
        if self.purse is not None and self.budget is not None:  # the spend, told here too
            spent = await self.purse.spent.remote()
            self.budget.settle(self.budget.reserve(spent), spent)
        for actor in (self.lookup, self.limits, self.purse):
            if actor is not None:
                ray.kill(actor)


async def _ask(asker: Any, item: Item, job: Job, store: Store | None,
               keep: Store | None, run: str | None,
               spent: dict[str, Decimal | None]) -> Extraction:
    """One item on a request actor; what it would have written to the store, written here."""
    async for ref in asker.run.remote(item, job):
        for kind, *event in await ref:
            if kind == "done":
                return from_json(event[0])
            if store is None:
                continue
            if kind == "paid" and keep is not None:
                _paid(keep, run, item.key, spent, event[0])
            elif kind == "usage":
                store.record_usage(event[0], event[1], event[2], cached=event[3])
            elif kind == "remember":
                store.remember(event[0], event[1])
            elif kind == "read":
                store.put_read(event[0], ocr.ENGINE_ID, event[1])
    raise AssertionError("unreachable: a request actor's stream ends with its item")


# --- Ray Data ---------------------------------------------------------------------------------

COLUMNS = ("source", "page", "ok", "error", "data", "model", "input_tokens", "output_tokens",
           "cost", "verified", "unverified", "contradicted", "verification")


def extract(dataset: Any, *, column: str | None = None, model: str | None = None,
            fields: str | None = None, schema: Any = None, prompt: str | None = None,
            format: str = "markdown", base_url: str | None = None, rpm: int | None = None,
            tpm: int | None = None, max_cost: Decimal | float | str | None = None,
            workers: int | None = None, batch_size: int = 8, retries: int = 3,
            **options: Any) -> Any:
    """A Ray Dataset of images to one of records: ``extract(ray.data.read_images(folder,
    include_paths=True), fields="date, amount").write_parquet(out)``. Each row's image is its
    ``column`` (default: ``image`` pixels as ``read_images`` gives them, else ``bytes``, else a
    ``path`` or URL to load); its source is ``path`` when there is one. The result has one row
    per image, with the verification counts (``COLUMNS``; ``data`` and ``verification`` as
    JSON text, ``cost`` as text: exact, or empty when unknown). ``workers`` map actors (one
    CPU each, reading pages themselves; default: from one up to one per CPU, as Ray Data
    scales them) ask ``batch_size`` images at once; ``rpm``, ``tpm`` and ``max_cost`` hold for
    all of them together (their actors live as long as this process). The options are
    ``abatch``'s; there is no run store: the pipeline's output is the record."""
    connect()
    spec = _schema(schema, fields)
    model = model or providers.default_model()
    limiter = RateLimiter(rpm, tpm) if rpm or tpm else None
    budget = cost.Budget(max_cost) if max_cost is not None else None
    helpers = _Helpers(None, limiter, budget)
    job = Job("extract", spec, format, model, prompt, base_url, retries, options,
              wants_read("extract", model, prompt, base_url, options), budget is not None)
    env = _provider_env()
    return dataset.map_batches(
        PageExtractor, batch_size=batch_size, batch_format="numpy", num_cpus=1,
        concurrency=workers or (1, max(1, int(ray.cluster_resources().get("CPU", 1)))),
        fn_constructor_kwargs={"job": job, "column": column, "limits": helpers.limits,
                               "purse": helpers.purse, "env": env})


class PageExtractor:
    """A Ray Data map actor: a batch of rows in, one row of results per image out."""

    def __init__(self, job: Job, column: str | None, limits: Any, purse: Any,
                 env: Any) -> None:
        _take_env(env)
        ocr.configure(pool=OwnPool())  # pages read in this actor, on its CPU
        self.job, self.column, self.limits = job, column, limits
        self.budget = _Budget(purse) if purse is not None else None

    def __call__(self, rows: dict[str, Any]) -> dict[str, list[Any]]:
        n = len(next(iter(rows.values())))
        images = [self._image(rows, i) for i in range(n)]
        results = asyncio.run(self._ask(images))
        return {name: [_column(result, name) for result in results] for name in COLUMNS}

    def _image(self, rows: dict[str, Any], i: int) -> Image | Extraction:
        import numpy as np
        from PIL import Image as PILImage

        from .images import encode, load

        paths = rows.get("path")
        source = str(paths[i]) if paths is not None else f"row {i}"
        column = self.column or next((c for c in ("image", "bytes", "path") if c in rows), None)
        try:
            if column is None:
                raise InputError(source, "has no image column", "Name it with column=..., or "
                                 "give an image, bytes or path column.")
            value = rows[column][i]
            if isinstance(value, np.ndarray) and value.dtype == np.uint8 and value.ndim >= 2:
                return encode(PILImage.fromarray(value), source)
            if isinstance(value, bytes | bytearray | np.bytes_):
                return replace(load(bytes(value))[0], source=source)
            return load(str(value))[0]
        except Exception as e:
            return Extraction(source=source, error=str(e))

    async def _ask(self, images: list[Image | Extraction]) -> list[Extraction]:
        job = self.job
        async with Http(limiter=_Limiter(self.limits) if self.limits is not None else None,
                        retries=job.retries) as http:
            async def one(image: Image | Extraction) -> Extraction:
                if isinstance(image, Extraction):
                    return image
                if job.reads:
                    ocr.submit(image)
                return await _item(image, job.task, http, job.spec, job.fmt, job.model,
                                   job.prompt, self.budget, None,  # type: ignore[arg-type]
                                   job.base_url, dict(job.options))

            return list(await asyncio.gather(*(one(image) for image in images)))


def _column(result: Extraction, name: str) -> Any:
    import json

    report = result.verification
    counts = (report if isinstance(report, dict) else report.to_dict()) if report else None
    if name in ("verified", "unverified", "contradicted"):
        return counts[name] if counts else None
    if name == "verification":
        return json.dumps(counts) if counts else None
    if name == "data":
        return json.dumps(to_json(result)["data"], default=str)
    if name in ("input_tokens", "output_tokens"):
        return getattr(result.usage, name)
    if name == "cost":
        return "" if result.cost is None else str(result.cost)
    return getattr(result, name)
