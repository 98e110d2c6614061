"""The ``pixelproof`` command: a thin layer over the library."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from . import cost, output
from .console import export_run, fail, print_estimate, print_runs, print_usage
from .errors import PixelproofError
from .extract import DEFAULT_PROMPT
from .gate import (
    MAX_RETRIES,
    check_options,
    describe_images,
    extract_images,
    ray_executor,
    review_run,
)
from .reads import check_file, print_reads

MODEL_HELP = ("Model id as provider:model, e.g. openai:gpt-4o-mini, anthropic:claude-haiku-4-5, "
              "gemini:gemini-2.5-flash, ollama:llava, or local (offline OCR). Default: "
              "$PIXELPROOF_MODEL, else the first provider whose API key is set, else local.")


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """One line per error and a non-zero exit; the traceback with PIXELPROOF_DEBUG=1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PixelproofError as e:
            fail(str(e), e)
            sys.exit(1)
        except KeyboardInterrupt:
            fail("interrupted")
            sys.exit(130)

    return wrapper


def model_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("-m", "--model", default=None, help=MODEL_HELP),
        *_transport_options,
    ]):
        fn = option(fn)
    return fn


def models_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``-m`` given several times: the first model answers, the others vote with it."""
    for option in reversed([
        click.option("-m", "--model", "models", multiple=True,
                     help=MODEL_HELP + " Give -m again to have more models vote."),
        *_transport_options,
    ]):
        fn = option(fn)
    return fn


_transport_options = [
        click.option("--base-url", default=None,
                     help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 "
                          "(default $OPENAI_BASE_URL)."),
        click.option("--detail", type=click.Choice(["low", "high", "auto"]), default="auto",
                     show_default=True,
                     help="Image detail. auto: low where enough, else the smallest size the "
                          "local engine still reads as well as the full one (for models with "
                          "a published token formula)."),
        click.option("--system", default=None, help="System prompt."),
        click.option("--max-tokens", type=int, default=None, help="Cap on answer tokens."),
        click.option("--temperature", type=float, default=None, help="Sampling temperature."),
        click.option("--timeout", type=float, default=120.0, show_default=True,
                     help="Seconds to wait for each answer."),
        click.option("--retries", type=int, default=3, show_default=True,
                     help="Retries on 429, 5xx and timeouts (honouring Retry-After)."),
]


def _ocr_workers(ctx: click.Context, param: click.Parameter, value: int | None) -> None:
    ctx.meta["ocr_workers"] = value  # with --ray: the number of OCR actors
    if value is not None:
        from . import ocr
        ocr.configure(value)


ocr_workers_option = click.option(
    "--ocr-workers", type=click.IntRange(0), default=None, expose_value=False,
    callback=_ocr_workers, metavar="N",
    help="OCR worker processes (default $PIXELPROOF_OCR_WORKERS, else one per core, fewer "
         "when memory is short; each takes up to about 600 MB). 0 reads in this process.")


_RAY_BATCH = ("Spread the work over a Ray cluster (the `ray` extra): OCR in actors (one per "
              "CPU, or --ocr-workers N), requests from async actors under one rate limit and "
              "budget; this process keeps the run store and writes the outputs. Inputs must "
              "be readable on every node.")
_RAY_OCR = ("Read the pages on a Ray cluster (the `ray` extra): OCR in actors, one per CPU "
            "(or --ocr-workers N); this process loads the pages and prints what was read.")


def ray_options(text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--ray and --ray-address, --ray explained by ``text``."""
    def add(fn: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed([
            click.option("--ray", "use_ray", is_flag=True, help=text),
            click.option("--ray-address", default="auto", show_default=True, metavar="ADDRESS",
                         help="With --ray: the cluster, as Ray takes it (auto: the one this "
                              "machine belongs to; HOST:6379; local: start one here)."),
        ]):
            fn = option(fn)
        return fn
    return add


def batch_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        ocr_workers_option,
        click.option("--concurrency", type=click.IntRange(1, 256), default=8, show_default=True,
                     help="Requests in flight at once (one connection pool)."),
        click.option("--rpm", type=click.IntRange(1), default=None,
                     help="Requests per minute at most (also follows the provider's "
                          "rate-limit headers and 429s)."),
        click.option("--tpm", type=click.IntRange(1), default=None,
                     help="Tokens per minute at most (about 1000 per request)."),
        click.option("--run", default=None, metavar="NAME",
                     help="Record the run in the store; run again with the same NAME to "
                          "resume: done inputs are skipped, failed ones retried."),
        click.option("--from", "from_file",
                     type=click.Path(exists=True, dir_okay=False, allow_dash=True),
                     default=None, help="Read more inputs from FILE, one per line (- = stdin)."),
    ]):
        fn = option(fn)
    return fn


