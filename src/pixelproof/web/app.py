"""The app factories: ``create_app`` for ``pixelproof serve`` (the REST and OpenAI-compatible
routers, their limits and the service they share, and the review pages of every run) and
``review_app`` for ``pixelproof review`` (one run). Review pages are checked on every request:
the token when one is set, else a loopback Host header, against DNS rebinding; they carry a
Content-Security-Policy with no outside hosts."""

from __future__ import annotations

import hmac
from importlib.metadata import version

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from ..errors import PixelproofError, StoreError
from ..store import Store
from . import api, compat, review, security
from .service import Service, Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """The FastAPI app for ``pixelproof serve``; OpenAPI docs at /docs."""
    service = Service(settings or Settings())
    app = FastAPI(title="pixelproof", version=version("pixelproof"),
                  description="Extract data from images with vision models, every value "
                  "checked against the pixels; OpenAI-compatible at /v1/chat/completions.",
                  lifespan=service.lifespan)
    app.state.service = service
    security.install(app, service.settings.max_body)
    app.include_router(api.router)
    app.include_router(compat.router)

    @app.get("/healthz", tags=["server"])
    async def healthz() -> dict[str, str]:
        """Liveness: no token needed."""
        return {"status": "ok"}

    _review_pages(app, service)
    return app


def _review_pages(app: FastAPI, service: Service) -> None:
    """Every run's review pages under ``serve`` (``/runs/NAME``): the server's tokens, sent as
    a header or once as ``?token=`` (which sets a cookie for the page's own requests)."""

    def allowed(request: Request) -> None:
        if not service.settings.tokens and not is_loopback(request.url.hostname or ""):
            raise security.ApiError(403, "the review pages answer on loopback only; restart "
                                    "the server with --token to open them elsewhere.")
        given = request.query_params.get("token") or request.cookies.get(COOKIE)
        service.guard.caller(request.headers.get("authorization") or (
            f"Bearer {given}" if given else None))

    app.include_router(review.router(service.store, None), dependencies=[Depends(allowed)],
                       include_in_schema=False)
    app.mount("/static", StaticFiles(directory=review.STATIC), name="static")

    @app.middleware("http")
    async def pages(request: Request, call_next):
        response = await call_next(request)
        if request.url.path.startswith(("/runs/", "/api/runs/", "/static/")):
            response.headers["Content-Security-Policy"] = CSP
            token = request.query_params.get("token")
            if token and response.status_code == 200:
                response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response


LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
COOKIE = "pixelproof_token"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


def review_app(store: Store, run: str, *, token: str | None = None) -> FastAPI:
    """The review app for ``run`` in ``store``. With ``token``, every request must carry it
    (``?token=`` once, which sets a cookie, or ``Authorization: Bearer TOKEN``)."""
    app = FastAPI(title="pixelproof", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        given = request.query_params.get("token") or request.cookies.get(COOKIE) or \
            request.headers.get("authorization", "").removeprefix("Bearer ")
        if token is not None and not hmac.compare_digest(given.encode(), token.encode()):
            response: Response = JSONResponse({"detail": "a token is needed: open the URL "
                                               "`pixelproof review` printed, with ?token=..."},
                                              status_code=401)
        elif token is None and not is_loopback(request.url.hostname or ""):
            response = JSONResponse({"detail": "this review server answers on 127.0.0.1 "
                                     "only; restart it with --host and --token."},
                                    status_code=403)
        else:
            response = await call_next(request)
            if token is not None and request.query_params.get("token"):
                response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.exception_handler(PixelproofError)
    async def pixelproof_error(request: Request, e: PixelproofError) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, status_code=404 if isinstance(
            e, StoreError) else 422)

    app.include_router(review.router(store, run))
    app.mount("/static", StaticFiles(directory=review.STATIC), name="static")
    return app
