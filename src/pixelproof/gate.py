"""Planning and gating a run, for any face: every option checked before any image is read,
the inputs and --from, the store, the --dry-run estimate and --max-cost budget, --ray's
executor, and the batch run with its outputs, report and exit status."""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any, cast

import click

from . import cost, output, providers, schemas, summary
from .batch import Item, pending, plan, run_items
from .console import (
    FLAGS,
    Checks,
    Reporter,
    closing,
    fail,
    flags,
    load_inputs,
    streamed,
    usage_line,
)
from .errors import OptionError, PixelproofError
from .extract import TABLES_PROMPT, build_request, checked_claims, prepare
from .http import Http
from .options import Options
from .store import Store
from .types import Detail, Extraction, Image

NO_CHECKS = Checks()  # reports printed, nothing failed or drawn
MAX_RETRIES = 20


def check_options(*, models: tuple[str | None, ...] = (), temperature: float | None = None,
                  max_tokens: int | None = None, timeout: float | None = None,
                  retries: int | None = None, max_cost: float | None = None,
                  price_file: str | None = None, fields: str | None = None,
                  schema_file: str | None = None, poll: float | None = None,
                  outputs: dict[str, str | None] | None = None) -> None:
    """Every option checked in one place, before any image is read or request sent: a usage
    error (exit 2) naming the option, its range and what to do."""
    def bad(option: str, message: str) -> None:
        raise click.BadParameter(message, param_hint=f"'{option}'")

    for model in models:
        if model is not None and not model.strip():
            bad("--model", "give a model id, such as openai:gpt-4o-mini or local.")
    try:  # the library's checks, said with the flags
        Options(model=models[0] if models else None, vote_models=tuple(
            m for m in models[1:] if m), max_tokens=max_tokens, temperature=temperature).checked()
    except OptionError as e:
        bad(FLAGS[f"{e.parameter}="], f"{e.problem}")
    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        bad("--timeout", f"{timeout} is not a wait: give seconds above 0.")
    if poll is not None and not (math.isfinite(poll) and poll > 0):
        bad("--poll", f"{poll} is not a wait: give seconds above 0.")
    if retries is not None and not 0 <= retries <= MAX_RETRIES:
        bad("--retries", f"{retries} is not in 0 to {MAX_RETRIES}.")
    if max_cost is not None and not (math.isfinite(max_cost) and max_cost >= 0):
        bad("--max-cost", f"{max_cost} is not an amount: give dollars, 0 or more.")
    try:
        if price_file:
            cost.load_prices(price_file)
        if fields:
            schemas.from_fields(fields)
        if schema_file:
            schemas.from_file(schema_file)
    except PixelproofError as e:
        raise click.UsageError(flags(str(e))) from None
    for option, path in (outputs or {}).items():
        if path:
            check_output(option, path)


def check_output(option: str, path: str) -> None:
    """An output file's folder exists and is writable (checked before any work, so nothing
    done is lost at the end)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise click.BadParameter(f"the folder {os.path.dirname(path) or folder} does not exist; "
                                 "create it first (nothing was sent).", param_hint=f"'{option}'")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise click.BadParameter(f"cannot write in the folder {folder} (permission denied).",
                                 param_hint=f"'{option}'")


def ray_executor(use_ray: bool, address: str) -> Any:
    """``--ray``'s executor (None without it); ray is imported only here."""
    if not use_ray:
        return None
    try:
        from .ray import Executor
    except ImportError as e:
        raise click.UsageError(f"--ray needs Ray ({e}): pip install 'pixelproof[ray]'.") \
            from None
    return Executor(address, ocr_workers=click.get_current_context().meta.get("ocr_workers"))


def open_store(no_cache: bool, cache_dir: str | None) -> Store:
    return Store(Store.default_path(cache_dir), cache=not no_cache)


def batch_budget(todo: list[Item], model: str | None, prompt: str, detail: str,
                 max_tokens: int | None, dry_run: bool, max_cost: float | None,
                 price_file: str | None) -> cost.Budget | None:
    """``budget_for`` over the items a batch still has to ask, one request each (loaded only
    when needed; unreadable ones are left out, they fail without a request)."""
    cost.use_price_file(price_file)
    if not (dry_run or max_cost is not None):
        return None
    loaded = []
    for item in todo:
        try:
            loaded.append(item.outline())  # a PDF page is not rendered for it
        except PixelproofError:
            pass
    return budget_for(loaded, model, prompt, detail, max_tokens, len(loaded), dry_run,
                      max_cost, price_file)


