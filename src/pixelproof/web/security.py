"""What makes the server safe to expose: bearer tokens, per-token request and spend limits, a cap
on request bodies, and every error as OpenAI's error JSON with no key in it."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import errors
from ..cost import Budget, Reservation
from ..http import redact

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class ApiError(HTTPException):
    """An error answered as ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 kind: str = "invalid_request_error", headers: dict[str, str] | None = None,
                 ) -> None:
        super().__init__(status, message, headers)
        self.message, self.code, self.kind = message, code, kind


# pixelproof errors -> (HTTP status, OpenAI error type, code); the first that matches wins
_STATUS: list[tuple[type[Exception], int, str, str]] = [
    (errors.ImageTooLarge, 413, "invalid_request_error", "image_too_large"),
    (errors.InputError, 400, "invalid_request_error", "invalid_image"),
    (errors.ConfigError, 400, "invalid_request_error", "invalid_value"),
    (errors.BudgetError, 402, "insufficient_quota", "budget_exceeded"),
    (errors.RateLimitError, 429, "rate_limit_error", "upstream_rate_limited"),
    (errors.ProviderError, 502, "api_error", "upstream_error"),
    (errors.ExtractionError, 422, "invalid_request_error", "extraction_failed"),
]


def api_error(e: Exception) -> ApiError:
    """The ApiError for any pixelproof error; the message has every key redacted."""
    for kind, status, type_, code in _STATUS:
        if isinstance(e, kind):
            return ApiError(status, redact(str(e)), code=code, kind=type_)
    return ApiError(500, "the server failed (a bug in pixelproof: see its log).",
                    code="internal_error", kind="server_error")


def error_body(e: ApiError) -> dict[str, Any]:
    return {"error": {"message": e.message, "type": e.kind, "param": None, "code": e.code}}


def _answer(e: ApiError) -> JSONResponse:
    return JSONResponse(error_body(e), status_code=e.status_code, headers=e.headers)


def install(app: FastAPI, max_body: int) -> None:
    """Error handlers for every route, and the body cap."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        if isinstance(e, ApiError):
            return _answer(e)
        return _answer(ApiError(e.status_code, str(e.detail),
                                headers=dict(e.headers) if e.headers else None,
                                code="not_found" if e.status_code == 404 else None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _answer(ApiError(400, f"{where or 'request'}: {first.get('msg', 'invalid')}"))

    @app.exception_handler(errors.PixelproofError)
    async def ours(request: Request, e: errors.PixelproofError) -> JSONResponse:
        return _answer(api_error(e))

    @app.exception_handler(Exception)
    async def bug(request: Request, e: Exception) -> JSONResponse:  # logged by the server
        return _answer(api_error(e))

    app.add_middleware(BodyLimit, limit=max_body)


class TooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over the {limit:,} byte limit. Send fewer "
                         "or smaller images, or a job of several requests.",
                         code="request_too_large")


class BodyLimit:
    """Refuse a request body over ``limit`` bytes, by its Content-Length or as it arrives."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if length.isdigit() and int(length) > self.limit:
            return await _answer(TooLarge(self.limit))(scope, receive, send)
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise TooLarge(self.limit)
            return message

        await self.app(scope, counted, send)


# --- tokens and their limits -------------------------------------------------------------


@dataclass
class Caller:
    """Who sent a request: ``name`` is a short hash of the token ("" without tokens), safe to
    keep and show; ``budget`` is the token's spend cap, if any."""

    name: str
    budget: Budget | None = None
    sent: deque[float] = field(default_factory=deque)


class Guard:
    """Bearer tokens, and per token a requests-per-minute window and a spend cap."""

    def __init__(self, tokens: Iterable[str], rpm: int | None = None,
                 max_cost: Decimal | None = None) -> None:
        self.tokens = [t.encode() for t in tokens]
        self.rpm, self.max_cost = rpm, max_cost
        self.callers: dict[str, Caller] = {}

    def caller(self, authorization: str | None) -> Caller:
        """The caller for an ``Authorization`` header, counted against its rate limit; an
        ApiError 401 for a missing or wrong token, 429 over the limit."""
        token = b""
        if self.tokens:
            scheme, _, given = (authorization or "").partition(" ")
            token = given.strip().encode()
            # every token compared, each in constant time: no timing tells which was close
            if scheme.lower() != "bearer" or not any(
                    [hmac.compare_digest(token, t) for t in self.tokens]):
                raise ApiError(401, "Incorrect or missing API key: send one of the server's "
                               "tokens as 'Authorization: Bearer TOKEN'.",
                               code="invalid_api_key")
        caller = self.named(hashlib.sha256(token).hexdigest()[:12] if token else "")
        self._count(caller)
        return caller

    def named(self, name: str) -> Caller:
        """The caller known by ``name`` (a job's owner after a restart, too)."""
        if name not in self.callers:
            budget = Budget(self.max_cost) if self.max_cost is not None else None
            self.callers[name] = Caller(name, budget)
        return self.callers[name]

    def _count(self, caller: Caller) -> None:
        if self.rpm is None:
            return
        now = time.monotonic()
        while caller.sent and caller.sent[0] <= now - 60:
            caller.sent.popleft()
        if len(caller.sent) >= self.rpm:
            wait = int(caller.sent[0] + 60 - now) + 1
            raise ApiError(429, f"over this token's limit of {self.rpm} requests a minute; try "
                           f"again in {wait} s.", code="rate_limit_exceeded",
                           kind="rate_limit_error", headers={"Retry-After": str(wait)})
        caller.sent.append(now)


class Budgets:
    """Several spending caps as one budget (the server's, the token's, the request's): a
    request is held against each, and settled in each."""

    def __init__(self, caps: list[Budget]) -> None:
        self.caps = caps

    def reserve(self, amount: Decimal | None) -> tuple[Reservation, ...]:
        held: list[Reservation] = []
        try:
            for cap in self.caps:
                held.append(cap.reserve(amount))
        except errors.BudgetError:
            for cap, h in zip(self.caps, held, strict=False):
                cap.settle(h, Decimal(0))
            raise
        return tuple(held)

    def settle(self, held: tuple[Reservation, ...], actual: Decimal | None) -> None:
        for cap, h in zip(self.caps, held, strict=True):
            cap.settle(h, actual)


def budgets(*caps: Budget | None) -> Budgets | None:
    """The caps that are set as one budget, or None when none is."""
    set_ = [c for c in caps if c is not None]
    return Budgets(set_) if set_ else None
