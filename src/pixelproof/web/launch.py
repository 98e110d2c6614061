"""Serving the web face from a command: the review of a run (a token made for a host that
is not loopback, a browser opened) and the REST API with its limits. uvicorn and FastAPI are
imported only when called, so a missing ``web`` extra is one error."""

from __future__ import annotations

import secrets
import socket
import threading
import webbrowser
from decimal import Decimal
from urllib.parse import quote

import click

from .. import cost
from ..errors import ConfigError
from ..gate import check_options
from ..store import Store


def serve_review(store: Store, run: str, *, host: str, port: int, token: str | None,
                 browser: bool) -> None:
    """Serve the review of ``run`` until Ctrl-C; a token is made for a host that is not
    loopback."""
    try:
        import uvicorn

        from .app import is_loopback, review_app
    except ImportError:
        raise ConfigError("review needs the web extra: pip install 'pixelproof[web]'.") from None
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(18)
    if port == 0:
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/runs/{quote(run, safe='')}" + (
        f"?token={token}" if token else "")
    click.echo(f"reviewing run '{run}' at {url} (Ctrl-C stops)", err=True)
    if browser:
        threading.Timer(1.0, webbrowser.open, [url]).start()
    uvicorn.run(review_app(store, run, token=token), host=host, port=port, log_level="warning")


def serve_api(*, host: str, port: int, tokens: tuple[str, ...], model: str | None,
              base_url: str | None, allow_private_urls: bool, max_cost: float | None,
              token_max_cost: float | None, token_rpm: int | None, rpm: int | None,
              tpm: int | None, concurrency: int, max_upload_mb: float, max_request_mb: float,
              max_pixels: int, max_pages: int, max_files: int, price_file: str | None,
              no_cache: bool, cache_dir: str | None, timeout: float, retries: int) -> None:
    """``pixelproof serve``: check the options, then serve the API until Ctrl-C."""
    try:
        import uvicorn

        from .app import create_app
        from .service import MB, Settings
    except ImportError:
        raise ConfigError("serve needs the web extra: pip install 'pixelproof[web]'.") \
            from None
    tokens = tuple(t for given in tokens for t in given.split())
    if not tokens and host not in ("127.0.0.1", "localhost", "::1"):
        raise click.UsageError(f"--host {host} is reachable from other machines: give --token "
                               "(clients send it as 'Authorization: Bearer TOKEN').")
    check_options(models=(model,), timeout=timeout, max_cost=max_cost, price_file=price_file)
    check_options(max_cost=token_max_cost)
    cost.use_price_file(price_file)
    settings = Settings(
        tokens=tokens, model=model, base_url=base_url, allow_private_urls=allow_private_urls,
        max_bytes=int(max_upload_mb * MB), max_body=int(max_request_mb * MB),
        max_pixels=max_pixels, max_pages=max_pages, max_files=max_files, token_rpm=token_rpm,
        token_max_cost=None if token_max_cost is None else Decimal(str(token_max_cost)),
        max_cost=None if max_cost is None else Decimal(str(max_cost)), rpm=rpm, tpm=tpm,
        concurrency=concurrency, cache_dir=cache_dir, no_cache=no_cache, timeout=timeout,
        retries=retries)
    click.echo(f"pixelproof: serving on http://{host}:{port} (docs at /docs); "
               f"{len(tokens) or 'no'} token{'s' if len(tokens) != 1 else ''}", err=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
