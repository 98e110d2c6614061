"""The real receipts of ../shared/data, each with what the local engine reads from it.

The engine's raw output is cached by engine and image under ~/.cache/pixelproof-bench (the
layout into lines is redone each run, so layout changes are measured); the first run of a set
reads its 120 pages (several minutes on 2 cores).

    python bench/pages.py [wildreceipt|sroie ...]     # read (and cache) the sets
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from pixelproof import ocr
from pixelproof.images import load

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CACHE = Path.home() / ".cache" / "pixelproof-bench"


def absent(name: str) -> str:
    return (f"{SHARED / name} is absent: this bench needs the {name} sample of ../shared/data "
            "beside the repo.")


def read_pages(name: str, paths: list[Path]) -> list[ocr.OcrResult]:
    """What the engine reads on each of ``paths`` (files of set ``name``), cached."""
    cache_file = CACHE / f"{name}-raw.json"
    cache = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    images = [load(str(p))[0] for p in paths]
    keys = [f"{ocr.ENGINE_ID};{hashlib.sha256(im.data).hexdigest()}" for im in images]
    fresh = [(k, im) for k, im in zip(keys, images, strict=True) if k not in cache]
    if fresh:
        pool = ocr.Pool(ocr.default_workers())
        try:
            for n, (key, raw) in enumerate([(k, pool.submit(im)) for k, im in fresh], 1):
                cache[key] = raw.result().to_json()
                print(f"  read {n} of {len(fresh)} {name} pages", end="\r", file=sys.stderr)
        finally:
            pool.shutdown()
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        part = cache_file.with_suffix(f".{os.getpid()}.part")
        part.write_text(json.dumps(cache))
        part.replace(cache_file)
    return [ocr.layout(ocr.Raw.from_json(cache[k])) for k in keys]


def wildreceipt(limit: int = 120) -> list[tuple[str, dict, ocr.OcrResult]]:
    """(name, labelled record, read) for each WildReceipt photo."""
    data = SHARED / "wildreceipt"
    records = [json.loads(line) for line in (data / "labels.jsonl").open()][:limit]
    pages = read_pages("wildreceipt", [data / r["image"] for r in records])
    return [(Path(r["image"]).stem, r, p) for r, p in zip(records, pages, strict=True)]


def sroie(limit: int = 120) -> list[tuple[str, dict, ocr.OcrResult]]:
    """(name, key fields, read) for each SROIE scan."""
    data = SHARED / "sroie"
    paths = sorted((data / "images").glob("*.jpg"))[:limit]
    pages = read_pages("sroie", paths)
    return [(p.stem, json.loads((data / "key" / f"{p.stem}.json").read_text()), page)
            for p, page in zip(paths, pages, strict=True)]


if __name__ == "__main__":
    for set_name in sys.argv[1:] or ["wildreceipt", "sroie"]:
        if not (SHARED / set_name).exists():
            sys.exit(absent(set_name))
        print(f"{set_name}: {len(globals()[set_name]())} pages read")
