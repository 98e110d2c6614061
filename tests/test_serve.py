"""``pixelproof serve`` (issue 15): the official openai SDK and raw httpx as clients of a real
server on 127.0.0.1; forwarding checked against fakeapi's OpenAI-compatible server."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import time
from decimal import Decimal

import corpus
import httpx
import openai
import pytest
from fakeapi import FakeAPI, LocalServer, QuietHandler, Reply
from PIL import Image
from serving import served

from pixelproof import images
from pixelproof.errors import InputError
from pixelproof.store import Store
from pixelproof.web.service import Service, Settings

TOKEN = "test-token-1"
SECRET = "sk-test-SECRETSECRETSECRET"  # the server's provider key: never in any answer
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


RECEIPT = png(corpus.page(3))
TABLE = "| key | value |\n|---|---|\n| Total | 999.99 |\n"


class ImageHost(LocalServer):
    """Serves /receipt.png, and /to?url=... as a 302 redirect."""

    def _handler(self):
        class Handler(QuietHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/to?url="):
                    self.send_response(302)
                    self.send_header("Location", self.path[len("/to?url="):])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(RECEIPT)))
                self.end_headers()
                self.wfile.write(RECEIPT)

        return Handler


def answer(body):
    text = json.dumps(body)
    return TABLE if "Extract" in text else "I see 1 image(s)."


@pytest.fixture(scope="module")
def upstream():
    with FakeAPI(answer) as api:
        yield api


@pytest.fixture(scope="module")
def server(tmp_path_factory, upstream):
    os.environ["OPENAI_API_KEY"] = SECRET
    settings = Settings(tokens=(TOKEN, "other-token"), model="local", base_url=upstream.url,
                        allow_private_urls=True, cache_dir=str(tmp_path_factory.mktemp("s")))
    try:
        with served(settings) as url:
            yield url
    finally:
        del os.environ["OPENAI_API_KEY"]


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server + "/v1", api_key=TOKEN, max_retries=0)


def ask(text, url, **part):
    return [{"role": "user", "content": [
        {"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": url},
                                         **part}]}]


# --- OpenAI-compatible -------------------------------------------------------------------

def test_health_models_and_tokens(server, client):
    assert httpx.get(server + "/healthz").json() == {"status": "ok"}
    assert httpx.get(server + "/docs").status_code == 200
    assert "/v1/chat/completions" in httpx.get(server + "/openapi.json").json()["paths"]
    assert "local" in [m.id for m in client.models.list()]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server + "/v1", api_key="wrong", max_retries=0).models.list()
    r = httpx.get(server + "/v1/models")  # no token at all
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


def test_local_data_url_extracts_tables(client):
    r = client.chat.completions.create(model="local", messages=ask(
        "Extract the table", data_url(RECEIPT)))
    text = r.choices[0].message.content
    assert "| key | value |" in text and "Total" in text
    assert r.choices[0].finish_reason == "stop"
    assert r.model_extra["pixelproof"]["cost"] == "0"


def test_local_streamed_describe_and_json_schema(client):
    chunks = list(client.chat.completions.create(
        model="local", stream=True, stream_options={"include_usage": True},
        messages=ask("What is in this image?", data_url(RECEIPT), detail="low")))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "offline OCR engine" in text
    assert chunks[-1].usage is not None
    [said] = [c.model_extra["pixelproof"] for c in chunks if "pixelproof" in (c.model_extra or {})]
    assert said["cost"] == "0" and said["cached"] is False  # the engine is free, never cached
    assert said["verification"] is None  # its answer is what it read: not checked again
    schema = {"type": "object", "properties": {"total": {"type": "number"},
                                               "date": {"type": "string"}}}
    r = client.chat.completions.create(model="local", messages=ask(
        "Read the receipt", data_url(RECEIPT)), response_format={
        "type": "json_schema", "json_schema": {"name": "receipt", "schema": schema}})
    assert set(json.loads(r.choices[0].message.content)) == {"total", "date"}


def test_forwarded_url_and_stream_through_the_cache(client, upstream):
    host = ImageHost()
    with host:
        url = host.url.replace("/v1", "/receipt.png")
        before = len(upstream.requests)
        r = client.chat.completions.create(model="openai:fake-model", messages=ask(
            "What is it?", url, detail="high"))
        assert r.choices[0].message.content == "I see 1 image(s)."
        sent = upstream.requests[-1]
        part = sent["messages"][-1]["content"][1]["image_url"]
        assert part["detail"] == "high" and part["url"].startswith("data:image/png")
        assert upstream.headers[-1]["Authorization"] == f"Bearer {SECRET}"
        again = client.chat.completions.create(model="openai:fake-model", messages=ask(
            "What is it?", url, detail="high"))
        assert again.model_extra["pixelproof"]["cached"] is True
        assert len(upstream.requests) == before + 1
        streamed = client.chat.completions.create(
            model="openai:fake-model", stream=True, messages=ask("Extract it", url))
        chunks = list(streamed)
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == TABLE
        report = [c.model_extra["pixelproof"] for c in chunks if "pixelproof" in c.model_extra]
        assert report[0]["verification"]["checks"]  # the table's value was checked


def test_curl_shapes_as_raw_json(server):
    body = {"model": "local", "max_tokens": 300, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is in this image?"},
        {"type": "image_url", "image_url": {"url": data_url(RECEIPT)}, "detail": "high"}]}]}
    r = httpx.post(server + "/v1/chat/completions", json=body, headers=AUTH, timeout=60)
    assert r.status_code == 200 and r.json()["object"] == "chat.completion"
    r = httpx.post(server + "/v1/chat/completions", json={"model": "local"}, headers=AUTH)
    assert r.status_code == 400 and r.json()["error"]["message"].startswith("messages")


def test_upstream_errors_never_show_the_key(upstream, server):
    upstream.script.append(Reply(401, {"error": {"message": f"Incorrect API key: {SECRET}"}}))
    r = httpx.post(server + "/v1/chat/completions", headers=AUTH, timeout=30, json={
        "model": "openai:other-model", "messages": ask("Hi", data_url(RECEIPT))})
    assert r.status_code == 502 and r.json()["error"]["code"] == "upstream_error"
    assert SECRET not in r.text and "[redacted]" in r.text


# --- refusals ----------------------------------------------------------------------------

def test_private_and_local_urls_are_refused(tmp_path):
    urls = ["http://127.0.0.1:9/a.png", "http://10.0.0.1/a.png", "http://[::1]/a.png",
            "http://169.254.169.254/latest/meta-data/", "/etc/passwd", "file:///etc/passwd"]
    with served(Settings(cache_dir=str(tmp_path))) as server:
        for url in urls:
            r = httpx.post(server + "/v1/chat/completions", timeout=10, json={
                "model": "local", "messages": ask("What?", url)})
            assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_image", url
        assert httpx.get(server + "/healthz").status_code == 200


def test_a_redirect_to_a_private_address_is_refused(monkeypatch):
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "public.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    hops = []

    def handler(request):
        hops.append((str(request.url), request.headers["host"]))
        if request.url.path == "/a.png":
            return httpx.Response(200, content=RECEIPT)
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/"})

    mock = httpx.MockTransport(handler)
    assert images.load("http://public.test/a.png", public_only=True, transport=mock)
    # sent to the address that was checked, under the host's name (no second DNS answer)
    assert hops == [("http://93.184.216.34/a.png", "public.test")]
    with pytest.raises(InputError, match="'169.254.169.254' is at 169.254.169.254, not a public"):
        images.load("http://public.test/b.png", public_only=True, transport=mock)
    assert hops[1:] == [("http://93.184.216.34/b.png", "public.test")]  # metadata never asked


def test_upload_limits_each_a_clear_4xx(tmp_path):
    settings = Settings(cache_dir=str(tmp_path), max_bytes=200_000, max_body=1_000_000,
                        max_pixels=4_000_000, max_pages=2, max_files=3)
    pages = corpus.pdf([corpus.page(n) for n in range(3)])
    big = os.urandom(300_000)
    cases = [
        ({"files": ("a.png", big)}, 413, "image_too_large"),
        ({"files": ("bomb.png", corpus.png_claiming(60_000, 60_000))}, 413, "image_too_large"),
        ({"files": ("doc.pdf", pages)}, 413, "image_too_large"),
        ([("files", (f"{n}.png", RECEIPT)) for n in range(4)], 413, "too_many_files"),
        ([("files", (f"{n}.bin", os.urandom(190_000))) for n in range(6)], 413,
         "request_too_large"),
        ({"files": ("notes.txt", b"hello")}, 400, "invalid_image"),
    ]
    with served(settings) as server:
        for files, status, code in cases:
            r = httpx.post(server + "/v1/extract", files=files, timeout=30)
            assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
        assert httpx.get(server + "/healthz").status_code == 200


def test_per_token_request_and_spend_limits(tmp_path, upstream):
    settings = Settings(tokens=(TOKEN,), cache_dir=str(tmp_path), token_rpm=2,
                        token_max_cost=Decimal("0.000001"), base_url=upstream.url)
    body = {"model": "openai:gpt-4o-mini", "messages": ask("Hi", data_url(RECEIPT))}
    with served(settings) as server:
        r = httpx.post(server + "/v1/chat/completions", json=body, headers=AUTH, timeout=30)
        assert r.status_code == 402 and r.json()["error"]["code"] == "budget_exceeded"
        assert httpx.get(server + "/v1/models", headers=AUTH).status_code == 200
        r = httpx.get(server + "/v1/models", headers=AUTH)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


# --- REST --------------------------------------------------------------------------------

def test_rest_extract_png_and_pdf_and_describe(server):
    pdf = corpus.pdf([corpus.page(n) for n in range(3)])
    r = httpx.post(server + "/v1/extract", headers=AUTH, timeout=120, data={
        "fields": "total:number, date:date", "verify": "true"},
        files=[("files", ("r.png", RECEIPT)), ("files", ("scan.pdf", pdf))])
    assert r.status_code == 200, r.text
    out = r.json()
    assert [(i["source"], i["page"]) for i in out["items"]] == [
        ("r.png", None), ("scan.pdf", 1), ("scan.pdf", 2), ("scan.pdf", 3)]
    assert out["cost"] == "0" and out["seconds"] > 0 and "input_tokens" in out["usage"]
    assert {"source", "total", "date"} <= set(out["records"][0])
    r = httpx.post(server + "/v1/extract", headers=AUTH, timeout=60, json={
        "images": [data_url(RECEIPT)], "model": "openai:fake-model", "prompt": "Extract"})
    item = r.json()["items"][0]
    assert item["records"] == [{"key": "Total", "value": "999.99"}]
    assert item["verification"]["checks"][0]["status"] != "verified"
    r = httpx.post(server + "/v1/describe", headers=AUTH, timeout=60, json={
        "images": [data_url(RECEIPT)], "model": "openai:fake-model"})
    assert r.json()["text"] == "I see 1 image(s)." and r.json()["cached"] is False


def tiny(n: int) -> bytes:
    return png(Image.new("RGB", (24, 24), (n * 5 % 256, n * 11 % 256, n * 17 % 256)))


def test_a_job_survives_a_restart_without_asking_twice(tmp_path):
    with FakeAPI(latency=0.05) as api:
        settings = Settings(cache_dir=str(tmp_path), no_cache=True, base_url=api.url,
                            concurrency=2, model="openai:fake-model")
        files = [("files", (f"img-{n:02d}.png", tiny(n))) for n in range(50)]
        with served(settings) as server:
            r = httpx.post(server + "/v1/jobs", files=files, data={"task": "describe"},
                           timeout=30)
            assert r.status_code == 202, r.text
            job = r.json()["id"]
            deadline = time.monotonic() + 60
            while httpx.get(f"{server}/v1/jobs/{job}").json()["done"] < 10:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        with Store(Store.default_path(tmp_path)) as store:
            done_before = {i.key.split("@")[0].rsplit("-", 1)[-1]
                           for i in store.items(job, "done")}
        assert 10 <= len(done_before) < 50
        with served(settings) as server:
            deadline = time.monotonic() + 60
            while (state := httpx.get(f"{server}/v1/jobs/{job}").json())["status"] != \
                    "finished":
                assert time.monotonic() < deadline
                time.sleep(0.1)
            assert (state["done"], state["failed"], state["total"]) == (50, 0, 50)
            result = httpx.get(f"{server}/v1/jobs/{job}/result").json()
            assert [r["source"] for r in result["records"]] == [f"img-{n:02d}.png"
                                                                 for n in range(50)]
            csv = httpx.get(f"{server}/v1/jobs/{job}/result?format=csv").text
            assert csv.splitlines()[0].startswith("source") and len(csv.splitlines()) == 51
            lines = httpx.get(f"{server}/v1/jobs/{job}/result?format=jsonl").text.splitlines()
            assert len(lines) == 50
        asked: dict[str, int] = {}
        for body in api.requests:
            url = body["messages"][-1]["content"][1]["image_url"]["url"]
            asked[url] = asked.get(url, 0) + 1
        by_name = {f"{n:02d}.png": data_url(tiny(n)) for n in range(50)}
        assert len(asked) == 50
        assert all(asked[by_name[name]] == 1 for name in done_before)
        assert sum(asked.values()) <= 50 + settings.concurrency  # only those in flight again


def test_jobs_belong_to_their_token(server):
    r = httpx.post(server + "/v1/jobs", headers=AUTH, json={
        "images": [data_url(RECEIPT)], "task": "describe"})
    job = r.json()["id"]
    other = {"Authorization": "Bearer other-token"}
    assert httpx.get(f"{server}/v1/jobs/{job}", headers=other).status_code == 404
    assert httpx.get(f"{server}/v1/jobs/{job}", headers=AUTH).status_code == 200


def test_base_url_is_for_openai_compatible_models_only(tmp_path):
    service = Service(Settings(base_url="http://127.0.0.1:1/v1", cache_dir=str(tmp_path)))
    try:
        assert service.base_url("openai:x") == service.base_url("gpt-4o") == \
            "http://127.0.0.1:1/v1"
        assert service.base_url("anthropic:claude-haiku-4-5") is None
        assert service.base_url("local") is None
    finally:
        service.store.close()


def test_serve_needs_a_token_off_loopback():
    from click.testing import CliRunner

    from pixelproof.cli import main

    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0"], env={
        "PIXELPROOF_TOKENS": ""})
    assert result.exit_code == 2 and "--token" in result.output
