"""Batches against a local server that is slow, rate-limited and flaky; kill and resume."""

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import httpx
import pytest
from fakeapi import FakeAPI, Reply, completion
from PIL import Image as PILImage

from pixelproof.batch import RateLimiter, _duration, abatch, batch, limiter_for, plan
from pixelproof.cost import DEFAULT_OUTPUT
from pixelproof.http import Http


def image_id(body):
    """Which test image a request is about (the answer depends only on it)."""
    (url,) = [part["image_url"]["url"] for m in body["messages"] if isinstance(m["content"], list)
              for part in m["content"] if part.get("type") == "image_url"]
    return hashlib.sha256(url.encode()).hexdigest()[:10]


def answer_for(key):
    return json.dumps([{"image": key, "amount": "1.50"}])


@pytest.fixture
def pngs(tmp_path):
    paths = []
    for n in range(24):
        path = tmp_path / f"img{n:02d}.png"
        PILImage.new("RGB", (40, 30), (n * 10, 200 - n * 5, 90)).save(path)
        paths.append(str(path))
    return paths


class Flaky:
    """Fails the first request for every image in one of five ways, then answers it."""

    KINDS = ["429", "500", "timeout", "garbage", "ok"]

    def __init__(self):
        self.seen, self.paid, self.lock = Counter(), Counter(), threading.Lock()

    def __call__(self, body):
        key = image_id(body)
        with self.lock:
            self.seen[key] += 1
            kind = self.KINDS[int(key, 16) % 5] if self.seen[key] == 1 else "ok"
            if kind == "ok":
                self.paid[key] += 1
        if kind == "429":
            return Reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "0.2"})
        if kind == "500":
            return Reply(500, {"error": {"message": "oops"}})
        if kind == "timeout":
            return Reply(body=completion("late"), delay=1.5)
        if kind == "garbage":
            return Reply(body=b"<html>bad gateway</html>")
        return Reply(body=completion(answer_for(key)))


def test_every_item_done_and_none_paid_twice(pngs):
    flaky = Flaky()

    async def go():
        async with Http(timeout=0.8, retries=2) as http:
            return [e async for e in abatch(
                pngs, model="openai:m", base_url=ctx.url, concurrency=8, http=http,
                fields="image, amount:number", verify=False)]

    with FakeAPI(answer=flaky, latency=0.01) as ctx:
        results = asyncio.run(go())
    assert len(results) == len(pngs)
    assert all(e.ok for e in results), [e.error for e in results if not e.ok]
    assert set(flaky.paid.values()) == {1}
    assert len(flaky.paid) == len(pngs)
    for item in results:
        assert item.data == [{"image": item.data[0]["image"], "amount": 1.5}]


def test_rate_limit_is_kept(pngs):
    limiter = RateLimiter(rpm=5, window=1.0)
    times = []

    def answer(body):
        times.append(time.monotonic())
        return answer_for(image_id(body))

    async def go():
        async with Http(limiter=limiter) as http:
            return [p async for p in abatch(pngs[:12], model="openai:m", base_url=api.url,
                                            concurrency=12, http=http, verify=False)]

    with FakeAPI(answer=answer) as api:
        asyncio.run(go())
    assert len(times) == 12
    for t in times:  # no one-second window holds more than 5 requests (small clock slack)
        assert sum(t <= u < t + 0.95 for u in times) <= 5


def test_tpm_counts_the_tokens_answers_report():
    limiter = RateLimiter(tpm=1000, tokens_per_request=100, window=0.6)
    for _ in range(12):
        limiter.observe(httpx.Response(200, json={"usage": {"total_tokens": 400}}))
    assert 350 < limiter.tokens <= 400

    async def go():
        start = time.monotonic()
        for _ in range(3):  # 400 + 400 fit in 1000 tokens; the third waits for the window
            await limiter.wait()
        return time.monotonic() - start

    assert asyncio.run(go()) >= 0.5


def test_tpm_starts_from_the_estimate_of_a_request(pngs):
    assert limiter_for(plan(pngs), None, None, "openai:gpt-4o-mini") is None
    assert limiter_for(plan(pngs), 60, None, "openai:gpt-4o-mini").tokens == 1000
    first = limiter_for(plan(pngs), None, 90_000, "openai:gpt-4o", detail="high").tokens
    assert first == DEFAULT_OUTPUT + 85 + 170  # one 512 px tile and the answer


