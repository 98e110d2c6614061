"""The shared OCR reader: one engine read per page per run, none on a re-run with the same
store, a pool of worker processes that survives a killed worker, and the same words from one
worker as from several."""

import asyncio
import json
import os
import signal
import threading
import time

import pytest
import render
from click.testing import CliRunner
from fakeapi import FakeAPI

from pixelproof import images, ocr
from pixelproof.batch import abatch
from pixelproof.cli import main
from pixelproof.http import Http
from pixelproof.ocr.pool import Worker
from pixelproof.store import Store
from pixelproof.verify import verify

MAKERS = [render.statement, render.receipt, render.invoice]


@pytest.fixture
def pages(tmp_path):
    paths = []
    for n, make in enumerate(MAKERS):
        path = tmp_path / f"page{n}.png"
        make(seed=40 + n).image.save(path)
        paths.append(str(path))
    return paths


@pytest.fixture
def fresh():
    """A reader with nothing in memory (as in a new process); the default pool after."""
    yield ocr.configure()
    ocr.configure()


def answer(body):
    return "| Description | Amount |\n|---|---|\n| Total | 12.34 |"


def run(paths, url, store, detail="auto"):
    async def go():
        async with Http() as http:
            return [e async for e in abatch(paths, model="openai:gpt-4o", base_url=url,
                                            http=http, store=store, detail=detail)]
    return asyncio.run(go())


def test_one_read_per_image_per_run_and_none_on_a_rerun(pages, tmp_path, fresh):
    store = Store(tmp_path / "s.db", cache=False)
    with FakeAPI(answer=answer) as api:
        first = run(pages, api.url, store)
        assert all(e.ok and e.verification is not None for e in first)
        # planning (--detail auto), verification and the answer all used the one read
        assert ocr.reader().calls == len(pages)
        run(pages, api.url, store)  # the same run again in this process
        assert ocr.reader().calls == len(pages)
        ocr.configure()  # a new process: nothing in memory, the store remembers
        again = run(pages, api.url, Store(tmp_path / "s.db", cache=False))
        assert ocr.reader().calls == 0
    assert [e.verification.to_dict() for e in again] == \
        [e.verification.to_dict() for e in first]
    with ocr.remember_in(store):  # verify of the same image reads nothing either
        verify(pages[0], [{"Description": "Total", "Amount": "12.34"}])
    assert ocr.reader().calls == 0


def test_local_engine_reads_each_page_once(pages, fresh):
    async def go():
        return [e async for e in abatch(pages, model="local")]
    results = asyncio.run(go())
    assert all(e.ok for e in results)
    assert ocr.reader().calls == len(pages)


def test_a_killed_worker_is_replaced_and_the_batch_finishes(pages, tmp_path, fresh):
    reader = ocr.configure(2)
    paths = pages + [str(tmp_path / f"more{n}.png") for n in range(3)]
    for n, path in enumerate(paths[len(pages):]):
        render.grid(seed=60 + n).image.save(path)
    out = []

    def work():
        async def go():
            return [e async for e in abatch(paths, model="local")]
        out.extend(asyncio.run(go()))

    thread = threading.Thread(target=work)
    thread.start()
    deadline = time.monotonic() + 60
    while not reader.pool.pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(reader.pool.pids()[0], signal.SIGKILL)  # while it loads its models or reads
    thread.join(timeout=300)
    assert not thread.is_alive()
    assert len(out) == len(paths) and all(e.ok for e in out), [e.error for e in out]
    assert reader.pool.restarts >= 1
    assert sorted(json.dumps(e.records) for e in out) == sorted(
        json.dumps(e.records) for e in [*_local(paths)])


def _local(paths):
    ocr.configure(0)  # read in this process, for comparison

    async def go():
        return [e async for e in abatch(paths, model="local")]
    return asyncio.run(go())


def test_a_page_that_kills_its_worker_twice_fails_alone(fresh, monkeypatch):
    pool = ocr.Pool(1)
    worker_start = Worker._start

    def dying(self):
        proc = worker_start(self)
        proc.kill()  # dies before it answers
        return proc

    monkeypatch.setattr(Worker, "_start", dying)
    page = render.receipt(seed=3).image
    with pytest.raises(ocr.OcrError, match="died"):
        pool.submit(page).result(timeout=60)
    monkeypatch.setattr(Worker, "_start", worker_start)
    assert pool.submit(page).result(timeout=120).words  # the next page gets a new worker
    pool.shutdown()


def test_one_worker_gives_identical_results(pages, tmp_path, monkeypatch, fresh):
    outputs = []
    for n, option in enumerate((["--ocr-workers", "1"], ["--ocr-workers", "2"], [])):
        monkeypatch.setenv("PIXELPROOF_HOME", str(tmp_path / f"home{n}"))  # no stored reads
        if not option:
            monkeypatch.setenv("PIXELPROOF_OCR_WORKERS", "0")  # in this process
            ocr.configure()
        result = CliRunner().invoke(main, ["ocr", "--json", *option, *pages])
        assert result.exit_code == 0, result.output
        assert ocr.reader().calls == len(pages)
        outputs.append(json.loads(result.output))
    assert ocr.reader().pool.workers == 0
    assert outputs[0] == outputs[1] == outputs[2]
    assert all(page["words"] for page in outputs[0])


def test_a_worker_that_hangs_is_replaced_and_its_page_retried_once(fresh, tmp_path, monkeypatch):
    """A worker stopped (SIGSTOP) with a page on its way gives no answer: after the time limit
    it is killed and the page read by a new one; a page that hangs twice fails alone, named."""
    pool = ocr.Pool(1, seconds=3.0)
    ready = Worker._ready
    hang = []  # how many of the next pages find their worker stopped

    def stopped(self):
        ready(self)
        if hang:
            hang.pop()
            os.kill(self.proc.pid, signal.SIGSTOP)

    monkeypatch.setattr(Worker, "_ready", stopped)
    receipts = []
    for seed in (5, 6, 7):
        render.receipt(seed=seed).image.save(path := tmp_path / f"r{seed}.png")
        receipts.append(images.load(str(path))[0])
    hang.append(1)
    start = time.monotonic()
    assert pool.submit(receipts[0]).result(timeout=120).words
    assert pool.restarts == 1 and time.monotonic() - start >= 3.0
    hang.extend([1, 1])
    with pytest.raises(ocr.OcrError, match=r"r6\.png: the OCR worker took over 3 s reading "
                                           r"it, twice, and was stopped\. .*OCR_TIMEOUT"):
        pool.submit(receipts[1]).result(timeout=120)
    assert pool.submit(receipts[2]).result(timeout=120).words  # the next page is read
    assert pool.restarts == 3
    pool.shutdown()
