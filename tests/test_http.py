"""The real transport (aiohttp under httpx) against servers on 127.0.0.1: its errors become the
same pixelproof errors as httpx's own transport gave, and Retry-After is honoured."""

import asyncio
import importlib
import socket
import threading
import time

import pytest
from fakeapi import FakeAPI, Reply, completion
from PIL import Image as PILImage

from pixelproof.errors import ConnectionRefused, NetworkError, RateLimitError
from pixelproof.http import Http

batch_mod = importlib.import_module("pixelproof.batch")  # pixelproof.batch is also a function

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def post(url, timeout=5.0, retries=1):
    async def go():
        async with Http(timeout=timeout, retries=retries) as http:
            return await http.post_json(f"{url}/chat/completions", BODY,
                                        provider="openai", headers={})
    return asyncio.run(go())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_connection_is_refused_not_a_timeout(monkeypatch):
    monkeypatch.setattr("pixelproof.http.backoff", lambda *a: 0)
    with pytest.raises(ConnectionRefused, match=r"cannot reach 127\.0\.0\.1 \(ConnectError, "
                                                    r"after 2 requests\)"):
        post(f"http://127.0.0.1:{free_port()}/v1")


def test_a_server_that_never_answers_times_out(monkeypatch):
    monkeypatch.setattr("pixelproof.http.backoff", lambda *a: 0)
    with FakeAPI() as api:
        api.script = [Reply(body=completion("late"), delay=2.0)] * 2
        with pytest.raises(NetworkError, match=r"no answer from 127\.0\.0\.1 in time after "
                                               r"2 requests") as e:
            post(api.url, timeout=0.3)
    assert not isinstance(e.value, ConnectionRefused)


def test_a_429_waits_for_its_retry_after_then_succeeds():
    with FakeAPI() as api:
        api.script = [Reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "0.6"})]
        start = time.monotonic()
        answer = post(api.url)
    assert answer["choices"][0]["message"]["content"] == "I see 0 image(s)."
    assert len(api.requests) == 2
    assert time.monotonic() - start >= 0.6


def test_a_429_on_every_try_is_a_rate_limit_error(monkeypatch):
    monkeypatch.setattr("pixelproof.http.backoff", lambda *a: 0)
    with FakeAPI() as api:
        api.script = [Reply(429, {"error": {"message": "quota"}}, {"Retry-After": "1"})] * 2
        with pytest.raises(RateLimitError, match=r"HTTP 429 \(quota\) after 2 requests"):
            post(api.url)


def test_a_connection_dropped_before_the_answer_is_retried(monkeypatch):
    monkeypatch.setattr("pixelproof.http.backoff", lambda *a: 0)
    drops = []

    def serve(listener):
        for _ in range(2):  # the first connection is closed unanswered, the second answered
            conn, _ = listener.accept()
            conn.recv(65536)
            if not drops:
                drops.append(conn)
                conn.close()
                continue
            body = b'{"ok": 1}'
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            conn.close()

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        threading.Thread(target=serve, args=(listener,), daemon=True).start()
        assert post(f"http://127.0.0.1:{listener.getsockname()[1]}/v1") == {"ok": 1}
    assert drops


def test_a_batch_against_a_server_that_is_down_fails_with_one_message(tmp_path, monkeypatch):
    monkeypatch.setattr(batch_mod, "OUTAGE_SECONDS", 1.0)
    monkeypatch.setattr("pixelproof.http.backoff", lambda *a: 0)
    paths = []
    for n in range(3):
        PILImage.new("RGB", (20, 20), (n, 0, 0)).save(path := tmp_path / f"{n}.png")
        paths.append(str(path))

    async def go():
        async with Http(retries=0) as http:
            return [e async for e in batch_mod.abatch(
                paths, model="openai:m", base_url=f"http://127.0.0.1:{free_port()}/v1",
                http=http, verify=False)]
    errors = {e.error for e in asyncio.run(go())}
    assert len(errors) == 1 and "the server at 127.0.0.1 is gone" in errors.pop()