def budget_for(images: list[Image], model: str | None, prompt: str, detail: str,
               max_tokens: int | None, requests: int, dry_run: bool, max_cost: float | None,
               price_file: str | None) -> cost.Budget | None:
    """--price-file, --dry-run (print the estimate and exit) and --max-cost (a Budget)."""
    cost.use_price_file(price_file)
    if not (dry_run or max_cost is not None):
        return None
    model = model or providers.default_model()
    if dry_run:  # what would be sent, under the budget's answer cap when there is one
        capped = max_tokens or (cost.BUDGET_MAX_TOKENS if max_cost is not None else None)
        click.echo(cost.render_estimate(cost.preflight(images, model, prompt, detail, capped,
                                                       requests, None)[0]))
        sys.exit(0)
    return cost.preflight(images, model, prompt, detail, max_tokens, requests, max_cost)[1]


def inputs_of(images: tuple[str, ...], from_file: str | None) -> list[str]:
    """The command-line inputs, then one input per line of --from (``-`` for stdin)."""
    specs = list(images)
    if from_file:
        lines = sys.stdin if from_file == "-" else open(from_file, encoding="utf-8")
        with lines:
            specs += [line.strip() for line in lines if line.strip()]
    if not specs:
        raise click.UsageError("no inputs: give IMAGES or --from FILE.")
    return specs


def run_batch(plan_: list[Item], out: str | None, fmt: str | None, *, run: str | None,
              concurrency: int, rpm: int | None, tpm: int | None, timeout: float,
              retries: int, checks: Checks = NO_CHECKS, write: bool = True,
              **options: Any) -> list[Extraction]:
    """Run every image as an item. JSONL grows a line per record as items finish (a resumed
    run's file is rebuilt from the store first); at the end every format is written atomically,
    in input order (``write=False``: kept in the run store only). Exits 1 when any item
    failed."""
    fmt = fmt or (output.format_for(out) if out else "markdown")
    reporter = Reporter(len(plan_))
    jsonl = summary.Jsonl(out, tagged=len(plan_) > 1) if write and out and \
        output.format_for(out) == "jsonl" else None
    try:
        items = asyncio.run(run_items(
            plan_, run=run, concurrency=concurrency, rpm=rpm, tpm=tpm, timeout=timeout,
            retries=retries, on_item=reporter.item, on_done=jsonl.add if jsonl else None,
            **options))
    finally:
        reporter.close()
        if jsonl is not None:
            jsonl.close()
    if not write:
        return items
    if out:
        output.write_atomic(out, summary.render_items(items, output.format_for(out)))
    elif items:
        click.echo(summary.render_items(items, fmt), nl=False)
    strict_failed = checks.report(items, {i.label: i for i in plan_})
    skipped = reporter.progress.skipped if reporter.progress else 0
    click.echo(flags(summary.run_summary(items, skipped, out)), err=True)
    if strict_failed:
        fail(summary.STRICT_FAILED)
    if strict_failed or any(not e.ok for e in items):
        sys.exit(1)
    return items


def describe_images(images: tuple[str, ...], prompt: str, each: bool, out: str | None,
                    concurrency: int, rpm: int | None, tpm: int | None, run: str | None,
                    from_file: str | None, model: str | None, base_url: str | None,
                    detail: str, system: str | None, max_tokens: int | None,
                    temperature: float | None, timeout: float, retries: int, dry_run: bool,
                    max_cost: float | None, price_file: str | None, no_cache: bool,
                    cache_dir: str | None, as_json: bool, use_ray: bool, ray_address: str,
                    no_verify: bool, show: bool) -> None:
    """``describe``'s work: one request for every image, or with --each (--from, --run) a
    batch of one request per image."""
    check_options(models=(model,), temperature=temperature, max_tokens=max_tokens,
                  timeout=timeout, retries=retries, max_cost=max_cost, price_file=price_file,
                  outputs={"--output": out})
    if use_ray and not (each or from_file or run):
        raise click.UsageError("--ray spreads a batch over a cluster: use it with --each.")
    if each or from_file or run:
        items, store = plan(inputs_of(images, from_file)), open_store(no_cache, cache_dir)
        budget = batch_budget(pending(items, store, run), model, prompt, detail, max_tokens,
                              dry_run, max_cost, price_file)
        run_batch(items, out, None if out else "jsonl", run=run, concurrency=concurrency,
                  rpm=rpm, tpm=tpm, timeout=timeout, retries=retries, budget=budget,
                  store=store, task="describe", prompt=prompt,
                  executor=ray_executor(use_ray, ray_address),
                  model=model, base_url=base_url, detail=detail, system=system,
                  max_tokens=max_tokens, temperature=temperature)
        return
    describe_once(inputs_of(images, None), prompt, model=model, base_url=base_url,
                  detail=detail, system=system, max_tokens=max_tokens,
                  temperature=temperature, timeout=timeout, retries=retries, dry_run=dry_run,
                  max_cost=max_cost, price_file=price_file, no_cache=no_cache,
                  cache_dir=cache_dir, as_json=as_json, no_verify=no_verify, show=show)


