"""Planning and gating a run, for any face: every option checked before any image is read,
the inputs and --from, the store, the --dry-run estimate and --max-cost budget, --ray's
executor, and the batch run with its outputs, report and exit status."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sys
from collections.abc import Iterator
from typing import Any

import click

from . import cost, output, providers, schemas, summary
from .batch import Item, run_items
from .console import FLAGS, Checks, Reporter, fail, flags
from .errors import OptionError, PixelproofError
from .options import Options
from .store import Store
from .types import Extraction, Image

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


@contextlib.contextmanager
def kept_reads() -> Iterator[None]:
    """Pages read in the block are looked up in the default store first and kept there (not
    kept when the store cannot be opened)."""
    from . import ocr as engine
    try:
        store: Store | None = Store()
    except PixelproofError:
        store = None
    try:
        with engine.remember_in(store):
            yield
    finally:
        if store is not None:
            store.close()


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
