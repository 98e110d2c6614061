"""The SQLite store on real files: migrations, WAL, the usage log and run items."""

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from pixelproof.errors import ConfigError, StoreError
from pixelproof.store import MIGRATIONS, Store
from pixelproof.types import Response, Usage


def test_migrations_applied_once_recorded_and_wal(tmp_path):
    path = tmp_path / "s.db"
    with Store(path) as store:
        store.remember("k", Response("hello", "m"))
    applied = sqlite3.connect(path).execute("SELECT name, applied FROM migrations").fetchall()
    with Store(path) as again:  # reopening applies nothing twice and keeps the data
        assert again.cached("k").text == "hello"
    db = sqlite3.connect(path)
    assert db.execute("SELECT name, applied FROM migrations").fetchall() == applied
    assert [name for name, _ in applied] == [m.__name__ for m in MIGRATIONS]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_store_created_by_the_first_migrations_is_upgraded(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)")
    for m in MIGRATIONS[:3]:
        m(db)
        db.execute("INSERT INTO migrations VALUES (?, '2026-01-01')", (m.__name__,))
    db.execute("INSERT INTO runs (name, options, created) VALUES ('old', '{}', '2026-01-01')")
    db.execute("INSERT INTO items (run, key, seq, status, attempts, updated)"
               " VALUES ('old', 'a', 0, 'pending', 0, '2026-01-01')")
    db.commit()
    db.close()
    with Store(path) as store:
        store.finish("old", "a", {"x": 1}, Usage(5, 1, 2), None)
        assert store.items("old")[0].usage == Usage(5, 1, 2)


def test_default_path_follows_cache_dir_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("PIXELPROOF_HOME", str(tmp_path / "home"))
    assert Store.default_path() == tmp_path / "home" / "pixelproof.db"
    assert Store.default_path(tmp_path / "x") == tmp_path / "x" / "pixelproof.db"
    with Store() as store:
        assert store.path == tmp_path / "home" / "pixelproof.db" and store.path.exists()


def test_unwritable_place_is_a_store_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cache-dir"):
        Store(blocker / "s.db")


def test_usage_report_by_day_and_model(tmp_path):
    day1 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    day2 = datetime(2026, 3, 2, 12, tzinfo=UTC)
    with Store(tmp_path / "s.db") as store:
        store.record_usage("openai:gpt-4o", Usage(1000, 10), Decimal("0.01"), when=day1)
        store.record_usage("openai:gpt-4o", Usage(2000, 20), Decimal("0.02"), when=day1)
        store.record_usage("openai:gpt-4o", Usage(1000, 10), Decimal(0), cached=True, when=day1)
        store.record_usage("ollama:llava", Usage(300, 30), None, when=day1)
        store.record_usage("openai:gpt-4o", Usage(7, 3), Decimal("0.5"), when=day2)
        rows = store.usage_report()
        assert [(r.day, r.model) for r in rows] == [
            ("2026-03-01", "ollama:llava"), ("2026-03-01", "openai:gpt-4o"),
            ("2026-03-02", "openai:gpt-4o")]
        llava, gpt, later = rows
        assert (gpt.requests, gpt.cached, gpt.input_tokens, gpt.output_tokens, gpt.cost) == (
            2, 1, 3000, 30, Decimal("0.03"))  # the cache hit is free and sent nothing
        assert llava.cost is None  # unknown price: never zero
        assert later.cost == Decimal("0.5")
        assert store.usage_report(since=date(2026, 3, 2)) == [later]


