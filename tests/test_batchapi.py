"""The OpenAI Batch API flow against a local Files + Batches server."""

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest
from clirun import cli
from fakebatch import FakeBatchAPI
from PIL import Image as PILImage
from wire import assert_valid_openai, openai_validator

from pixelproof import batchapi, providers
from pixelproof.batchapi import run_batch
from pixelproof.errors import AuthError, BadResponse, ProviderError, ServerError
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
    return json.dumps([{"n": len(body["messages"][0]["content"]), "colour": _pixel(body)}])


def _pixel(body):
    """The image's data URL tail, so each answer belongs to its own request."""
    return body["messages"][0]["content"][1]["image_url"]["url"][-12:]


def requests_for(pngs, target):
    """Custom ids from the file names: p3.png is id-3."""
    return [(f"id-{Path(p).stem[1:]}", build_request(load(p), "extract", model=target.id,
                                                     detail="low")) for p in pngs]


def batch(api, pngs, *, store=None, run=None, retries=3, statuses=None, model="gpt-4o-mini"):
    target = providers.resolve(f"openai:{model}", api.url)

    async def go():
        async with Http(retries=retries) as http:
            return await run_batch(
                requests_for(pngs, target), target, http, store=store, run=run,
                poll_seconds=0.001,
                on_status=None if statuses is None else
                lambda i, info: statuses.append((i, info["status"])))
    return asyncio.run(go())


def sent_ids(api):
    """Custom ids of every accepted upload, in order."""
    return [json.loads(line)["custom_id"] for data in api.uploads
            for line in data.decode().splitlines()]


