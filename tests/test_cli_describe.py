"""The CLI against a real Chat Completions server on 127.0.0.1, as a user with Ollama or vLLM."""

import io
import json
import os
import subprocess
import sys

import pytest
from fakeapi import FakeAPI, Reply, completion
from PIL import Image as PILImage


@pytest.fixture
def pngs(tmp_path):
    paths = []
    for i, color in enumerate(("red", "blue")):
        p = tmp_path / f"img{i}.png"
        PILImage.new("RGB", (64, 48), color).save(p)
        paths.append(str(p))
    return paths


def cli(*args, env=None, stdin=None):
    full_env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "pixelproof", *args], capture_output=True,
                          text=stdin is None, input=stdin, env=full_env, timeout=60)


def test_describe_streams_answer_and_usage(pngs):
    with FakeAPI() as api:
        r = cli("describe", *pngs, "-m", "openai:llava", "--base-url", api.url,
                "-p", "Compare these")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "I see 2 image(s)."
    assert "100 in, 20 out tokens" in r.stderr
    [body] = api.requests
    assert body["stream"] is True and body["model"] == "llava"
    content = body["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "Compare these"}
    assert [p["image_url"]["detail"] for p in content[1:]] == ["auto", "auto"]
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_describe_json_and_key_header(pngs):
    with FakeAPI() as api:
        r = cli("describe", pngs[0], "--json", "--detail", "low", "-m", "openai:m",
                "--base-url", api.url, env={"OPENAI_API_KEY": "sk-test-abcdefghijklmnop"})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["text"] == "I see 1 image(s)." and out["usage"]["input_tokens"] == 100
    assert api.headers[0]["Authorization"] == "Bearer sk-test-abcdefghijklmnop"
    assert "stream" not in api.requests[0]


def test_describe_stdin(pngs):
    with FakeAPI() as api, open(pngs[0], "rb") as f:
        r = cli("describe", "-", "-m", "openai:m", "--base-url", api.url, stdin=f.read())
    assert r.returncode == 0 and b"I see 1 image(s)." in r.stdout


def test_bad_input_reported_others_still_sent(pngs, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with FakeAPI() as api:
        r = cli("describe", pngs[0], "missing.png", str(text), pngs[1], "-m", "openai:m",
                "--base-url", api.url)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert any(line.startswith("pixelproof: error: missing.png: no such file") for line in lines)
    assert any("notes.png: not an image" in line for line in lines)
    assert "Traceback" not in r.stderr
    assert r.stdout.strip() == "I see 2 image(s)."


@pytest.mark.parametrize("reply,message", [
    (Reply(401, {"error": {"message": "Incorrect API key provided: sk-abc***xyz"}}),
     "HTTP 401 .*Check OPENAI_API_KEY"),
    (Reply(429, {"error": {"message": "Rate limit"}}, {"Retry-After": "0"}),
     "HTTP 429 .*after 2 requests"),
    (Reply(500, "oops", {"Retry-After": "0"}), "HTTP 500 .*after 2 requests"),
    (Reply(200, "this is not json"), "not JSON"),
    (Reply(200, {"unexpected": True}), "no choices"),
])
def test_server_errors_are_one_line(pngs, reply, message):
    import re
    with FakeAPI(answer=lambda body: reply) as api:
        r = cli("describe", pngs[0], "-m", "openai:m", "--base-url", api.url, "--json",
                "--retries", "1")
    assert r.returncode == 1
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and re.search(message, err), err


def test_server_that_never_answers(pngs):
    with FakeAPI(answer=lambda body: Reply(delay=5)) as api:
        r = cli("describe", pngs[0], "-m", "openai:m", "--base-url", api.url, "--timeout", "0.5",
                "--retries", "0", "--json")
    assert r.returncode == 1
    assert "no answer from 127.0.0.1 in time" in r.stderr


def test_debug_shows_traceback():
    r = cli("describe", "missing.png", env={"PIXELPROOF_DEBUG": "1"})
    assert r.returncode == 1 and "no such file" in r.stderr


def test_truncated_answer_is_reported(pngs):
    with FakeAPI(answer=lambda body: Reply(body=completion("A long", finish="length"))) as api:
        r = cli("describe", pngs[0], "-m", "openai:m", "--base-url", api.url)
    assert r.returncode == 1 and "cut off" in r.stderr


def test_library_describe(pngs):
    import pixelproof
    with FakeAPI() as api:
        r = pixelproof.describe(pngs, "What?", model="openai:m", base_url=api.url)
        raw = io.BytesIO(open(pngs[0], "rb").read()).getvalue()
        one = pixelproof.describe(raw, model="openai:m", base_url=api.url)
    assert r.text == "I see 2 image(s)." and r.usage.output_tokens == 20 and r.seconds > 0
    assert one.text == "I see 1 image(s)."