def extract_images(images: tuple[str, ...], fmt: str | None, schema_file: str | None,
                   fields: str | None, prompt: str | None, out: str | None, attempts: int,
                   no_verify: bool, show: bool, strict: bool, overlay: str | None, votes: int,
                   batch_api: bool, poll: float,
                   concurrency: int, rpm: int | None, tpm: int | None, run: str | None,
                   from_file: str | None, models: tuple[str, ...], base_url: str | None,
                   detail: str, system: str | None, max_tokens: int | None,
                   temperature: float | None, timeout: float, retries: int, dry_run: bool,
                   max_cost: float | None, price_file: str | None, no_cache: bool,
                   cache_dir: str | None, use_ray: bool = False, ray_address: str = "auto",
                   date_order: str | None = None, write: bool = True) -> list[Extraction]:
    """``extract``'s work: its Extractions; ``write=False`` keeps them in the run store only
    (``review``), printing no records, report or summary."""
    if schema_file and fields:
        raise click.UsageError("use --schema or --fields, not both.")
    if use_ray and batch_api:
        raise click.UsageError("use --ray or --batch-api, not both.")
    check_options(models=models, temperature=temperature, max_tokens=max_tokens,
                  timeout=timeout, retries=retries, max_cost=max_cost, price_file=price_file,
                  fields=fields, schema_file=schema_file, poll=poll,
                  outputs={"--output": out, "--overlay": overlay})
    model = models[0] if models else None
    items, store = plan(inputs_of(images, from_file)), open_store(no_cache, cache_dir)
    budget = batch_budget(pending(items, store, run), model, prompt or TABLES_PROMPT, detail,
                          max_tokens, dry_run, max_cost, price_file)
    return run_batch(
              items, out, fmt, run=run, concurrency=concurrency, rpm=rpm, tpm=tpm,
              timeout=timeout, retries=retries, budget=budget, write=write,
              checks=Checks(show, strict, overlay), verify=not no_verify, votes=votes,
              vote_models=models[1:], batch_api=batch_api, poll_seconds=poll, store=store,
              executor=ray_executor(use_ray, ray_address),
              task="extract", schema=schema_file,
              fields=fields, prompt=prompt, attempts=attempts, model=model, base_url=base_url,
              detail=detail, system=system, max_tokens=max_tokens, temperature=temperature,
              **({"date_order": date_order} if date_order else {}))


def describe_once(specs: list[str], prompt: str, *, model: str | None, base_url: str | None,
                  detail: str, system: str | None, max_tokens: int | None,
                  temperature: float | None, timeout: float, retries: int, dry_run: bool,
                  max_cost: float | None, price_file: str | None, no_cache: bool,
                  cache_dir: str | None, as_json: bool, no_verify: bool, show: bool) -> None:
    """One request for every image of ``specs``: the answer streamed (or as JSON), its claims
    checked against the pages, the report and usage on stderr; exits 1 on a cut-off answer
    or an input that could not be read."""
    loaded, failed = load_inputs(tuple(specs))
    if not loaded:
        sys.exit(1)
    budget = budget_for(loaded, model, prompt, detail, max_tokens, 1, dry_run, max_cost,
                        price_file)
    request, saved = prepare(build_request(loaded, prompt, model=model,
                                           detail=cast(Detail, detail), system=system,
                                           max_tokens=max_tokens, temperature=temperature))
    http = Http(timeout=timeout, retries=retries)
    store = open_store(no_cache, cache_dir)
    response = asyncio.run(closing(http, streamed(request, base_url, http, budget, store,
                                                   live=not as_json and budget is None)))
    if not no_verify:
        response = asyncio.run(checked_claims(response, loaded))
    report = response.verification.to_dict() if response.verification else None
    if as_json:
        shown = asdict(replace(response, verification=None))
        shown.pop("raw")
        shown["verification"] = report
        click.echo(json.dumps(shown, default=str, indent=2))
    if report is not None:
        click.echo(summary.report_text("claims", report, show), err=True)
    click.echo(usage_line(response) + (f"; --detail auto saved {saved} image tokens"
                                       if saved else ""), err=True)
    if response.finish_reason == "length":
        fail("the answer was cut off at the token limit; raise --max-tokens.")
        sys.exit(1)
    if failed:
        sys.exit(1)


def review_run(target: tuple[str, ...], options: dict[str, Any]) -> tuple[Store, str]:
    """``review``'s run: TARGET when it names one (and no file), else a new run (``--run`` or
    review-DATE) that TARGET's images are extracted into with ``options``; exits 1 when none
    of them was extracted."""
    store = Store(Store.default_path(options["cache_dir"]))
    names = {r.name for r in store.runs()}
    if len(target) == 1 and target[0] in names and not os.path.exists(target[0]):
        run = target[0]
    else:
        run = options["run"] = options["run"] or datetime.now().strftime("review-%Y%m%d-%H%M%S")
        done = extract_images(target, write=False, **options)  # the records: kept in the run
        if not any(e.ok for e in done):
            sys.exit(1)
    return store, run
