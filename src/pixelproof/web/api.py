"""REST routes: ``/v1/extract`` and ``/v1/describe`` answer at once; ``/v1/jobs`` runs many
images in the background as a run of the run store. Inputs are multipart files, or JSON with
image URLs and data URLs; the knobs are the CLI's."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import cost, formats, schemas
from ..batch import from_json, to_json
from ..errors import PixelproofError
from ..extract import DEFAULT_PROMPT, adescribe, extract_one, tagged
from ..http import redact
from ..types import Extraction, Image, Usage
from .security import ApiError, api_error
from .service import Authorized, Service, service_of

router = APIRouter(tags=["pixelproof"])


class Knobs(BaseModel):
    """The CLI's options, as a request gives them (form fields or JSON)."""

    model_config = ConfigDict(extra="forbid")
    images: list[str] = Field(default=[], description="Image URLs or data URLs.")
    model: str | None = None
    fields: str | None = Field(None, description='Rows of fields: "date:date, amount:number".')
    json_schema: dict[str, Any] | None = Field(None, alias="schema",
                                               description="A JSON Schema the data must match.")
    detail: Literal["low", "high", "auto"] = "auto"
    prompt: str | None = None
    verify: bool = True
    votes: int = Field(1, ge=1, le=10)
    max_cost: float | None = Field(None, ge=0)
    task: Literal["extract", "describe"] = "extract"  # jobs only


_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": Knobs.model_json_schema(by_alias=True)},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "images": {"type": "array", "items": {"type": "string"}},
        **{k: {"type": "string"} for k in ("model", "fields", "schema", "detail", "prompt",
                                           "verify", "votes", "max_cost", "task")}}}}}}}