def test_run_items_lifecycle(tmp_path):
    with Store(tmp_path / "s.db") as store:
        assert store.open_run("r", {"model": "m", "prompt": None}) is False
        assert store.open_run("r", {"prompt": None, "model": "m"}) is True
        with pytest.raises(ConfigError, match=r"\(model\)"):
            store.open_run("r", {"model": "other", "prompt": None})
        with pytest.raises(ConfigError, match="prompt, schema"):
            store.open_run("r", {"model": "m", "prompt": "x", "schema": {}})
        keys = ["z.png", "a.png", "m.png"]
        store.add_items("r", keys)
        store.add_items("r", keys)  # idempotent
        store.add_items("r", ["a.png", "b.png"])
        assert [i.key for i in store.items("r")] == ["z.png", "a.png", "m.png", "b.png"]
        assert {i.status for i in store.items("r")} == {"pending"}

        store.start("r", "z.png")
        store.finish("r", "z.png", [{"x": 1}], Usage(10, 2, 4), Decimal("0.5"))
        store.start("r", "a.png")
        store.fail("r", "a.png", "boom")
        store.start("r", "m.png")
        items = {i.key: i for i in store.items("r")}
        assert (items["a.png"].status, items["a.png"].error) == ("failed", "boom")
        assert items["m.png"].status == "running"
        assert store.requeue("r") == 2
        assert store.requeue("r") == 0
        items = {i.key: i for i in store.items("r")}
        done = items["z.png"]
        assert (done.status, done.result, done.usage, done.cost, done.attempts) == (
            "done", [{"x": 1}], Usage(10, 2, 4), Decimal("0.5"), 1)
        assert items["a.png"].status == items["m.png"].status == "pending"
        store.start("r", "a.png")
        assert store.items("r", "running")[0].attempts == 2
        store.add_items("r", ["z.png"])  # a done item stays done
        assert [i.key for i in store.items("r", "done")] == ["z.png"]

        with pytest.raises(StoreError, match="no item 'nope'"):
            store.finish("r", "nope", None, Usage(), None)
        with pytest.raises(StoreError, match="no run named 'other'"):
            store.add_items("other", ["a"])
        with pytest.raises(ConfigError, match="status"):
            store.items("r", "finished")


def test_meta_and_run_summaries(tmp_path):
    with Store(tmp_path / "s.db") as store:
        store.open_run("r", {})
        assert store.get_meta("r", "openai_batches") is None
        store.set_meta("r", "openai_batches", ["batch_1", "batch_2"])
        store.set_meta("r", "note", "[not json")
        assert store.get_meta("r", "openai_batches") == ["batch_1", "batch_2"]
        assert store.get_meta("r", "note") == "[not json"
        store.add_items("r", ["a", "b", "c"])
        store.finish("r", "a", 1, Usage(1, 1), Decimal("0.25"))
        store.finish("r", "b", 2, Usage(1, 1), Decimal("0.5"))
        store.open_run("unknown-price", {})
        store.add_items("unknown-price", ["a"])
        store.finish("unknown-price", "a", 1, Usage(1, 1), None)
        store.open_run("empty", {})
        summaries = {s.name: s for s in store.runs()}
        assert summaries["r"].counts == {"done": 2, "pending": 1} and summaries["r"].total == 3
        assert summaries["r"].spend == Decimal("0.75")
        assert summaries["unknown-price"].spend is None
        assert summaries["empty"].counts == {} and summaries["empty"].spend == 0


def test_threads_share_one_store(tmp_path):
    with Store(tmp_path / "s.db") as store:
        store.open_run("r", {})
        keys = [f"k{n}" for n in range(200)]
        store.add_items("r", keys)

        def work(part):
            for key in part:
                store.start("r", key)
                store.finish("r", key, {"key": key}, Usage(1, 1), None)
                store.record_usage("m", Usage(1, 1), None)

        threads = [threading.Thread(target=work, args=(keys[n::4],)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [i.result["key"] for i in store.items("r", "done")] == keys
        assert store.usage_report()[0].requests == 200


def test_two_processes_write_the_same_store(tmp_path):
    path = tmp_path / "s.db"
    script = f"""
from pixelproof.store import Store
from pixelproof.types import Usage
import sys
with Store({str(path)!r}) as s:
    for n in range(100):
        s.record_usage(sys.argv[1], Usage(1, 1), None)
"""
    procs = [subprocess.Popen([sys.executable, "-c", script, f"p{n}"]) for n in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    with Store(path) as store:
        assert [(r.model, r.requests) for r in store.usage_report()] == [("p0", 100), ("p1", 100)]


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
    assert last >= 300, "the writer did not get going"
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with Store(path) as store:
        done = store.items("r", "done")
        assert len(done) >= last + 1  # everything reported finished is there
        assert [i.key for i in done] == [str(n) for n in range(len(done))]
        assert all(i.result == {"n": int(i.key), "pad": "x" * 200} for i in done)
        assert len(store.items("r", "running")) <= 1  # at most the one being written
        assert store.requeue("r") <= 1
        assert len(store.items("r")) == 100000


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_new_store_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "s.db"
    with Store(path) as store:
        store.remember("k", Response("a private answer", "m"))
        for f in tmp_path.iterdir():  # the db and its WAL/SHM files
            assert f.stat().st_mode & 0o077 == 0, f