def test_rate_limit_headers_and_429_pause_everyone():
    limiter = RateLimiter(rpm=1000)

    async def two_waits():
        start = time.monotonic()
        await asyncio.gather(limiter.wait(), limiter.wait())
        return time.monotonic() - start

    async def go():
        limiter.observe(httpx.Response(200, headers={
            "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "300ms"}))
        assert await two_waits() >= 0.25
        limiter.observe(httpx.Response(429, headers={"retry-after": "0.2"}))
        assert await two_waits() >= 0.15
        limiter.observe(httpx.Response(200, headers={"x-ratelimit-remaining-requests": "5"}))
        assert await two_waits() < 0.1

    asyncio.run(go())
    assert (_duration("6m0s"), _duration("1.5s"), _duration("20ms"), _duration("2")) == (
        360, 1.5, 0.02, 2)


def test_pages_are_items_and_a_changed_file_is_a_new_item(tmp_path):
    pdf, png = tmp_path / "doc.pdf", tmp_path / "one.png"
    pages = [PILImage.new("RGB", (40, 30), (n * 80, 10, 10)) for n in range(3)]
    pages[0].save(pdf, save_all=True, append_images=pages[1:])
    PILImage.new("RGB", (40, 30), "red").save(png)

    def go(api):
        return {e.label: e for e in batch([str(pdf), str(png)], model="openai:m",
                                          base_url=api.url, run="R", verify=False,
                                          fields="image, amount:number")}

    with FakeAPI(answer=lambda body: answer_for(image_id(body))) as api:
        first = go(api)
        assert list(first) and sorted(first) == [f"{pdf}#page={n}" for n in (1, 2, 3)] + [
            str(png)]
        assert len(api.requests) == 4 and all(e.ok for e in first.values())
        again = go(api)  # all done: nothing asked, the stored results come back
        assert len(api.requests) == 4
        assert {k: e.data for k, e in again.items()} == {k: e.data for k, e in first.items()}
        PILImage.new("RGB", (40, 30), "blue").save(png)  # same name, new content
        third = go(api)
        assert len(api.requests) == 5
    assert third[str(png)].data != first[str(png)].data
    assert third[f"{pdf}#page=2"].data == first[f"{pdf}#page=2"].data


def test_urls_are_fetched_at_their_turn(tmp_path, pngs):
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    pages = [PILImage.new("RGB", (40, 30), c) for c in ("red", "blue")]
    pages[0].save(tmp_path / "scan", format="PDF", save_all=True, append_images=pages[1:])
    got = []

    class Files(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            got.append(self.path)

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Files, directory=tmp_path))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        urls = [f"{base}/img00.png", f"{base}/scan"]
        assert [i.key for i in plan(urls)] == urls and got == []  # nothing fetched yet
        with FakeAPI(answer=lambda body: answer_for(image_id(body))) as api:
            results = {e.label: e for e in batch(urls, model="openai:m", base_url=api.url,
                                                 verify=False)}
    finally:
        server.shutdown()
    assert results[urls[0]].ok and len(api.requests) == 1
    assert "is a PDF of 2 pages" in results[urls[1]].error


def test_sync_batch_yields_and_bad_input_goes_on(pngs, tmp_path):
    (tmp_path / "bad.png").write_text("not an image")
    with FakeAPI(answer=lambda body: answer_for(image_id(body))) as api:
        got = {e.label: e for e in batch(pngs[:3] + [str(tmp_path / "bad.png")],
                                         model="openai:m", base_url=api.url, verify=False)}
    assert len(got) == 4
    bad = got[str(tmp_path / "bad.png")]
    assert "bad.png" in bad.error and not bad.ok


def test_stopping_early_cancels_the_rest(pngs):
    with FakeAPI(answer=lambda body: answer_for(image_id(body)), latency=0.1) as api:
        for _ in batch(pngs, model="openai:m", base_url=api.url, concurrency=2, verify=False):
            break
        time.sleep(0.5)
        asked = len(api.requests)
        time.sleep(0.3)
        assert asked == len(api.requests) < len(pngs) / 2


def run_cli(*args, **kw):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return subprocess.Popen([sys.executable, "-m", "pixelproof", "extract", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            **kw)


def test_killed_run_resumes_without_paying_twice(pngs, tmp_path):
    seen = Counter()
    lock = threading.Lock()

    def answer(body):
        key = image_id(body)
        with lock:
            seen[key] += 1
        return answer_for(key)

    out, whole = tmp_path / "out.jsonl", tmp_path / "whole.jsonl"
    common = ["-m", "openai:m", "--fields", "image, amount:number", "--no-cache", "--no-verify"]
    with FakeAPI(answer=answer, latency=0.15) as api:
        def kill_at(lines):
            """Run, SIGKILL once out.jsonl has ``lines`` lines; the images it holds."""
            proc = run_cli(*pngs, *common, "--base-url", api.url, "--run", "R", "-o", str(out),
                           "--concurrency", "3")
            deadline = time.time() + 60
            while time.time() < deadline and (not out.exists() or
                                              out.read_text().count("\n") < lines):
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            rows = out.read_text().splitlines()
            assert len(rows) == len(set(rows))  # a resumed run never writes a line twice
            return {json.loads(line)["image"] for line in rows}

        finished = kill_at(6)
        assert 6 <= len(finished) < len(pngs)
        again = kill_at(len(finished) + 4)  # killed again while resuming
        assert finished < again and len(again) < len(pngs)
        asked = dict(seen)  # (one in flight at a kill is asked again: it never finished)
        resumed = run_cli(*pngs, *common, "--base-url", api.url, "--run", "R", "-o", str(out),
                          "--concurrency", "3")
        assert resumed.wait(60) == 0, resumed.stderr.read()
        assert all(seen[key] == 1 for key in finished)  # finished: never asked again
        assert all(seen[key] == asked[key] for key in again)
        clean = run_cli(*pngs, *common, "--base-url", api.url, "-o", str(whole))
        assert clean.wait(60) == 0
    assert out.read_text() == whole.read_text()
    assert len(whole.read_text().splitlines()) == len(pngs)


def test_runs_export_rebuilds_the_output(pngs, tmp_path):
    from test_cli_describe import cli
    with FakeAPI(answer=lambda body: answer_for(image_id(body))) as api:
        first = cli("extract", *pngs[:3], "-m", "openai:m", "--base-url", api.url, "--run", "E",
                    "-o", str(tmp_path / "a.json"))
    assert first.returncode == 0, first.stderr
    again = cli("runs", "export", "E", "-o", str(tmp_path / "b.json"))
    assert again.returncode == 0, again.stderr
    whole = json.loads((tmp_path / "a.json").read_text())
    assert len(whole["records"]) == 3 and len(whole["verification"]) == 3  # reports kept too
    assert (tmp_path / "a.json").read_text() == (tmp_path / "b.json").read_text()
    assert "E\t" in cli("runs", "list").stdout
    assert cli("runs", "export", "nope").returncode == 1


def test_describe_each_asks_every_image_alone(pngs):
    from test_cli_describe import cli
    with FakeAPI() as api:
        r = cli("describe", pngs[0], "--each", "--from", "-", "-m", "openai:m", "--base-url",
                api.url, stdin="\n".join(pngs[1:3]).encode())
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [line["text"] for line in lines] == ["I see 1 image(s)."] * 3
    assert [line["source"] for line in lines] == pngs[:3]
    assert len(api.requests) == 3


def test_pdf_pages_are_planned_with_their_size_and_rendered_only_at_their_turn(tmp_path,
                                                                                monkeypatch):
    import pypdfium2 as pdfium
    from click.testing import CliRunner

    from pixelproof import images
    from pixelproof.cli import main
    pages = [PILImage.new("RGB", size, "white") for size in ((200, 100), (100, 300), (90, 90))]
    path = tmp_path / "doc.pdf"
    pages[0].save(path, "PDF", save_all=True, append_images=pages[1:], resolution=72)
    pdf = pdfium.PdfDocument(str(path))
    pdf[0].set_rotation(90)  # a page turned by its /Rotate: its size turns too
    pdf.save(rotated := tmp_path / "rotated.pdf")
    pdf.close()
    items = plan([str(rotated), f"{path}#page=2"])
    rendered = images.load(str(rotated)) + images.load(f"{path}#page=2")
    assert [i.size for i in items] == [(im.width, im.height) for im in rendered]
    assert items[0].size == (round(100 * images.PDF_DPI / 72), round(200 * images.PDF_DPI / 72))

    def never(*args):
        raise AssertionError("a page was rendered")
    monkeypatch.setattr(images, "_pdf_pages", never)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-abcdefghijklmnop")
    result = CliRunner().invoke(main, ["extract", str(rotated), "-m", "openai:gpt-4o",
                                       "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "rotated.pdf#page=3" in result.output and "250x250" in result.output


def test_retries_are_one_layer_and_the_error_counts_the_requests(tmp_path):
    """Against a server that always answers 500, ``--retries 2`` sends 3 requests in all."""
    from clirun import cli
    image = tmp_path / "a.png"
    PILImage.new("RGB", (40, 30), "white").save(image)
    with FakeAPI(answer=lambda body: Reply(500, "down", {"Retry-After": "0"})) as api:
        r = cli("extract", str(image), "-m", "openai:m", "--base-url", api.url,
                "--retries", "2", "--no-verify")
    assert r.returncode == 1
    assert len(api.requests) == 3
    assert "HTTP 500 (down) after 3 requests" in r.stderr, r.stderr
