"""The review pages and their JSON API: the queue, one item, its image, and corrections."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import BaseModel

from ..corrections import Review
from ..store import Store

STATIC = Path(__file__).parent / "static"


class CorrectionIn(BaseModel):
    """``{"path": ..., "value": ...}`` sets a value; ``{"path": ..., "action": ...}`` accepts
    or deletes (a value or a row), adds a row (``value`` is the row), or undoes the last."""

    path: str = ""
    value: Any = None
    action: Literal["set", "accept", "delete", "add", "undo"] | None = None


def router(store: Store, run: str | None) -> APIRouter:
    """The pages and API of every run in ``store``; ``/`` opens ``run`` when one is given."""
    api = APIRouter()

    if run is not None:
        @api.get("/")
        def home() -> RedirectResponse:
            return RedirectResponse(f"/runs/{run}")

    @api.get("/runs/{name}")
    def page(name: str) -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @api.get("/api/runs/{name}/items")
    def items(name: str) -> dict[str, Any]:
        return Review(store, name).queue()

    @api.get("/api/runs/{name}/items/{index}")
    def item(name: str, index: int) -> dict[str, Any]:
        return Review(store, name).item(index)

    @api.get("/api/runs/{name}/items/{index}/image")
    def image(name: str, index: int) -> Response:
        im = Review(store, name).image(index)
        return Response(im.data, media_type=im.mime, headers={"Cache-Control": "no-store"})

    @api.post("/api/runs/{name}/items/{index}/corrections")
    def correct(name: str, index: int, body: CorrectionIn) -> dict[str, Any]:
        review = Review(store, name)
        if body.action == "undo":
            review.undo(index)
        else:
            review.correct(index, body.path, body.action or "set", body.value)
        return review.item(index)

    return api
