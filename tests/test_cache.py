"""The response cache and usage log, end to end: real SQLite files and a local API server."""

import asyncio
import json
from decimal import Decimal

import pytest
from clirun import cli
from fakeapi import FakeAPI, Reply, completion
from PIL import Image as PILImage

from pixelproof import cost, images
from pixelproof.extract import adescribe, build_request, extract_one, send, stream
from pixelproof.http import Http
from pixelproof.store import Store, cache_key
from pixelproof.types import Turn

SECRET = "sk-test-SECRET-7f3a9c"
TABLE = "| a | b |\n|---|---|\n| 1 | 2 |"


@pytest.fixture
def pngs(tmp_path):
    paths = []
    for n, colour in enumerate(["white", "black"]):
        path = tmp_path / f"{n}.png"
        PILImage.new("RGB", (64, 48), colour).save(path)
        paths.append(str(path))
    return paths


def run(coro_fn):
    async def main():
        async with Http(retries=0) as http:
            return await coro_fn(http)
    return asyncio.run(main())


def test_cli_repeat_comes_from_the_cache_and_only_what_differs_is_sent(pngs, tmp_path):
    env = {"OPENAI_API_KEY": SECRET}
    with FakeAPI() as api:
        def ask(*extra, image=pngs[0], model="openai:m"):
            r = cli("describe", image, "-m", model, "--base-url", api.url, *extra, env=env)
            assert r.returncode == 0, r.stderr
            return r

        first, second = ask(), ask()
        assert len(api.requests) == 1
        assert second.stdout == first.stdout == "I see 1 image(s).\n"
        assert "(cached)" in second.stderr and "(cached)" not in first.stderr
        assert "100 in, 20 out tokens" in second.stderr
        ask("-p", "Another question?")
        ask(model="openai:other")
        ask(image=pngs[1])
        ask("--detail", "low")
        assert len(api.requests) == 5
        fresh = ask("--no-cache")
        assert len(api.requests) == 6 and "(cached)" not in fresh.stderr
        assert "(cached)" in ask("--json").stderr  # the non-streaming path reads it too
        assert len(api.requests) == 6
    assert all(h["Authorization"] == f"Bearer {SECRET}" for h in api.headers)
    files = list((tmp_path / "home").iterdir())
    assert any(f.name == "pixelproof.db" for f in files)
    for f in files:  # the db and its WAL: neither the key nor any part of it
        assert SECRET.encode() not in f.read_bytes() and b"SECRET" not in f.read_bytes()

    rows = {r["model"]: r for r in json.loads(cli("usage", "--json").stdout)}
    assert set(rows) == {"openai:m", "openai:other"}
    m = rows["openai:m"]
    assert (m["requests"], m["cached"], m["input_tokens"], m["output_tokens"]) == (5, 2, 500, 100)
    assert m["cost"] is None  # no price for this model: unknown, never zero
    table = cli("usage").stdout
    assert "openai:m" in table and "unknown" in table and "$0.0000" not in table
    assert "total: 6 requests, 2 cached, 600 in, 120 out, unknown" in table


