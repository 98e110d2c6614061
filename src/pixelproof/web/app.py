"""The app factory: the routers, error handlers, limits and the service they share."""

from __future__ import annotations

from importlib.metadata import version

from fastapi import FastAPI

from . import api, compat, security
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

    return app