async def read_inputs(request: Request, service: Service) -> tuple[Knobs, list[tuple[str, bytes]]]:
    """The knobs and the uploaded files (name, bytes), from multipart or JSON; every limit
    on the count and size of inputs checked."""
    limit = service.settings.max_files
    files: list[tuple[str, bytes]] = []
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=limit, max_fields=100)
        except StarletteHTTPException as e:  # too many files or fields, or a broken body
            many = "Too many" in str(e.detail)
            raise ApiError(413 if many else 400, f"{e.detail} Send a job, or several.",
                           code="too_many_files" if many else None) from None
        raw: dict[str, Any] = {"images": []}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                files.append((value.filename or f"upload-{len(files) + 1}", await value.read(
                    service.settings.max_bytes + 1)))
            elif key in ("images", "image", "url"):
                raw["images"].append(value)
            else:
                raw[key] = json.loads(value) if key == "schema" else value
    else:
        try:
            raw = await request.json()
        except ValueError:
            raise ApiError(400, "the body is not JSON: send JSON, or multipart/form-data with "
                           "files.") from None
    try:
        knobs = Knobs.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        raise ApiError(400, f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    if len(files) + len(knobs.images) > limit:
        raise ApiError(413, f"{len(files) + len(knobs.images)} inputs is over the {limit} "
                       "input limit per request; send a job, or several.", code="too_many_files")
    if not files and not knobs.images:
        raise ApiError(400, "no images: upload files, or give image URLs in 'images'.")
    if knobs.fields and knobs.json_schema:
        raise ApiError(400, "give fields or schema, not both.")
    return knobs, files


async def load_all(service: Service, knobs: Knobs, files: list[tuple[str, bytes]]) -> list[Image]:
    loaded: list[Image] = []
    for name, data in files:
        loaded += await asyncio.to_thread(service.load_bytes, data, name)
    for spec in knobs.images:
        loaded += await asyncio.to_thread(service.load, spec)
    return loaded


def spec_of(knobs: Knobs) -> schemas.Schema | None:
    if knobs.fields:
        return schemas.from_fields(knobs.fields)
    return schemas.from_any(knobs.json_schema) if knobs.json_schema else None


def plain(value: Any) -> Any:
    """JSON-ready: Decimals as strings, exact."""
    return json.loads(json.dumps(value, default=str))


def _usage(usage: Usage) -> dict[str, int]:
    return {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
            "cached_tokens": usage.cached_tokens}


def _total(costs: list[Decimal | None]) -> str | None:
    spent = cost.total(costs)
    return None if spent is None else str(spent)


@router.post("/v1/extract", openapi_extra=_BODY)
async def extract(request: Request, caller: Authorized) -> Any:
    """Extract from every image (every PDF page): records, each value's verification, usage,
    cost and timing. Answers 4xx when every image failed, with the first error."""
    service = service_of(request)
    knobs, files = await read_inputs(request, service)
    start = time.perf_counter()
    loaded = await load_all(service, knobs, files)
    spec = spec_of(knobs)
    budget = service.budget_for(caller, knobs.max_cost)
    gate = asyncio.Semaphore(service.settings.concurrency)
    raised: list[PixelproofError] = []

    async def one(image: Image) -> Extraction:
        async with gate:
            try:
                return await extract_one(
                    image, service.http, schema=spec, model=knobs.model or service.model,
                    prompt=knobs.prompt, detail=knobs.detail, verify=knobs.verify,
                    votes=knobs.votes, budget=budget, store=service.store,
                    base_url=service.base_url(knobs.model))
            except PixelproofError as e:
                raised.append(e)
                return Extraction(source=image.source, page=image.page,
                                  error=api_error(e).message)

    items = list(await asyncio.gather(*(one(im) for im in loaded)))
    if all(not i.ok for i in items):
        raise raised[0]
    return plain({"items": [to_json(i) for i in items], "records": tagged(items),
                  "usage": _usage(sum((i.usage for i in items), Usage())),
                  "cost": _total([i.cost for i in items if i.ok]),
                  "seconds": round(time.perf_counter() - start, 3)})


@router.post("/v1/describe", openapi_extra=_BODY)
async def describe(request: Request, caller: Authorized) -> Any:
    """Ask ``prompt`` about the images, sent together as one question."""
    service = service_of(request)
    knobs, files = await read_inputs(request, service)
    start = time.perf_counter()
    loaded = await load_all(service, knobs, files)
    response = await adescribe(loaded, knobs.prompt or DEFAULT_PROMPT,
                               model=knobs.model or service.model, detail=knobs.detail,
                               http=service.http, budget=service.budget_for(caller,
                                                                            knobs.max_cost),
                               store=service.store, base_url=service.base_url(knobs.model))
    return {"text": response.text, "model": response.model,
            "finish_reason": response.finish_reason, "usage": _usage(response.usage),
            "cost": None if response.cost is None else str(response.cost),
            "cached": response.cached, "seconds": round(time.perf_counter() - start, 3)}


@router.post("/v1/jobs", status_code=202, openapi_extra=_BODY)
async def create_job(request: Request, caller: Authorized) -> dict[str, Any]:
    """Start a job over many images (``task``: extract or describe); answers its id at once.
    Uploads are checked against the limits now; image URLs are fetched when the job runs."""
    service = service_of(request)
    knobs, files = await read_inputs(request, service)
    spec_of(knobs)  # a bad schema or fields: refused now
    for name, data in files:
        await asyncio.to_thread(service.load_bytes, data, name)
    options = knobs.model_dump(exclude={"images"}, by_alias=True, exclude_none=True)
    job_id = service.jobs.create(caller, knobs.task, options, files, knobs.images)
    return {"id": job_id, "status": "queued", "progress": f"/v1/jobs/{job_id}",
            "result": f"/v1/jobs/{job_id}/result"}


def _job(request: Request, caller: Any, job_id: str) -> tuple[Service, dict[str, Any]]:
    service = service_of(request)
    spec = service.jobs.spec(job_id, caller)
    if spec is None:
        raise ApiError(404, f"no job '{job_id}' (for this token).", code="not_found")
    return service, spec


@router.get("/v1/jobs/{job_id}")
async def job_progress(job_id: str, request: Request, caller: Authorized) -> dict[str, Any]:
    """The job's state and its items by status, and what it has spent."""
    service, spec = _job(request, caller, job_id)
    counts = {"pending": 0, "running": 0, "done": 0, "failed": 0}
    for item in service.store.items(job_id):
        counts[item.status] += 1
    counts["failed"] += len(service.jobs.failed_loads(job_id))
    spend = next((r.spend for r in service.store.runs() if r.name == job_id), Decimal(0))
    return {"id": job_id, "status": service.jobs.state(job_id), "task": spec["task"],
            "created": spec["created"], "total": sum(counts.values()), **counts,
            "spend": None if spend is None else str(spend)}


@router.get("/v1/jobs/{job_id}/result")
async def job_result(job_id: str, request: Request, caller: Authorized,
                     format: Literal["json", "jsonl", "csv"] = "json") -> Response:
    """The records of the items done so far, in input order: JSON (with each item's
    verification and the failures), JSON Lines or CSV."""
    service, spec = _job(request, caller, job_id)
    names = service.jobs.names(spec)
    rows = service.store.items(job_id)
    done = [from_json(i.result) for i in rows if i.status == "done"]
    done = [_renamed(e, names) for e in done]
    failed = [{"source": names.get(i.key.rsplit("@", 1)[0].split("#page=")[0], i.key),
               "error": redact(i.error or "failed")} for i in rows if i.status == "failed"]
    failed += service.jobs.failed_loads(job_id)
    if format == "jsonl":
        return Response(formats.to_jsonl(tagged(done)), media_type="application/x-ndjson")
    if format == "csv":
        return Response(formats.to_csv(tagged(done)), media_type="text/csv")
    return JSONResponse(plain({"id": job_id, "status": service.jobs.state(job_id),
                               "records": tagged(done),
                               "items": [to_json(e) for e in done], "failed": failed}))


def _renamed(item: Extraction, names: dict[str, str]) -> Extraction:
    return replace(item, source=names.get(item.source, item.source))