def test_cli_cache_dir_and_usage_since(pngs, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    with FakeAPI() as api:
        for _ in range(2):
            r = cli("describe", pngs[0], "-m", "openai:m", "--base-url", api.url,
                    "--cache-dir", str(elsewhere))
            assert r.returncode == 0, r.stderr
    assert len(api.requests) == 1
    assert (elsewhere / "pixelproof.db").exists()
    assert not (tmp_path / "home" / "pixelproof.db").exists()
    assert json.loads(cli("usage", "--json").stdout) == []  # PIXELPROOF_HOME's store is empty
    assert cli("usage").stdout == "no usage recorded.\n"
    rows = json.loads(cli("usage", "--json", "--cache-dir", str(elsewhere)).stdout)
    assert [(r["requests"], r["cached"]) for r in rows] == [(1, 1)]
    later = cli("usage", "--json", "--since", "2999-01-01", "--cache-dir", str(elsewhere))
    assert json.loads(later.stdout) == []


def test_cli_extract_repeat_is_cached(pngs):
    with FakeAPI(answer=lambda body: TABLE) as api:
        outs = [cli("extract", pngs[0], "-m", "openai:m", "--base-url", api.url, "--no-verify",
                    "-f", "json") for _ in range(2)]
        assert len(api.requests) == 1
        cli("extract", pngs[0], "-m", "openai:m", "--base-url", api.url, "--no-verify",
            "-f", "json", "--no-cache")
        assert len(api.requests) == 2
    assert outs[0].returncode == outs[1].returncode == 0, outs[1].stderr
    assert json.loads(outs[0].stdout) == json.loads(outs[1].stdout) == [{"a": "1", "b": "2"}]


def test_send_hit_is_free_and_priced_misses_are_logged(pngs, tmp_path):
    model = "openai:gpt-4o-mini"  # has a published price
    request = build_request(images.load(pngs[0]), "What is it?", model=model)
    with FakeAPI() as api, Store(tmp_path / "s.db") as store:
        first = run(lambda http: send(request, http, base_url=api.url, store=store))
        again = run(lambda http: send(request, http, base_url=api.url, store=store))
        forced = run(lambda http: send(request, http, base_url=api.url, store=store,
                                       cache=False))
        bare = run(lambda http: send(request, http, base_url=api.url))  # no store: no cache
        assert len(api.requests) == 3
        expected = cost.cost_of(model, first.usage)
        assert expected is not None and expected > 0
        assert (first.cached, first.cost) == (False, expected)
        assert (again.cached, again.cost, again.text, again.usage) == (
            True, Decimal(0), first.text, first.usage)
        assert not forced.cached and not bare.cached
        (row,) = store.usage_report()
        assert (row.model, row.requests, row.cached) == (model, 2, 1)
        assert row.cost == 2 * expected and row.input_tokens == 200


@pytest.mark.parametrize("reply", [
    completion("It was cut", finish="length"),
    {**completion(""), "choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": None, "refusal": "I can't help with that."}}]},
])
def test_cut_off_and_refused_answers_are_not_cached(pngs, tmp_path, reply):
    request = build_request(images.load(pngs[0]), "What is it?", model="openai:m")
    with FakeAPI() as api, Store(tmp_path / "s.db") as store:
        api.script = [Reply(body=reply)]
        first = run(lambda http: send(request, http, base_url=api.url, store=store))
        second = run(lambda http: send(request, http, base_url=api.url, store=store))
        assert len(api.requests) == 2 and not second.cached
        assert first.finish_reason == "length" or first.refusal
        assert store.usage_report()[0].requests == 2  # both were paid for and logged


def test_key_covers_what_changes_the_answer(pngs):
    one, two = images.load(pngs[0]), images.load(pngs[1])
    base = build_request(one, "Q", model="openai:m")
    key = cache_key(base, "openai:m", "http://a/v1")
    assert key == cache_key(build_request(images.load(pngs[0]), "Q", model="openai:m"),
                            "openai:m", "http://a/v1")
    variants = [
        cache_key(base, "openai:n", "http://a/v1"),
        cache_key(base, "openai:m", "http://b/v1"),
        cache_key(build_request(two, "Q", model="openai:m"), "openai:m", "http://a/v1"),
        cache_key(build_request(one + two, "Q", model="openai:m"), "openai:m", "http://a/v1"),
    ] + [cache_key(build_request(one, "Q", model="openai:m", **change), "openai:m",
                   "http://a/v1")
         for change in [{"system": "S"}, {"detail": "low"}, {"temperature": 0.5},
                        {"max_tokens": 10}, {"json_schema": {"type": "object"}},
                        {"task": "extract"}, {"turns": (Turn("user", "again"),)}]]
    assert len({key, *variants}) == len(variants) + 1


def test_streamed_answer_is_cached_too(pngs, tmp_path):
    request = build_request(images.load(pngs[0]), "What is it?", model="openai:m")

    async def pieces(http, store):
        return [p async for p in stream(request, http, base_url=api.url, store=store)]

    with FakeAPI() as api, Store(tmp_path / "s.db") as store:
        first = run(lambda http: pieces(http, store))
        second = run(lambda http: pieces(http, store))
        assert len(api.requests) == 1 and api.requests[0]["stream"] is True
        assert "".join(p for p in first if isinstance(p, str)) == second[0] == second[-1].text
        assert second[-1].cached and not first[-1].cached


def test_library_functions_take_the_store(pngs, tmp_path):
    image = images.load(pngs[0])[0]
    with FakeAPI(answer=lambda body: TABLE) as api, Store(tmp_path / "s.db") as store:
        for _ in range(2):
            said = asyncio.run(adescribe(pngs[0], model="openai:m", base_url=api.url,
                                         store=store))
            got = run(lambda http: extract_one(image, http, model="openai:m", base_url=api.url,
                                               store=store, verify=False))
        assert len(api.requests) == 2  # one describe, one extract
        assert said.cached and got.cached and got.data == [{"a": "1", "b": "2"}]


def test_local_engine_is_never_cached_or_logged(pngs, tmp_path):
    request = build_request(images.load(pngs[0]), "What is it?", model="local")
    with Store(tmp_path / "s.db") as store:
        for _ in range(2):
            response = run(lambda http: send(request, http, store=store))
            assert not response.cached
        assert store.usage_report() == []
