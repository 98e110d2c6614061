"""What a run says on a terminal, for any face that prints there: library messages in the
command's flags, one error line, the progress of a batch, each report with --show and
--strict, an answer streamed as it comes, the usage line and table, the runs in the store
and a run's export."""

from __future__ import annotations

import json
import os
import re
import sys
import traceback
from collections.abc import Awaitable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, TypeVar

import click

from . import cost, output, providers, summary
from . import images as images_mod
from .batch import Item, Progress
from .corrections import Review, write_golden
from .errors import PixelproofError
from .extract import send, stream
from .http import Http, redact
from .store import Store, UsageRow
from .types import Extraction, Image, Response

T = TypeVar("T")

# The library's messages name its parameters; the command says its flags instead.
FLAGS = {"verify=False": "--no-verify", "batch_api=True": "--batch-api", "run=NAME": "--run NAME",
         "strict=True": "--strict", "show=True": "--show",
         **{f"{name}=": f"--{name.replace('_', '-')}" for name in (
             "max_cost", "price_file", "max_tokens", "base_url", "fields", "run", "detail",
             "temperature", "attempts", "votes", "model", "format", "timeout")}}
_PARAMETER = re.compile("|".join(rf"(?<![\w-]){re.escape(p)}" for p in sorted(FLAGS, key=len,
                                                                             reverse=True)))


def flags(message: str) -> str:
    """A library message as the command says it: ``max_cost=`` is ``--max-cost``."""
    return _PARAMETER.sub(lambda m: FLAGS[m.group()] + (
        " " if m.end() < len(message) and message[m.end()] not in " .,:;)" else ""), message)


def fail(message: str, error: BaseException | None = None) -> None:
    """One line on stderr; with PIXELPROOF_DEBUG=1, ``error``'s traceback first."""
    if error is not None and os.environ.get("PIXELPROOF_DEBUG"):
        traceback.print_exception(error)
    click.echo(f"pixelproof: error: {flags(redact(message))}", err=True)


def load_inputs(inputs: tuple[str, ...]) -> tuple[list[Image], int]:
    """Load every input; report each bad one on stderr and go on. Returns images, failures."""
    images: list[Image] = []
    failed = 0
    for spec in images_mod.expand(list(inputs)):
        try:
            images.extend(images_mod.load(spec))
        except PixelproofError as e:
            fail(str(e), e)
            failed += 1
    return images, failed


def usage_line(response: Response) -> str:
    cached = " (cached)" if response.cached else ""
    cost = f", ${response.cost:.6f}" if response.cost is not None else ""
    return f"{response.model}: {response.usage.summary()} tokens{cost}, " \
           f"{response.seconds:.1f} s{cached}"


