"""The server's shared state: settings, the store, one HTTP client with the rate limiter, the
budgets, image loading under the upload limits, and the jobs."""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from .. import cost, images, providers
from ..batch import Item, RateLimiter, abatch, plan
from ..errors import ImageTooLarge, InputError, PixelproofError
from ..http import Http, redact
from ..store import Store
from ..types import Image
from .security import Budgets, Caller, Guard, budgets

MB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """``pixelproof serve``'s options."""

    tokens: tuple[str, ...] = ()
    model: str | None = None
    base_url: str | None = None
    allow_private_urls: bool = False
    max_bytes: int = 20 * MB  # per image or file
    max_body: int = 100 * MB  # per request
    max_pixels: int = 40_000_000
    max_pages: int = 50  # per PDF or TIFF
    max_files: int = 50  # images, files or URLs per request
    token_rpm: int | None = None
    token_max_cost: Decimal | None = None
    max_cost: Decimal | None = None  # the whole server, while it runs
    rpm: int | None = None
    tpm: int | None = None
    concurrency: int = 8
    cache_dir: str | None = None
    no_cache: bool = False
    timeout: float = 120.0
    retries: int = 3


@dataclass
class Service:
    settings: Settings
    store: Store = field(init=False)
    http: Http = field(init=False)
    guard: Guard = field(init=False)
    budget: cost.Budget | None = field(init=False)
    jobs: Jobs = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.store = Store(Store.default_path(s.cache_dir), cache=not s.no_cache)
        # always one limiter: a provider's 429 or low remaining quota pauses every client
        self.http = Http(timeout=s.timeout, retries=s.retries, limiter=RateLimiter(s.rpm, s.tpm),
                         max_connections=max(10, s.concurrency))
        self.guard = Guard(s.tokens, s.token_rpm, s.token_max_cost)
        self.budget = cost.Budget(s.max_cost) if s.max_cost is not None else None
        self.jobs = Jobs(self, self.store.path.parent / "jobs")

    @property
    def model(self) -> str:
        return self.settings.model or providers.default_model()

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        self.jobs.resume()
        try:
            yield
        finally:
            await self.jobs.stop()
            await self.http.aclose()
            self.store.close()

    def base_url(self, model: str | None) -> str | None:
        """--base-url, for OpenAI-compatible models only: never another provider's key there."""
        compatible = providers.resolve(model or self.model).spec.compatible
        return self.settings.base_url if compatible else None

    def budget_for(self, caller: Caller, max_cost: float | None = None) -> Budgets | None:
        """The server's, the caller's and this request's caps, as one budget."""
        return budgets(self.budget, caller.budget,
                       cost.Budget(Decimal(str(max_cost))) if max_cost is not None else None)

    def models(self) -> list[str]:
        """``local``, the default model, and the well-known models of providers with a key."""
        out = ["local", self.model]
        for spec in providers.SPECS.values():
            names = spec.known_models
            if names and providers.resolve(f"{spec.name}:{names[0]}").api_key:
                out += [f"{spec.name}:{n}" for n in names]
        return list(dict.fromkeys(out))

    def load(self, spec: str) -> list[Image]:
        """An image URL or data URL a client sent, under the upload limits; URLs fetched only
        from public addresses unless --allow-private-urls."""
        if not spec.startswith(("http://", "https://", "data:")):
            raise InputError(spec[:80], "not an image URL or data URL",
                             "Send http(s)://... or data:image/png;base64,... (or upload the "
                             "file).")
        s = self.settings
        return images.load(spec, max_bytes=s.max_bytes, max_pixels=s.max_pixels,
                           max_pages=s.max_pages, public_only=not s.allow_private_urls)

    def load_bytes(self, data: bytes, name: str) -> list[Image]:
        """An uploaded file under the upload limits, its images named after the file."""
        s = self.settings
        if len(data) > s.max_bytes:
            raise ImageTooLarge(name, f"{len(data):,} bytes is over the {s.max_bytes:,} byte "
                                "limit", "Send a smaller file.")
        return images.load(data, max_bytes=s.max_bytes, max_pixels=s.max_pixels,
                           max_pages=s.max_pages, name=name)


def caller_of(request: Request) -> Caller:
    """The dependency every /v1 route takes: the caller, authenticated and counted."""
    return service_of(request).guard.caller(request.headers.get("authorization"))


