"""A run to review, made as a user would: `pixelproof extract ... --run NAME` against a local
OpenAI-compatible server whose answers hold planted errors.

``make(folder)`` renders two receipts of different heights (``clean.png`` answered truly,
``bad.png`` whose second amount is answered wrong and which gains an invented row) and returns a
Made with the paths, the truth and the answers; ``answer(made)`` answers each request by the
shape of the image it holds."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import render
from PIL import Image
from render import data_of, typed

PIXELPROOF = str(Path(sys.executable).parent / "pixelproof")
SCHEMA = {"type": "object", "properties": {
    "rows": {"type": "array", "items": {"type": "object", "properties": {
        "item": {"type": "string"}, "qty": {"type": "integer"}, "price": {"type": "number"},
        "amount": {"type": "number"}}}},
    "date": {"type": "string", "format": "date"}, "receipt no": {"type": "string"},
    "subtotal": {"type": "number"}, "tax": {"type": "number"}, "total": {"type": "number"}}}
WRONG = 16.84  # the bad receipt's rows[1].amount; the page prints 16.34
INVENTED = {"item": "Muffin", "qty": 1, "price": 2.5, "amount": 2.5}


@dataclass
class Made:
    clean: Path
    bad: Path
    schema: Path
    truth: dict[str, Any]  # the bad receipt's true data
    answers: dict[float, dict[str, Any]]  # by the image's height / width


def make(folder: Path) -> Made:
    folder.mkdir(parents=True, exist_ok=True)
    docs = {"clean": render.receipt(14, items=3), "bad": render.receipt(13)}
    for name, doc in docs.items():
        doc.image.save(folder / f"{name}.png")
    truth = {k: typed(data_of("receipt", d)) for k, d in docs.items()}
    bad = json.loads(json.dumps(truth["bad"]))
    bad["rows"][1]["amount"] = WRONG
    bad["rows"].append(INVENTED)
    schema = folder / "receipt.schema.json"
    schema.write_text(json.dumps(SCHEMA))
    ratio = {k: d.image.height / d.image.width for k, d in docs.items()}
    return Made(folder / "clean.png", folder / "bad.png", schema, truth["bad"],
                {ratio["clean"]: truth["clean"], ratio["bad"]: bad})


def answer(made: Made):
    """A FakeAPI answer function: the answer for the receipt the request's image shows."""
    def one(body: dict[str, Any]) -> str:
        url = next(p["image_url"]["url"] for p in body["messages"][-1]["content"]
                   if p.get("type") == "image_url")
        im = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        return json.dumps(made.answers[min(made.answers, key=lambda r: abs(
            r - im.height / im.width))])
    return one


def extract_args(made: Made, api_url: str, run: str) -> list[str]:
    return [str(made.clean), str(made.bad), "-m", "openai:gpt-4o-mini", "--base-url", api_url,
            "--schema", str(made.schema), "--run", run, "--detail", "high"]


def extract(made: Made, api_url: str, run: str, env: dict[str, str]) -> None:
    subprocess.run([PIXELPROOF, "extract", *extract_args(made, api_url, run)], env=env,
                   check=True, capture_output=True)