class Reporter:
    """A rich progress bar on a terminal; one plain line per finished input otherwise."""

    def __init__(self, total: int) -> None:
        self.bar = None
        self.progress: Progress | None = None
        self.said: set[str] = set()  # an error shared by many items (a server gone) once
        self.repeats = 0
        if sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                                TimeRemainingColumn(), transient=True)
            self.task = self.bar.add_task("extracting", total=total, info="")
            self.bar.start()

    def item(self, e: Extraction, p: Progress) -> None:
        self.progress = p
        info = f"{p.failed} failed, {p.spend}, {p.rate:.1f}/s"
        if not e.ok and e.error in self.said:
            self.repeats += 1
        elif not e.ok:
            fail(e.error or "")
            self.said.add(e.error or "")
        earlier = p.done + p.failed == p.skipped  # done in an earlier attempt of the run
        if self.bar is not None and earlier:  # counted, but left out of the rate and ETA
            self.bar.reset(self.task, completed=p.skipped, info=info)
        elif self.bar is not None:
            self.bar.update(self.task, completed=p.done + p.failed, info=info)
        elif not earlier:
            state = "done" if e.ok else "failed"
            click.echo(f"[{p.done + p.failed}/{p.total}] {e.label}: {state}; {info}", err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
        if self.repeats:
            fail(f"... and {self.repeats} more images failed with an error said above.")


@dataclass(frozen=True)
class Checks:
    """What to do with verification reports: list flags, fail on them, draw them."""

    show: bool = False
    strict: bool = False
    overlay: str | None = None

    def report(self, items: list[Extraction], inputs: dict[str, Item] | None = None) -> bool:
        """Print each report's summary (and flags with --show); True when --strict fails.
        ``inputs`` (by label) give the images to draw on, stdin and URLs included."""
        for e in items:
            if (rep := summary.report_of(e)) is not None:
                click.echo(summary.report_text(e.label, rep, self.show), err=True)
        if self.overlay:
            summary.draw_overlays(items, self.overlay, lambda label: inputs[label].load() if (
                inputs and label in inputs) else images_mod.load(label)[0])
        return self.strict and summary.strict_failed(items)


async def closing(http: Http, work: Awaitable[T]) -> T:
    """Await ``work``, then close the HTTP client it uses."""
    async with http:
        return await work


async def streamed(request: Any, base_url: str | None, http: Http,
                    budget: cost.Budget | None, store: Store, live: bool) -> Response:
    if not live:
        return await send(request, http, base_url=base_url, budget=budget, store=store)
    response = None
    async for piece in stream(request, http, base_url=base_url, store=store):
        if isinstance(piece, str):
            click.echo(piece, nl=False)
            sys.stdout.flush()
        else:
            response = piece
    click.echo()
    assert response is not None
    return response


def usage_table(rows: list[UsageRow]) -> str:
    """``pixelproof usage``'s table: a line per day and model, then the total (an unknown
    price stays unknown)."""
    lines = [f"{'day':10}  {'model':32} {'requests':>8} {'cached':>6} {'in':>10} {'out':>9}"
             f" {'cost':>11}"]
    lines += [f"{r.day:10}  {r.model[:32]:32} {r.requests:>8} {r.cached:>6} "
              f"{r.input_tokens:>10} {r.output_tokens:>9} {cost.money(r.cost):>11}"
              for r in rows]
    total = cost.total(r.cost for r in rows)
    lines.append(f"total: {sum(r.requests for r in rows)} requests, "
                 f"{sum(r.cached for r in rows)} cached, {sum(r.input_tokens for r in rows)} "
                 f"in, {sum(r.output_tokens for r in rows)} out, {cost.money(total)}")
    return "\n".join(lines)


def export_run(name: str, out: str | None, fmt: str | None, golden: str | None,
               cache_dir: str | None) -> None:
    """Run NAME's output rebuilt from the store with its corrections, to ``out`` or stdout
    (or its reviewed items as a golden set in ``golden``); exits 1 when there is no such run
    or nothing reviewed for ``golden``."""
    with Store(Store.default_path(cache_dir)) as store:
        items = store.items(name)
        if not items:
            fail(f"no run named '{name}'. See `pixelproof runs list`.")
            sys.exit(1)
        if golden:
            n = write_golden(Review(store, name), golden)
            click.echo(f"wrote {n} reviewed items to {golden}" + (
                "" if n else "; review some with `pixelproof review NAME` first"), err=True)
            sys.exit(0 if n else 1)
        done = Review(store, name).exported()
    if out:
        output.write_atomic(out, summary.render_items(done, output.format_for(out)))
    else:
        click.echo(summary.render_items(done, fmt or "markdown"), nl=False)
    click.echo(f"{sum(i.status == 'done' for i in items)} of {len(items)} inputs done", err=True)


def print_usage(cache_dir: str | None, since: date | None, as_json: bool) -> None:
    """The usage log by day and model, from ``since``: a table, or its rows as JSON."""
    with Store(Store.default_path(cache_dir)) as store:
        rows = store.usage_report(since)
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], default=str, indent=1))
        return
    if not rows:
        click.echo("no usage recorded" + (f" since {since}" if since else "") + ".")
        return
    click.echo(usage_table(rows))


def print_runs(cache_dir: str | None) -> None:
    """Every run in the store with its items by status and its spend, a line each."""
    with Store(Store.default_path(cache_dir)) as store:
        for r in store.runs():
            states = ", ".join(f"{n} {status}" for status, n in sorted(r.counts.items()))
            click.echo(f"{r.name}\t{r.created}\t{states or 'no items'}\t{cost.money(r.spend)}")


def print_estimate(images: tuple[str, ...], model: str | None, detail: str, prompt: str,
                   max_tokens: int | None, price_file: str | None) -> None:
    """What sending IMAGES to ``model`` costs, one request each (nothing is sent); exits 1
    when an input could not be read."""
    loaded, failed = load_inputs(images)
    prices = cost.load_prices(price_file)
    est = cost.estimate(loaded, model or providers.default_model(), prompt, detail, max_tokens,
                        prices=prices, requests=max(1, len(loaded)))
    click.echo(cost.render_estimate(est))
    if failed:
        sys.exit(1)