def cost_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--dry-run", is_flag=True,
                     help="Show the images, tokens and estimated cost; send nothing."),
        click.option("--max-cost", type=float, default=None, metavar="USD",
                     help="Refuse to start above this estimate, and never spend more: each "
                          "request's worst case is reserved before it is sent."),
        click.option("--price-file", type=click.Path(dir_okay=False, exists=True), default=None,
                     help="JSON prices merged over the bundled table (see `pixelproof cost`)."),
        click.option("--no-cache", is_flag=True,
                     help="Always ask the model; do not answer repeats from the cache."),
        click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
                     help="Where the cache and usage log live (default $PIXELPROOF_HOME, else "
                          "the user data folder)."),
    ]):
        fn = option(fn)
    return fn


def extract_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``extract``'s own options (``review`` takes them too, to extract before reviewing)."""
    for option in reversed([
        click.option("-f", "--format", "fmt", type=click.Choice(output.FORMATS), default=None,
                     help="Output format (default: from -o's extension, else markdown)."),
        click.option("--schema", "schema_file", type=click.Path(dir_okay=False), default=None,
                     help="A JSON Schema file the output must match."),
        click.option("--fields", default=None,
                     help='Shorthand for rows of fields: "date:date, description, amount:number". '
                          "Types: string, number, integer, date, boolean."),
        click.option("-p", "--prompt", default=None, help="Replace the built-in instructions."),
        click.option("-o", "--output", "out", type=click.Path(dir_okay=False), default=None,
                     help="Write to FILE (.json, .jsonl, .csv, .md), atomically."),
        click.option("--attempts", type=click.IntRange(1, 10), default=3, show_default=True,
                     help="Tries per image: the answer is re-asked with the validation errors."),
        click.option("--no-verify", is_flag=True,
                     help="Skip checking each value against the pixels (OCR) and the arithmetic."),
        click.option("--show", is_flag=True, help="List every flagged value and failed sum."),
        click.option("--strict", is_flag=True,
                     help="Exit non-zero when any value is unverified or contradicted, a sum "
                          "fails, or votes disagree."),
        click.option("--overlay", type=click.Path(dir_okay=False), default=None,
                     help="Draw each value's box on the image (green verified, red flagged) to "
                          "this PNG; with several images, NAME-1.png, NAME-2.png, ..."),
        click.option("--votes", type=click.IntRange(1, 10), default=1, show_default=True,
                     help="Ask N times and report per-field agreement."),
        click.option("--batch-api", is_flag=True,
                     help="OpenAI only: send through the Batch API at half price (answers within "
                          "24 h; resumable with --run)."),
        click.option("--poll", type=float, default=30.0, show_default=True,
                     help="Seconds between Batch API status checks."),
    ]):
        fn = option(fn)
    return fn


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pixelproof")
def main() -> None:
    """Get data out of images with vision models, and check every value against the pixels.

    With no API key set, the offline `local` engine (RapidOCR) is used.
    """
    if os.environ.get("PIXELPROOF_DEBUG"):  # tracebacks, and pixelproof's log lines
        import logging
        logging.basicConfig(format="%(name)s: %(levelname)s: %(message)s")
        logging.getLogger("pixelproof").setLevel(logging.DEBUG)


