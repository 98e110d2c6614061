"""The SQLite store: migrations, the response cache, the usage log and run items."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal

import pytest
from fakeapi import FakeAPI
from PIL import Image as PILImage
from test_cli_describe import cli

from pixelproof.errors import ConfigError
from pixelproof.store import MIGRATIONS, Store
from pixelproof.types import Usage


def test_migrations_once_and_wal(tmp_path):
    path = tmp_path / "s.db"
    Store(path).close()
    with Store(path):
        pass
    db = sqlite3.connect(path)
    names = [r[0] for r in db.execute("SELECT name FROM migrations")]
    assert names == [m.__name__ for m in MIGRATIONS]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.fixture
def png(tmp_path):
    path = tmp_path / "a.png"
    PILImage.new("RGB", (64, 48), "white").save(path)
    return str(path)


def test_repeat_is_cached_and_free_and_key_never_stored(png, tmp_path):
    env = {"OPENAI_API_KEY": "sk-test-SECRET-123"}
    with FakeAPI() as api:
        def ask(*extra):
            return cli("describe", png, "-m", "openai:m", "--base-url", api.url, *extra, env=env)
        first, second = ask(), ask()
        assert len(api.requests) == 1
        assert second.stdout == first.stdout and "(cached)" in second.stderr
        ask("-p", "Another question?")
        ask("--no-cache")
        cli("describe", png, "-m", "openai:other", "--base-url", api.url, env=env)
        assert len(api.requests) == 4
    home = tmp_path / "home"
    for f in home.iterdir():
        assert b"SECRET" not in f.read_bytes()
    report = cli("usage", "--json")
    rows = {r["model"]: r for r in json.loads(report.stdout)}
    assert rows["openai:m"]["requests"] == 4 and rows["openai:m"]["cached"] == 1
    assert rows["openai:m"]["input_tokens"] == 400  # the cache hit is not counted again
    assert rows["openai:m"]["cost"] is None  # unknown price: never shown as zero
    assert "unknown" in cli("usage").stdout


def test_cut_off_answers_are_not_cached(tmp_path):
    with Store(tmp_path / "s.db") as store:
        store.record_usage("openai:gpt-4o", Usage(1000, 10), Decimal("0.01"))
        store.record_usage("openai:gpt-4o", Usage(1000, 10), Decimal("0.02"), cached=False)
        (row,) = store.usage_report()
        assert row.cost == Decimal("0.03") and row.requests == 2


def test_run_items(tmp_path):
    with Store(tmp_path / "s.db") as store:
        assert store.open_run("r", {"model": "m"}) is False
        assert store.open_run("r", {"model": "m"}) is True
        with pytest.raises(ConfigError, match="model"):
            store.open_run("r", {"model": "other"})
        store.add_items("r", ["a", "b", "c"])
        store.add_items("r", ["b", "d"])
        assert [i.key for i in store.items("r")] == ["a", "b", "c", "d"]
        store.start("r", "a")
        store.finish("r", "a", [{"x": 1}], Usage(10, 2), Decimal("0.5"))
        store.start("r", "b")
        store.fail("r", "b", "boom")
        store.start("r", "c")
        assert store.requeue("r") == 2
        items = {i.key: i for i in store.items("r")}
        assert items["a"].status == "done" and items["a"].result == [{"x": 1}]
        assert items["b"].status == items["c"].status == "pending"
        assert items["b"].attempts == 1
        store.set_meta("r", "batches", ["batch_1"])
        assert store.get_meta("r", "batches") == ["batch_1"]


def test_sigkill_mid_writes_keeps_every_finished_item(tmp_path):
    path = tmp_path / "s.db"
    script = f"""
from pixelproof.store import Store
from pixelproof.types import Usage
s = Store({str(path)!r})
s.open_run("r", {{}})
s.add_items("r", [str(n) for n in range(100000)])
for n in range(100000):
    s.start("r", str(n))
    s.finish("r", str(n), {{"n": n, "pad": "x" * 200}}, Usage(1, 1), None)
    print(n, flush=True)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    last = -1
    deadline = time.time() + 30
    while last < 300 and time.time() < deadline:
        last = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with Store(path) as store:
        done = store.items("r", "done")
        assert len(done) >= last + 1  # everything reported finished is there
        assert all(i.result["n"] == int(i.key) for i in done)
        assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