def test_flow_bodies_mapping_and_line_errors(pngs, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-batch-key")
    statuses = []
    with FakeBatchAPI(answer, fail_ids=("id-3",), garble_ids=("id-4",)) as api:
        out = batch(api, pngs, statuses=statuses)
    assert statuses == [("batch_1", s) for s in
                        ("validating", "in_progress", "finalizing", "completed")]
    assert api.auth == {"Bearer sk-test-batch-key"}
    (upload,) = api.uploads
    lines = [json.loads(line) for line in upload.decode().splitlines()]
    assert [line["custom_id"] for line in lines] == [f"id-{n}" for n in range(5)]
    for line in lines:
        assert line["method"] == "POST" and line["url"] == "/v1/chat/completions"
        assert_valid_openai(line["body"])
    (created,) = api.created
    assert created == {"input_file_id": "file-1", "endpoint": "/v1/chat/completions",
                       "completion_window": "24h"}
    assert not list(openai_validator("CreateBatchRequest").iter_errors(created))
    batch_schema = openai_validator("Batch")
    for reply in api.replies:  # the fake answers as the API documents
        assert not list(batch_schema.iter_errors(reply)), reply
    assert list(out) == [f"id-{n}" for n in range(5)]
    for n in range(3):
        assert json.loads(out[f"id-{n}"].text) == [
            {"n": 2, "colour": _pixel(lines[n]["body"])}]
        # 100 tokens in at $0.075, 20 out at $0.30 per million: the batch prices, half the live
        assert out[f"id-{n}"].cost == Decimal("0.0000135")
    assert isinstance(out["id-3"], ProviderError) and out["id-3"].status == 400
    assert "bad image" in str(out["id-3"])
    assert isinstance(out["id-4"], BadResponse) and "choices" in str(out["id-4"])


@pytest.mark.parametrize(("limit", "value", "files"), [("MAX_LINES", 2, 3), ("MAX_BYTES", 1, 5)])
def test_split_under_the_api_limits(pngs, monkeypatch, limit, value, files):
    monkeypatch.setattr(batchapi, limit, value)
    with FakeBatchAPI(answer, max_lines=value if limit == "MAX_LINES" else 50_000) as api:
        out = batch(api, pngs)
    assert len(api.uploads) == len(api.created) == files
    assert sent_ids(api) == [f"id-{n}" for n in range(5)]
    assert all(not isinstance(r, Exception) for r in out.values()) and len(out) == 5


def test_invalid_input_names_the_line(pngs, monkeypatch):
    real = batchapi.body
    monkeypatch.setattr(batchapi, "body", lambda r, t: real(r, t) if r.images[0].source[-5] != "2"
                        else [])  # the third line's body is not an object
    with FakeBatchAPI(answer) as api, \
            pytest.raises(ProviderError, match=r"batch_1 failed: line 3 is not a valid request "
                          r"for /v1/chat/completions \(input line 3\)\. Fix the cause"):
        batch(api, pngs)


def test_resume_polls_the_same_batch_without_uploading_again(pngs, tmp_path):
    store = Store(tmp_path / "s.db")
    store.open_run("r", {})
    with FakeBatchAPI(answer) as api:
        target = providers.resolve("openai:gpt-4o-mini", api.url)

        async def crash():  # "killed" while polling, after the batch was created
            async with Http() as http:
                task = asyncio.ensure_future(run_batch(requests_for(pngs, target), target,
                                                       http, store=store, run="r",
                                                       poll_seconds=10))
                while not store.get_meta("r", "openai_batches"):
                    await asyncio.sleep(0.01)
                task.cancel()
        asyncio.run(crash())
        assert store.get_meta("r", "openai_batches") == ["batch_1"]
        out = batch(api, pngs, store=store, run="r")
    assert len(api.uploads) == 1 and len(api.batches) == 1
    assert all(not isinstance(r, Exception) for r in out.values()) and len(out) == 5


def test_resume_after_a_crash_between_the_files_of_a_split(pngs, tmp_path, monkeypatch):
    monkeypatch.setattr(batchapi, "MAX_LINES", 2)
    store = Store(tmp_path / "s.db")
    store.open_run("r", {})
    with FakeBatchAPI(answer, refuse_upload={2: 500}, max_lines=2) as api:
        with pytest.raises(ServerError):  # dies uploading the second file
            batch(api, pngs, store=store, run="r", retries=0)
        assert store.get_meta("r", "openai_batches") == ["batch_1"]
        out = batch(api, pngs, store=store, run="r")
    assert sent_ids(api) == [f"id-{n}" for n in range(5)]  # each request uploaded once
    assert len(api.batches) == 3
    assert all(not isinstance(r, Exception) for r in out.values()) and len(out) == 5


def test_resume_with_fewer_requests_polls_only(pngs, tmp_path):
    """Some items were kept after the batch ended: the rest are read from the same batch."""
    store = Store(tmp_path / "s.db")
    store.open_run("r", {})
    with FakeBatchAPI(answer) as api:
        batch(api, pngs, store=store, run="r")
        out = batch(api, pngs[2:], store=store, run="r")
    assert len(api.uploads) == 1
    assert list(out) == ["id-2", "id-3", "id-4"]
    assert all(not isinstance(r, Exception) for r in out.values())


def test_failed_batch_names_it_and_a_rerun_sends_it_again(pngs, tmp_path):
    store = Store(tmp_path / "s.db")
    store.open_run("r", {})
    with FakeBatchAPI(answer, fail_batches=("batch_1",)) as api:
        with pytest.raises(ProviderError, match="batch_1 failed: Enqueued token limit"):
            batch(api, pngs, store=store, run="r")
        out = batch(api, pngs, store=store, run="r")
    assert len(api.uploads) == 2 and store.get_meta("r", "openai_batches") == ["batch_2"]
    assert all(not isinstance(r, Exception) for r in out.values()) and len(out) == 5


@pytest.mark.parametrize("expired_lines", [True, False])
def test_expired_batch_keeps_answers_and_asks_to_run_again(pngs, expired_lines):
    with FakeBatchAPI(answer, expire_after=2, expired_lines=expired_lines) as api:
        out = batch(api, pngs)
    assert [isinstance(out[f"id-{n}"], ProviderError) for n in range(5)] == [False, False,
                                                                             True, True, True]
    for n in (2, 3, 4):
        assert "Run again to send it again" in str(out[f"id-{n}"])


def test_http_errors_map_with_a_hint(pngs):
    with FakeBatchAPI(answer, refuse_upload={1: 401}) as api, \
            pytest.raises(AuthError, match="HTTP 401.*OPENAI_API_KEY"):
        batch(api, pngs)


def test_unknown_price_leaves_cost_unknown(pngs):
    with FakeBatchAPI(answer) as api:
        out = batch(api, pngs[:1], model="no-such-model-xyz")
    assert out["id-0"].text and out["id-0"].cost is None


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
