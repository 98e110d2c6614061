"""REST routes: /v1/extract, /v1/describe and /v1/jobs."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["pixelproof"])