@main.command()
@click.argument("images", nargs=-1)
@click.option("-p", "--prompt", default=DEFAULT_PROMPT, show_default=True,
              help="The question to ask.")
@click.option("--each", is_flag=True,
              help="Ask the question of every image on its own, as a batch.")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), default=None,
              help="With --each: write source and answer per image to FILE (.jsonl, .csv, ...).")
@batch_options
@ray_options(_RAY_BATCH + " With describe: needs --each.")
@model_options
@cost_options
@click.option("--json", "as_json", is_flag=True, help="Print the whole response as JSON.")
@click.option("--no-verify", is_flag=True,
              help="Skip checking the answer's figures, dates and quotations against the pixels.")
@click.option("--show", is_flag=True, help="List every claim of the answer that is flagged.")
@handle_errors
def describe(**options: Any) -> None:
    """Ask a question about IMAGES (paths, globs, folders, URLs, PDFs, - for stdin).

    Several images go in one request, so you can compare them or ask about a multi-page scan;
    with --each, every image is asked on its own (concurrently, resumable with --run). The
    figures, dates and quotations the answer states are checked against the pages (a summary
    on stderr; --show lists the flagged ones; --no-verify skips it).
    """
    describe_images(**options)


@main.command()
@click.argument("images", nargs=-1)
@extract_options
@click.option("--date-order", type=click.Choice(["dmy", "mdy", "ymd"]), default=None,
              help="How the images write numeric dates (the local engine reads by it; by "
                   "default it reads the order from the page, or leaves a date as printed).")
@batch_options
@ray_options(_RAY_BATCH)
@models_option
@cost_options
@handle_errors
def extract(**options: Any) -> None:
    """Extract tables, key values or SCHEMA-shaped records from IMAGES.

    Each image (each PDF page) is its own item; with several, each record carries its source.
    Without --schema/--fields the model is asked for every table and labelled value.
    """
    extract_images(**options)


@main.command()
@click.argument("target", nargs=-1)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to serve on (0: any free one).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to serve on; other than loopback needs --token (one is made and "
                   "printed in the URL when not given).")
@click.option("--token", default=None,
              help="Refuse every request without this token (given once in the URL, then kept "
                   "in a cookie).")
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
@extract_options
@batch_options
@models_option
@cost_options
@handle_errors
def review(target: tuple[str, ...], port: int, host: str, token: str | None, no_browser: bool,
           **options: Any) -> None:
    """Review a run in the browser: TARGET is a run name, or IMAGES to extract into a run
    first (with extract's options; --run NAME names it).

    Items come riskiest first; each value is boxed on its page, coloured by its verification
    status. Accept, edit, delete or add values; every correction is kept in the run store, and
    `pixelproof runs export` writes the corrected data.
    """
    if not target:
        raise click.UsageError("give a run name (see `pixelproof runs list`) or IMAGES.")
    store, run = review_run(target, options)
    from .web.launch import serve_review
    serve_review(store, run, host=host, port=port, token=token, browser=not no_browser)


