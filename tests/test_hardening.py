"""Hostile inputs and options (issue 13): each a clear error or a result, never a traceback."""

import asyncio
import importlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import corpus
import httpx
import pytest
import render
from fakeapi import FakeAPI, Reply, completion
from PIL import Image, ImageDraw
from test_cli_describe import cli

from pixelproof import cost, images, ocr, providers
from pixelproof.batch import abatch, plan
from pixelproof.errors import BadResponse, ConfigError, ImageTooLarge, InputError, ProviderError
from pixelproof.extract import build_request, send, stream
from pixelproof.http import Http
from pixelproof.store import Store, cache_key
from pixelproof.types import Usage

batch_mod = importlib.import_module("pixelproof.batch")  # pixelproof.batch is also a function
LINE = "Total due 1,234.56 on 01/03/2024"


def text_strip(width, height, text, *, tall=False):
    """One line of text on a strip ``width`` x ``height`` (turned into a column when tall)."""
    im = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(im)
    x = 5
    while x < width - 300:
        draw.text((x, (height - 20) // 2), text, font=render.font(17), fill="black")
        x += int(draw.textlength(text + "  ", font=render.font(17)))
    return im


def test_a_text_line_strip_is_read_whole():
    """A 3000x24 line (aspect 125:1, which RapidOCR cannot resize) reads every word once."""
    page = ocr.read(text_strip(3000, 24, LINE))
    assert page.width == 3000 and page.height == 24
    assert page.text.count("1,234.56") == page.text.count("Total") >= 8
    assert page.text.split()[:5] == LINE.split()
    xs = [w.box[0] for w in page.words]
    assert xs == sorted(xs) and max(w.box[2] for w in page.words) <= 3000
    assert all(0 <= w.box[1] < w.box[3] <= 24 for w in page.words)


@pytest.mark.parametrize("size", [(20000, 20), (20, 20000), (24, 3000), (9000, 1)])
def test_blank_strips_read_as_empty(size):
    assert ocr.read(Image.new("RGB", size, "white")).words == ()


def test_an_engine_failure_is_an_input_error_naming_the_image(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("onnx exploded")

    engine = ocr.RapidEngine()
    monkeypatch.setattr(engine._ocr, "_load_det_model", broken)
    with pytest.raises(InputError, match="could not read this 50x40 image .RuntimeError: onnx"):
        engine.read(Image.new("RGB", (50, 40), "white"))


def test_a_thin_image_in_a_folder_does_not_stop_the_batch(tmp_path):
    text_strip(3000, 24, LINE).save(tmp_path / "line.png")
    Image.new("RGB", (20000, 20), "white").save(tmp_path / "strip.png")
    render.receipt(seed=1).image.save(tmp_path / "receipt.png")
    run = cli("extract", str(tmp_path), "-m", "local", "-f", "json")
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert "3 of 3 images done" in run.stderr


def test_rapidocr_logging_goes_through_ours_and_is_quiet(capfd, caplog):
    ocr.read(Image.new("RGB", (300, 200), "white"))  # "the text detection result is empty"
    assert capfd.readouterr().err == ""
    ocr.engine()  # this process's engine too (the read above may have been a worker's)
    rapid = logging.getLogger("RapidOCR")
    assert rapid.propagate is False
    assert not [h for h in rapid.handlers if type(h) is logging.StreamHandler]
    with caplog.at_level(logging.DEBUG, logger="pixelproof.ocr"):
        ocr.engine().read(Image.new("RGB", (310, 200), "white"))
    assert any("RapidOCR" in r.getMessage() for r in caplog.records)


def test_a_blank_page_prints_no_engine_warnings(tmp_path):
    Image.new("RGB", (400, 300), "white").save(tmp_path / "blank.png")
    run = cli("ocr", str(tmp_path / "blank.png"))
    assert run.returncode == 0
    assert run.stderr == "", run.stderr




# --- inputs -------------------------------------------------------------------------------

def png_file(path, size=(64, 48), color="red"):
    Image.new("RGB", size, color).save(path)
    return str(path)


def test_a_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    start = time.monotonic()
    with pytest.raises(InputError, match=r"pipe\.png: not a regular file \(it is a FIFO"):
        images.load(str(fifo))
    [item] = plan([str(fifo)])  # planning reads files first: it must not block either
    assert "not a regular file" in item.error
    assert time.monotonic() - start < 5


def test_a_link_to_an_endless_file_is_refused_without_reading_it(tmp_path):
    link = tmp_path / "zero.png"
    link.symlink_to("/dev/zero")
    with pytest.raises(InputError, match=r"zero\.png: not a regular file \(it is a device"):
        images.load(str(link))
    [item] = plan([str(link)])
    assert "not a regular file" in item.error


def test_the_byte_limit_holds_while_reading(tmp_path, monkeypatch):
    """A file that says it is small but is not (it grew, or a filesystem lies) is read only up
    to the limit."""
    path = tmp_path / "grows.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 5000)
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: os.stat_result(
        (*real_stat(p)[:6], 10, *real_stat(p)[7:])))  # st_size 10
    with pytest.raises(ImageTooLarge, match="over the 100 byte limit .it grew while being read"):
        images.load(str(path), max_bytes=100)


def test_a_symlink_loop_and_a_broken_link_say_so(tmp_path):
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    with pytest.raises(InputError, match=r"loop\.png: a symbolic link loop"):
        images.load(str(loop))
    broken = tmp_path / "gone.png"
    broken.symlink_to(tmp_path / "missing.png")
    with pytest.raises(InputError, match=r"gone\.png: a broken symbolic link"):
        images.load(str(broken))


def dripping(byte_every: float):
    """A server that sends an image's bytes one at a time, ``byte_every`` seconds apart."""
    class Drip(httpx.SyncByteStream):
        def __iter__(self):
            for b in b"\x89PNG\r\n\x1a\n" + b"\0" * 100:
                time.sleep(byte_every)
                yield bytes([b])

    return httpx.MockTransport(lambda request: httpx.Response(200, stream=Drip()))


def test_an_image_url_has_a_total_download_deadline():
    start = time.monotonic()
    with pytest.raises(InputError, match=r"download took over 1 s in all"):
        images.load("https://example.test/slow.png", timeout=1.0, transport=dripping(0.1))
    assert time.monotonic() - start < 3


def test_an_image_url_redirected_to_plain_http_is_refused():
    def handler(request):
        if request.url.scheme == "https":
            return httpx.Response(302, headers={"location": "http://example.test/a.png"})
        return httpx.Response(200, content=b"")
    with pytest.raises(InputError, match=r"redirected to plain http \(http://example.test/a"
                                         r"\.png\); refused"):
        images.load("https://example.test/a.png", transport=httpx.MockTransport(handler))


def test_an_image_url_redirect_within_https_is_followed():
    data = (Path(__file__).parent.parent / "samples" / "receipt.png").read_bytes()

    def handler(request):
        if request.url.path == "/old.png":
            return httpx.Response(301, headers={"location": "/new.png"})
        return httpx.Response(200, content=data)
    [im] = images.load("https://example.test/old.png", transport=httpx.MockTransport(handler))
    assert im.data == data


def tiff_of(path, pages):
    frames = [Image.new("RGB", (80, 60), c) for c in ("red", "green", "blue")[:pages]]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    return str(path)


def test_a_multi_page_tiff_is_an_item_per_page(tmp_path):
    path = tiff_of(tmp_path / "scan.tif", 3)
    loaded = images.load(path)
    assert [(im.page, im.label) for im in loaded] == [
        (1, f"{path}#page=1"), (2, f"{path}#page=2"), (3, f"{path}#page=3")]
    colours = [Image.open(io.BytesIO(im.data)).convert("RGB").getpixel((5, 5)) for im in loaded]
    assert colours == [(255, 0, 0), (0, 128, 0), (0, 0, 255)]
    [second] = images.load(f"{path}#page=2")
    assert second.page == 2 and second.data == loaded[1].data
    items = plan([path])
    assert [i.label for i in items] == [f"{path}#page={n}" for n in (1, 2, 3)]
    assert items[2].load().data == loaded[2].data
    with pytest.raises(InputError, match=r"page 4 does not exist \(the TIFF has 3 pages\)"):
        images.load(f"{path}#page=4")
    [one] = images.load(tiff_of(tmp_path / "one.tif", 1))
    assert one.page is None and len(plan([str(tmp_path / "one.tif")])) == 1


def one_page_pdf(path):
    Image.new("RGB", (100, 80), "white").save(path, "PDF")
    return str(path)


def test_page_zero_is_refused_by_extract_as_by_describe(tmp_path):
    pdf = one_page_pdf(tmp_path / "scan.pdf")
    with pytest.raises(InputError, match="page 0 does not exist"):
        images.load(f"{pdf}#page=0")
    [item] = plan([f"{pdf}#page=0"])
    assert "no page 0" in item.error
    run = cli("extract", f"{pdf}#page=0", "-m", "local")
    assert run.returncode == 1
    assert "no page 0" in run.stderr and "Traceback" not in run.stderr
    assert "0 of 1 images done" in run.stderr


def test_a_folder_lists_what_it_cannot_read_and_reads_avif(tmp_path):
    png_file(tmp_path / "a.png")
    Image.new("RGB", (64, 48), "blue").save(tmp_path / "b.avif")
    (tmp_path / "c.heic").write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64)
    (tmp_path / "d.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"></svg>')
    (tmp_path / "e.png").symlink_to(tmp_path / "nowhere.png")
    (tmp_path / "notes.txt").write_text("not an image, not listed")
    assert [Path(p).name for p in images.expand([str(tmp_path)])] == [
        "a.png", "b.avif", "c.heic", "d.svg", "e.png"]
    [avif] = images.load(str(tmp_path / "b.avif"))
    assert avif.mime in ("image/png", "image/jpeg") and (avif.width, avif.height) == (64, 48)
    run = cli("extract", str(tmp_path), "-m", "local", "--no-verify")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "c.heic: HEIC/HEIF images cannot be read" in run.stderr
    assert "d.svg: a vector image (SVG)" in run.stderr
    assert "e.png: a broken symbolic link" in run.stderr
    assert "2 of 5 images done, 3 failed" in run.stderr


def test_messages_speak_the_users_terms(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(InputError) as e:
        images.load(str(bad))
    assert "BytesIO" not in str(e.value) and "bad.png" in str(e.value)
    big = tmp_path / "big.png"
    png_file(big, (300, 200))
    with pytest.raises(ImageTooLarge) as e:
        images.load(str(big), max_pixels=1000)
    assert "max_pixels" not in str(e.value).replace("pass a larger max_pixels to load()", "")
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type"
                      b"/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    with pytest.raises(InputError) as e:
        images.load(str(empty))
    assert "Success" not in str(e.value) and "empty.pdf" in str(e.value)


# --- options: usage errors (exit 2) before anything is read or sent ------------------------

RECEIPT = str(Path(__file__).parent.parent / "samples" / "receipt.png")


@pytest.mark.parametrize("args, says", [
    (["--retries", "-1"], "'--retries': -1 is not in 0 to 20"),
    (["--temperature", "nan"], "'--temperature': nan is not in 0 to 2"),
    (["--temperature", "99"], "'--temperature': 99.0 is not in 0 to 2"),
    (["--temperature", "1.5", "-m", "anthropic:claude-haiku-4-5"],
     "0 to 1 (the range of anthropic)"),
    (["--max-tokens", "-5"], "'--max-tokens': -5 is not a token count"),
    (["--max-tokens", "0"], "'--max-tokens': 0 is not a token count"),
    (["--timeout", "-1"], "'--timeout': -1.0 is not a wait"),
    (["--timeout", "0"], "'--timeout': 0.0 is not a wait"),
    (["--max-cost", "-1"], "'--max-cost': -1.0 is not an amount"),
    (["--max-cost", "nan"], "'--max-cost': nan is not an amount"),
    (["-m", ""], "'--model': give a model id"),
    (["--fields", "a, a"], "--fields: 'a' is named twice"),  # the library says fields=
])
def test_bad_options_are_usage_errors(args, says):
    with FakeAPI() as api:
        run = cli("extract", RECEIPT, "--base-url", api.url, *args,
                  env={"PIXELPROOF_MODEL": "openai:m"})
    assert run.returncode == 2, run.stderr
    assert says in run.stderr and "Traceback" not in run.stderr
    assert api.requests == []


def test_describe_checks_its_options_too(tmp_path):
    run = cli("describe", RECEIPT, "-m", "openai:m", "--temperature", "nan")
    assert run.returncode == 2 and "'--temperature'" in run.stderr
    run = cli("cost", RECEIPT, "--max-tokens", "0")
    assert run.returncode == 2 and "'--max-tokens'" in run.stderr


@pytest.mark.parametrize("content, says", [
    ("true", "a schema is a JSON object"),
    ("[1, 2]", "a schema is a JSON object"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"type": "object", "properties": {"a": ' * 80 + "{}" + "}}" * 80,
     "nested too deeply"),
])
def test_bad_schema_files_are_usage_errors(tmp_path, content, says):
    schema = tmp_path / "s.json"
    schema.write_text(content)
    run = cli("extract", RECEIPT, "-m", "local", "--schema", str(schema))
    assert run.returncode == 2, run.stderr
    assert says in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("value", ["Infinity", "NaN", '"-1"', '"lots"'])
def test_a_price_file_with_no_real_price_is_a_usage_error(tmp_path, value):
    prices = tmp_path / "p.json"
    prices.write_text('{"models": {"openai:m": {"input": ' + value + ', "cached_input": 1, '
                      '"output": 1, "batch_input": 1, "batch_output": 1}}}')
    run = cli("extract", RECEIPT, "-m", "openai:m", "--price-file", str(prices),
              "--max-cost", "1")
    assert run.returncode == 2, run.stderr
    assert "cannot read the price file" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("option, name", [("-o", "out.jsonl"), ("-o", "out.csv"),
                                          ("--overlay", "x.png")])
def test_outputs_in_a_missing_folder_are_refused_before_any_request(tmp_path, option, name):
    with FakeAPI(answer=lambda body: "| a |\n|---|\n| 1 |") as api:
        run = cli("extract", RECEIPT, "-m", "openai:m", "--base-url", api.url,
                  option, str(tmp_path / "missing" / name))
    assert run.returncode == 2, run.stderr
    assert "does not exist; create it first" in run.stderr
    assert api.requests == []


def test_describe_each_output_folder_is_checked(tmp_path):
    run = cli("describe", RECEIPT, "--each", "-m", "local", "-o", str(tmp_path / "no" / "a.csv"))
    assert run.returncode == 2 and "does not exist" in run.stderr


# --- providers ----------------------------------------------------------------------------

def test_a_stream_request_answered_with_one_json_body_is_read(tmp_path):
    with FakeAPI() as api:
        api.script.append(Reply(body=json.dumps(completion("A red square.")).encode()))
        run = cli("describe", RECEIPT, "-m", "openai:m", "--base-url", api.url)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "A red square."
    assert api.requests[0]["stream"] is True


def test_an_empty_stream_is_an_error_and_never_cached(tmp_path):
    def handler(request):
        return httpx.Response(200, content=b"data: [DONE]\n\n",
                              headers={"content-type": "text/event-stream"})
    request = build_request(images.load(RECEIPT), "What is it?", model="openai:m")

    async def ask(store):
        async with Http(transport=httpx.MockTransport(handler)) as http:
            return [p async for p in stream(request, http, base_url="http://x.test/v1",
                                            store=store)]

    with Store(tmp_path / "s.db") as store:
        for _ in range(2):
            with pytest.raises(BadResponse, match="no content and no finish reason"):
                asyncio.run(ask(store))
        key = cache_key(request, "openai:m", "http://x.test/v1")
        assert store.cached(key) is None


def test_an_anthropic_stream_answered_with_one_json_body_is_read():
    body = {"type": "message", "model": "claude-x", "role": "assistant", "stop_reason":
            "end_turn", "content": [{"type": "text", "text": "Hello."}],
            "usage": {"input_tokens": 5, "output_tokens": 2}}
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json=body))
    target = providers.Target("anthropic", "claude-x", "https://a.test", "key-123456")
    request = build_request(images.load(RECEIPT), "Hi", model="anthropic:claude-x")

    async def go():
        async with Http(transport=transport) as http:
            return [p async for p in providers.get(target).stream(request, target, http)]
    pieces = asyncio.run(go())
    assert pieces[0] == "Hello." and pieces[-1].text == "Hello."
    assert pieces[-1].finish_reason == "stop"


def test_keys_are_hidden_from_repr_and_str(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-verysecret-123")
    target = providers.resolve("anthropic:claude-haiku-4-5")
    assert target.api_key == "sk-ant-verysecret-123"
    assert "verysecret" not in repr(target) and "verysecret" not in str(target)
    assert "verysecret" not in repr([target]) and "verysecret" not in f"{target!r}"


@pytest.mark.parametrize("model, var, header", [
    ("anthropic:claude-haiku-4-5", "ANTHROPIC_API_KEY", "x-api-key"),
    ("gemini:gemini-2.5-flash", "GEMINI_API_KEY", "x-goog-api-key"),
    ("openai:gpt-4o-mini", "OPENAI_API_KEY", "authorization"),
])
def test_api_calls_never_follow_redirects(monkeypatch, model, var, header):
    monkeypatch.setenv(var, "key-abcdefgh-123")
    seen = []

    def handler(request):
        seen.append((request.url.host, request.headers.get(header)))
        if request.url.host == "api.test":
            return httpx.Response(307, headers={"location": "http://evil.test:8080/steal"})
        return httpx.Response(200, json=completion("stolen"))
    request = build_request(images.load(RECEIPT), "Hi", model=model)

    async def go():
        async with Http(transport=httpx.MockTransport(handler), retries=0) as http:
            return await send(request, http, base_url="https://api.test/v1")
    with pytest.raises(ProviderError, match=r"HTTP 307, redirecting to http://evil.test:8080/"
                                            r"steal; API calls never follow redirects"):
        asyncio.run(go())
    assert [host for host, _ in seen] == ["api.test"]


@pytest.mark.parametrize("key", ["sk-abc\u00e9def123", "sk-abc def123", "sk-abcdef123\n"])
def test_an_api_key_with_a_character_keys_never_hold_is_named(monkeypatch, key):
    monkeypatch.setenv("OPENAI_API_KEY", key)
    with pytest.raises(ConfigError, match="the API key in OPENAI_API_KEY holds a character "
                                          "keys never hold"):
        providers.api_key(providers.resolve("openai:gpt-4o-mini"))
    run = cli("describe", RECEIPT, "-m", "openai:gpt-4o-mini", "--base-url",
              "https://api.openai.com/v1", env={"OPENAI_API_KEY": key})
    assert run.returncode == 1 and "holds a character keys never hold" in run.stderr
    assert "Traceback" not in run.stderr and key.strip() not in run.stderr


# --- runs ---------------------------------------------------------------------------------

class Killed(Exception):
    """Stands for a SIGKILL between paying for an answer and recording the item as done."""


def test_runs_spend_is_what_was_paid_when_a_killed_run_resumes_from_the_cache(
        tmp_path, monkeypatch):
    pngs = [png_file(tmp_path / f"{n}.png", color=c) for n, c in enumerate(("red", "blue"))]
    price = cost.cost_of("openai:gpt-4o-mini", Usage(100, 20))
    options = dict(run="r", model="openai:gpt-4o-mini", verify=False, concurrency=1)

    async def run_all(store, base_url):
        return [e async for e in abatch(pngs, store=store, base_url=base_url, **options)]

    with FakeAPI(answer=lambda body: "| a |\n|---|\n| 1 |") as api, \
            Store(tmp_path / "s.db") as store:
        real = batch_mod._keep_item

        def dies_on_the_blue_one(store_, run, key, item, spent=None):
            if "1.png" in key:
                raise Killed
            real(store_, run, key, item, spent)
        monkeypatch.setattr(batch_mod, "_keep_item", dies_on_the_blue_one)
        with pytest.raises(Killed):
            asyncio.run(run_all(store, api.url))
        monkeypatch.setattr(batch_mod, "_keep_item", real)
        results = asyncio.run(run_all(store, api.url))
        assert len(api.requests) == 2  # each image paid once
        assert sorted(e.cached for e in results) == [False, True]
        [summary] = store.runs()
        assert summary.counts == {"done": 2}
        assert summary.spend == 2 * price


def test_a_bug_on_one_item_fails_that_item_only(tmp_path, monkeypatch):
    pngs = [png_file(tmp_path / f"{n}.png", color=c) for n, c in enumerate(("red", "blue"))]
    real = batch_mod.extract_one

    async def buggy(image, *args, **kwargs):
        if image.source.endswith("1.png"):
            raise ZeroDivisionError("division by zero")
        return await real(image, *args, **kwargs)
    monkeypatch.setattr(batch_mod, "extract_one", buggy)

    async def run_all():
        return [e async for e in abatch(pngs, model="local", verify=False)]
    results = {Path(e.source).name: e for e in asyncio.run(run_all())}
    assert results["0.png"].ok
    assert "1.png: unexpected error (ZeroDivisionError: division by zero)" in \
        results["1.png"].error


def test_debug_shows_the_engine_log(tmp_path):
    png_file(tmp_path / "blank.png", (400, 300), "white")
    run = cli("ocr", str(tmp_path / "blank.png"), env={"PIXELPROOF_DEBUG": "1"})
    assert run.returncode == 0
    assert "pixelproof.ocr" in run.stderr and "RapidOCR" in run.stderr


# --- the corpus: every hostile input at once ---------------------------------------------

PEAK_RSS_MB = 1600  # measured 1.0-1.3 GB for this corpus (RapidOCR itself is about 300 MB)


def test_extract_over_the_hostile_corpus(tmp_path):
    made = corpus.make(tmp_path / "in")
    script = ("import resource, subprocess, sys\n"
              "r = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=600)\n"
              "sys.stdout.write(r.stdout); sys.stderr.write(r.stderr)\n"
              "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024,"
              " file=sys.stderr)\n"
              "sys.exit(r.returncode)\n")
    run = subprocess.run([sys.executable, "-c", script, sys.executable, "-m", "pixelproof",
                          "extract", str(made.folder), "-m", "local", "-f", "json"],
                         capture_output=True, text=True, timeout=900)
    *lines, peak = run.stderr.splitlines()
    stderr = "\n".join(lines)
    assert run.returncode == 1, stderr
    assert "Traceback" not in stderr
    errors = [line for line in lines if line.startswith("pixelproof: error:")]
    for name, says in made.bad.items():
        mine = [line for line in errors if f"/{name}:" in line]
        assert len(mine) == 1, (name, errors)
        assert says in mine[0], mine[0]
    assert len(errors) == len(made.bad)
    items = sum(made.good.values())
    assert f"{items} of {items + len(made.bad)} images done, {len(made.bad)} failed" in stderr
    records = json.loads(run.stdout)
    sources = {Path(r["source"]).name for r in records}
    # every receipt gives records; the strips (a line, a blank) need not hold a table or pair
    assert set(made.good) - {"thin-blank.png", "thin-line.png"} <= sources <= set(made.good)
    assert "notes.txt" not in stderr
    assert int(peak) < PEAK_RSS_MB, f"peak RSS {peak} MB"


# --- a server gone mid-run ----------------------------------------------------------------

def flaky_server(down_after: int, down_for: float | None):
    """Answers ``down_after`` requests, then refuses connections (for ``down_for`` seconds,
    or for good)."""
    state = {"posts": 0, "down_at": None}

    def handler(request):
        if request.method == "POST":
            state["posts"] += 1
        down = state["down_at"]
        if down is None and state["posts"] > down_after:
            down = state["down_at"] = time.monotonic()
        if down is not None and (down_for is None or time.monotonic() < down + down_for):
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json=completion("| a |\n|---|\n| 1 |"))
    return httpx.MockTransport(handler), state


def batch_against(transport, pngs):
    async def go():
        async with Http(transport=transport, retries=1) as http:
            return [e async for e in abatch(pngs, model="openai:m", base_url="http://x.test/v1",
                                            http=http, concurrency=2, verify=False)]
    return asyncio.run(go())


def test_a_server_gone_mid_run_fails_the_rest_at_once_with_one_message(tmp_path, monkeypatch):
    monkeypatch.setattr(batch_mod, "OUTAGE_SECONDS", 2.0)
    pngs = [png_file(tmp_path / f"{n}.png", color=(n * 30, 0, 0)) for n in range(8)]
    transport, state = flaky_server(down_after=2, down_for=None)
    start = time.monotonic()
    results = batch_against(transport, pngs)
    took = time.monotonic() - start
    failed = [e.error for e in results if not e.ok]
    assert len(results) - len(failed) == 2
    assert len(failed) == 6 and len(set(failed)) == 1
    assert "the server at x.test is gone (no connection for 2 s)" in failed[0]
    assert "run the same command again" in failed[0]
    assert state["posts"] <= 2 + 2 * 2 + 2  # the in-flight ones, not every queued one
    assert took < 10


def test_a_server_back_after_a_pause_finishes_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(batch_mod, "OUTAGE_SECONDS", 20.0)
    pngs = [png_file(tmp_path / f"{n}.png", color=(0, n * 30, 0)) for n in range(6)]
    transport, state = flaky_server(down_after=2, down_for=1.5)
    results = batch_against(transport, pngs)
    assert all(e.ok for e in results), [e.error for e in results]
    assert len(results) == 6


@pytest.mark.parametrize("model, options, says", [
    ("openai:m", {"temperature": float("nan")}, "temperature=nan is not in 0 to 2"),
    ("openai:m", {"temperature": 99}, "temperature=99 is not in 0 to 2"),
    ("anthropic:claude-haiku-4-5", {"temperature": 1.5}, "0 to 1 (the range of anthropic)"),
    ("openai:m", {"max_tokens": 0}, "max_tokens=0 is not a token count"),
    ("openai:m", {"max_tokens": -5}, "max_tokens=-5 is not a token count")])
def test_the_library_refuses_bad_options_too(model, options, says):
    """The same ranges as the command's, from the providers' specs, naming the parameter."""
    with pytest.raises(ConfigError, match=re.escape(says)):
        build_request(images.load(RECEIPT), "What is it?", model=model, **options)
