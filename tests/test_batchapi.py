"""The OpenAI Batch API flow against a local Files + Batches server."""

import asyncio
import json
from decimal import Decimal

import pytest
from fakebatch import FakeBatchAPI
from PIL import Image as PILImage
from test_cli_describe import cli
from test_providers import assert_valid_openai, openai_validator

from pixelproof import providers
from pixelproof.batchapi import run_batch
from pixelproof.errors import ProviderError
from pixelproof.extract import build_request
from pixelproof.http import Http
from pixelproof.images import load
from pixelproof.store import Store


@pytest.fixture
def pngs(tmp_path):
    paths = []
    for n in range(5):
        path = tmp_path / f"p{n}.png"
        PILImage.new("RGB", (30, 20), (n * 40, 10, 10)).save(path)
        paths.append(str(path))
    return paths


def answer(body):
    return json.dumps([{"n": len(body["messages"][0]["content"])}])


def requests_for(pngs, target):
    return [(f"id-{n}", build_request(load(p), "extract", model=target.id, detail="low"))
            for n, p in enumerate(pngs)]


def test_flow_bodies_mapping_and_line_errors(pngs, tmp_path):
    with FakeBatchAPI(answer, fail_ids=("id-3",)) as api:
        target = providers.resolve("openai:gpt-4o-mini", api.url)
        statuses = []

        async def go():
            async with Http() as http:
                return await run_batch(requests_for(pngs, target), target, http,
                                       poll_seconds=0.01,
                                       on_status=lambda i, info: statuses.append(info["status"]))
        out = asyncio.run(go())
    assert statuses == ["in_progress", "completed"]
    (upload,) = api.uploads
    lines = [json.loads(line) for line in upload.decode().splitlines()]
    assert [line["custom_id"] for line in lines] == [f"id-{n}" for n in range(5)]
    for line in lines:
        assert line["method"] == "POST" and line["url"] == "/v1/chat/completions"
        assert_valid_openai(line["body"])
    (created,) = api.created
    assert not list(openai_validator("CreateBatchRequest").iter_errors(created))
    assert out["id-0"].text == '[{"n": 2}]'
    assert out["id-0"].cost == Decimal("0.0000135")  # 100 in at $0.075, 20 out at $0.30 /1M
    assert isinstance(out["id-3"], ProviderError) and "bad image" in str(out["id-3"])


def test_resume_polls_the_same_batch_without_uploading_again(pngs, tmp_path):
    store = Store(tmp_path / "s.db")
    store.open_run("r", {})
    with FakeBatchAPI(answer) as api:
        target = providers.resolve("openai:gpt-4o-mini", api.url)

        async def go(poll_first_only):
            async with Http() as http:
                if poll_first_only:  # "crash" after the batch was created
                    task = asyncio.ensure_future(run_batch(requests_for(pngs, target), target,
                                                           http, store=store, run="r",
                                                           poll_seconds=10))
                    while not store.get_meta("r", "openai_batches"):
                        await asyncio.sleep(0.01)
                    task.cancel()
                    return None
                return await run_batch(requests_for(pngs, target), target, http, store=store,
                                       run="r", poll_seconds=0.01)
        asyncio.run(go(True))
        out = asyncio.run(go(False))
    assert len(api.uploads) == 1 and len(out) == 5


def test_failed_batch_names_it(pngs):
    with FakeBatchAPI(answer, fail_batch="batch_1") as api:
        target = providers.resolve("openai:gpt-4o-mini", api.url)

        async def go():
            async with Http() as http:
                return await run_batch(requests_for(pngs, target), target, http,
                                       poll_seconds=0.01)
        with pytest.raises(ProviderError, match="batch_1 failed: input file is not valid"):
            asyncio.run(go())


def test_cli_batch_api_extract(pngs, tmp_path):
    out = tmp_path / "out.jsonl"
    with FakeBatchAPI(answer) as api:
        r = cli("extract", *pngs, "-m", "openai:gpt-4o-mini", "--base-url", api.url,
                "--batch-api", "--poll", "0.01", "--no-verify", "--run", "b", "-o", str(out),
                env={"OPENAI_API_KEY": "sk-test"})
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["source"] for row in rows] == pngs and all(row["n"] == 2 for row in rows)
    assert len(api.uploads) == 1