@main.command("verify")
@click.argument("image")
@click.argument("data", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--show", is_flag=True, help="List every flagged value and failed sum.")
@click.option("--strict", is_flag=True,
              help="Exit 1 when any value is unverified or contradicted, or a sum fails.")
@click.option("--overlay", type=click.Path(dir_okay=False), default=None,
              help="Draw each value's box on the image (green verified, red flagged) to this "
                   "PNG.")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: print the whole report (every check) on stdout.")
@click.option("--json", "fmt", flag_value="json", help="Same as -f json.")
@handle_errors
def verify_command(image: str, data: str, show: bool, strict: bool, overlay: str | None,
                   fmt: str) -> None:
    """Check DATA against IMAGE, with no model: every value is looked up in what the offline
    engine reads, and the document's sums are checked.

    IMAGE is one image (a path, URL, data URL or scan.pdf#page=2; - for stdin). DATA is a
    JSON file (an object, an array of rows, or `pixelproof extract -f json` output), JSON
    Lines, a Markdown table or CSV; - for stdin. It can come from anywhere: another tool, a
    person, an earlier run.

    \b
    Example:
      pixelproof verify scan.png data.json --show --overlay checked.png

    Exit status: 0 when done (flagged values included), 1 with --strict when anything is
    flagged, 2 when IMAGE or DATA cannot be used.
    """
    check_file(image, data, show=show, strict=strict, overlay=overlay, fmt=fmt)


@main.command()
@click.argument("images", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True,
              help="Print words with their boxes (x0, y0, x1, y1 in image pixels) as JSON.")
@click.option("--tables", "show_tables", is_flag=True,
              help="Print the tables and labelled values found, as Markdown.")
@ocr_workers_option
@ray_options(_RAY_OCR)
@handle_errors
def ocr(images: tuple[str, ...], as_json: bool, show_tables: bool, use_ray: bool,
        ray_address: str) -> None:
    """Read the text in IMAGES with the offline engine (no API key, nothing sent)."""
    pool = ray_executor(use_ray, ray_address).ocr_pool() if use_ray else None
    print_reads(images, as_json=as_json, tables=show_tables, pool=pool)


@main.command("cost")
@click.argument("images", nargs=-1, required=True)
@click.option("-m", "--model", default=None, help=MODEL_HELP)
@click.option("--detail", type=click.Choice(["low", "high", "auto"]), default="auto",
              show_default=True, help="Detail level (auto is counted as high).")
@click.option("-p", "--prompt", default="", help="The prompt, counted at about 4 characters "
              "per token.")
@click.option("--max-tokens", type=int, default=None,
              help=f"Answer tokens to allow for (default {cost.DEFAULT_OUTPUT}).")
@click.option("--price-file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="JSON prices merged over the bundled table.")
@handle_errors
def cost_command(images: tuple[str, ...], model: str | None, detail: str, prompt: str,
                 max_tokens: int | None, price_file: str | None) -> None:
    """What sending IMAGES to a model costs: sizes after its resize, tokens and dollars.

    Token counts follow each provider's published image formula; prices come from a dated
    table bundled with pixelproof (override with --price-file). Nothing is sent.
    """
    check_options(models=(model,), max_tokens=max_tokens, price_file=price_file)
    print_estimate(images, model, detail, prompt, max_tokens, price_file)


@main.group()
def runs() -> None:
    """Batch runs recorded with --run NAME."""


@runs.command("list")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="The store to read (default $PIXELPROOF_HOME, else the user data folder).")
@handle_errors
def runs_list(cache_dir: str | None) -> None:
    """Every run with its items by status."""
    print_runs(cache_dir)


@runs.command("export")
@click.argument("name")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), default=None,
              help="Write to FILE (.json, .jsonl, .csv, .md), atomically.")
@click.option("-f", "--format", "fmt", type=click.Choice(output.FORMATS), default=None,
              help="Output format (default: from -o's extension, else markdown).")
@click.option("--golden", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Write each reviewed image with its corrected JSON to DIR instead: a test "
                   "set for `pixelproof eval DIR`.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="The store to read (default $PIXELPROOF_HOME, else the user data folder).")
@handle_errors
def runs_export(name: str, out: str | None, fmt: str | None, golden: str | None,
                cache_dir: str | None) -> None:
    """Rebuild run NAME's output from the store (done items, in input order), with the
    corrections made in `pixelproof review`; a reviewed run's records say `reviewed`."""
    export_run(name, out, fmt, golden, cache_dir)


@main.command("eval")
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
@click.option("--schema", "schema_file", type=click.Path(dir_okay=False, exists=True),
              default=None, help="The JSON Schema to extract with (default: FOLDER/schema.json "
                                 "when there is one).")
@models_option
@handle_errors
def eval_command(folder: str, schema_file: str | None, models: tuple[str, ...],
                 base_url: str | None, detail: str, system: str | None,
                 max_tokens: int | None, temperature: float | None, timeout: float,
                 retries: int) -> None:
    """Extract every image of a golden set (`runs export NAME --golden FOLDER`) and score the
    answers against the reviewed JSON: accuracy per field and per document, and how many wrong
    values verification flagged (and how many right ones it flagged too)."""
    from .evaluate import evaluate
    score = evaluate(folder, schema_file, model=models[0] if models else None,
                     base_url=base_url, detail=detail, system=system, max_tokens=max_tokens,
                     temperature=temperature, vote_models=models[1:], timeout=timeout,
                     retries=retries)
    click.echo(score.render(), nl=False)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback needs --token.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--token", "tokens", multiple=True, envvar="PIXELPROOF_TOKENS",
              help="A bearer token clients must send (give several, or set PIXELPROOF_TOKENS "
                   "to tokens separated by spaces).")