Authorized = Annotated[Caller, Depends(caller_of)]


def service_of(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


# --- jobs ---------------------------------------------------------------------------------


JOB_ID = re.compile(r"job-[0-9a-f]{16}")


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", os.path.basename(name))[:80] or "upload"


class Jobs:
    """Jobs are runs in the run store, their inputs kept in ``folder/ID/`` with ``job.json``,
    so a restarted server resumes every job that had not finished."""

    def __init__(self, service: Service, folder: Path) -> None:
        self.service, self.folder = service, folder
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def create(self, caller: Caller, task: str, knobs: dict[str, Any],
               files: list[tuple[str, bytes]], urls: list[str]) -> str:
        """Save the inputs and start the job; returns its id."""
        job_id = "job-" + uuid.uuid4().hex[:16]
        where = self.folder / job_id
        where.mkdir(parents=True, mode=0o700)
        inputs: list[dict[str, str]] = []
        for n, (name, data) in enumerate(files):
            saved = f"{n:04d}-{_safe(name)}"
            (where / saved).write_bytes(data)
            inputs.append({"file": saved, "name": name})
        inputs += [{"url": url} for url in urls]
        spec = {"id": job_id, "owner": caller.name, "task": task, "knobs": knobs,
                "inputs": inputs, "created": datetime.now(UTC).isoformat(timespec="seconds")}
        (where / "job.json").write_text(json.dumps(spec))
        self._start(spec)
        return job_id

    def spec(self, job_id: str, caller: Caller) -> dict[str, Any] | None:
        """The job's spec when it exists and belongs to ``caller``."""
        path = self.folder / job_id / "job.json"
        if not JOB_ID.fullmatch(job_id) or not path.is_file():
            return None
        spec: dict[str, Any] = json.loads(path.read_text())
        return spec if spec["owner"] == caller.name else None

    def failed_loads(self, job_id: str) -> list[dict[str, str]]:
        path = self.folder / job_id / "failed.json"
        return json.loads(path.read_text()) if path.exists() else []

    def state(self, job_id: str) -> str:
        if (self.folder / job_id / "finished").exists():
            return "finished"
        return "running" if job_id in self.tasks else "queued"

    def names(self, spec: dict[str, Any]) -> dict[str, str]:
        """Saved file path -> the name the client gave it."""
        where = self.folder / spec["id"]
        return {str(where / i["file"]): i["name"] for i in spec["inputs"] if "file" in i}

    def resume(self) -> None:
        """Start every job that has not finished (called when the server starts)."""
        if self.folder.is_dir():
            for path in sorted(self.folder.glob("*/job.json")):
                if not (path.parent / "finished").exists():
                    self._start(json.loads(path.read_text()))

    async def stop(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)

    def _start(self, spec: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._run(spec))
        self.tasks[spec["id"]] = task
        task.add_done_callback(lambda _: self.tasks.pop(spec["id"], None))

    async def _run(self, spec: dict[str, Any]) -> None:
        service, where = self.service, self.folder / spec["id"]
        items: list[Item] = []
        failed: list[dict[str, str]] = []
        for given in spec["inputs"]:
            if "file" in given:
                items += await asyncio.to_thread(plan, [str(where / given["file"])])
                continue
            try:
                loaded = await asyncio.to_thread(service.load, given["url"])
            except PixelproofError as e:
                failed.append({"source": given["url"], "error": redact(str(e))})
                continue
            items += [Item(f"{im.label}@{im.sha256[:16]}", im.source, im.page, im)
                      for im in loaded]
        (where / "failed.json").write_text(json.dumps(failed))
        knobs = spec["knobs"]
        caller = service.guard.named(spec["owner"])
        async for _ in abatch(items, task=spec["task"], run=spec["id"], store=service.store,
                              http=service.http, concurrency=service.settings.concurrency,
                              budget=service.budget_for(caller, knobs.get("max_cost")),
                              base_url=service.base_url(knobs.get("model")),
                              model=knobs.get("model") or service.model,
                              prompt=knobs.get("prompt"), fields=knobs.get("fields"),
                              schema=knobs.get("schema"), detail=knobs.get("detail", "auto"),
                              verify=knobs.get("verify", True), votes=knobs.get("votes", 1)):
            pass
        with suppress(OSError):
            (where / "finished").touch()