@click.option("-m", "--model", default=None, help="The default model. " + MODEL_HELP)
@click.option("--base-url", default=None,
              help="OpenAI-compatible endpoint for openai: models (default $OPENAI_BASE_URL).")
@click.option("--allow-private-urls", is_flag=True,
              help="Fetch image URLs on loopback and private networks too (only for trusted "
                   "clients).")
@click.option("--max-cost", type=float, default=None, metavar="USD",
              help="Never spend more than this while the server runs.")
@click.option("--token-max-cost", type=float, default=None, metavar="USD",
              help="Never spend more than this for one token while the server runs.")
@click.option("--token-rpm", type=click.IntRange(1), default=None,
              help="Requests per minute one token may send.")
@click.option("--rpm", type=click.IntRange(1), default=None,
              help="Requests per minute to the providers, all clients together.")
@click.option("--tpm", type=click.IntRange(1), default=None,
              help="Tokens per minute to the providers, all clients together.")
@click.option("--concurrency", type=click.IntRange(1, 256), default=8, show_default=True,
              help="Requests in flight at once for each job.")
@click.option("--max-upload-mb", type=click.FloatRange(0, min_open=True), default=20,
              show_default=True, help="Largest image or file.")
@click.option("--max-request-mb", type=click.FloatRange(0, min_open=True), default=100,
              show_default=True, help="Largest request body.")
@click.option("--max-pixels", type=click.IntRange(1), default=40_000_000, show_default=True,
              help="Largest image (or PDF page) in pixels.")
@click.option("--max-pages", type=click.IntRange(1), default=50, show_default=True,
              help="Most pages in one PDF or TIFF.")
@click.option("--max-files", type=click.IntRange(1), default=50, show_default=True,
              help="Most images, files or URLs in one request.")
@click.option("--price-file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="JSON prices merged over the bundled table.")
@click.option("--no-cache", is_flag=True, help="Always ask the model; never answer from the "
              "cache.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Where the cache, usage log, runs and jobs live (default $PIXELPROOF_HOME, "
                   "else the user data folder).")
@click.option("--timeout", type=float, default=120.0, show_default=True,
              help="Seconds to wait for each answer.")
@click.option("--retries", type=click.IntRange(0, MAX_RETRIES), default=3, show_default=True,
              help="Retries on 429, 5xx and timeouts.")
@handle_errors
def serve(**options: Any) -> None:
    """Serve the library over HTTP: a REST API (/v1/extract, /v1/describe, /v1/jobs) and an
    OpenAI-compatible endpoint (/v1/chat/completions, /v1/models); docs at /docs.

    \b
    Example:
      pixelproof serve --host 0.0.0.0 --token "$(openssl rand -hex 16)"
    """
    from .web.launch import serve_api
    serve_api(**options)


@main.command("usage")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First day to include (YYYY-MM-DD).")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="The store to read (default $PIXELPROOF_HOME, else the user data folder).")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@handle_errors
def usage_command(since: Any, cache_dir: str | None, as_json: bool) -> None:
    """Spend by day and model: requests sent, answers from the cache, tokens and dollars (from
    the usage each answer reported; a price we do not know is shown as unknown)."""
    print_usage(cache_dir, since.date() if since else None, as_json)


