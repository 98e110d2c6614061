"""The Ray executor on a real local cluster (``ray start --head`` with 2 CPUs, one for the
module; the tests' own driver joins it with ``ray.init``) against the local OpenAI-compatible
server: the same outputs as a local run, limits held across workers, workers and the driver
killed mid-run. Skipped without the ``ray`` extra (CI installs it)."""

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from fakeapi import FakeAPI
from PIL import Image, ImageDraw, ImageFont

from pixelproof import cost, ocr
from pixelproof.batch import RateLimiter, abatch
from pixelproof.http import Http
from pixelproof.store import Store
from pixelproof.types import Usage

MODEL = "openai:gpt-4o-mini"
RAY = Path(sys.executable).with_name("ray")


def test_a_local_run_never_imports_ray(tmp_path):
    page = tmp_path / "p.png"
    draw_page(page, 1)
    code = ("import sys; from click.testing import CliRunner; from pixelproof.cli import main; "
            f"r = CliRunner().invoke(main, ['extract', '-m', 'local', {str(page)!r}]); "
            "assert r.exit_code == 0, r.output; "
            "assert 'ray' not in sys.modules, 'ray was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def draw_page(path, n):
    """A small statement line: even pages total 12.50 (what the server answers), odd ones
    another amount, so verification differs page to page."""
    page = Image.new("RGB", (240, 160), "white")  # squarish: less to scale up for OCR
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=26)
    draw.text((14, 12), f"Invoice {100 + n}", fill="black", font=font)
    draw.text((14, 60), f"Total {'12.50' if n % 2 == 0 else f'{n}.75'}", fill="black",
              font=font)
    page.save(path)


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pages")
    for n in range(30):
        draw_page(folder / f"p{n:02d}.png", n)
    return folder


@pytest.fixture(scope="module")
def cluster():
    """A 2-CPU head node in its own processes on 127.0.0.1, stopped at the end. Token
    authentication on, with a token made for this cluster alone (this Ray does not make one):
    an explicit address needs RAY_AUTH_MODE=token."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_AUTH_MODE", "token")  # before Ray reads its configuration
        env.setenv("RAY_AUTH_TOKEN", secrets.token_hex(32))
        pytest.importorskip("ray")
        yield from _head(port)


def _head(port):
    """The head node's processes in a temp dir of their own, so that only they are stopped
    (``ray stop`` would stop every Ray process on the machine, a developer's own cluster too)."""
    temp = tempfile.mkdtemp(prefix="pp-ray-", dir="/tmp")  # short: Ray's sockets live in it
    subprocess.run([RAY, "start", "--head", "--num-cpus", "2", "--node-ip-address", "127.0.0.1",
                    "--port", str(port), "--include-dashboard", "false", "--temp-dir", temp,
                    "--disable-usage-stats"], check=True, capture_output=True, timeout=120)
    address = f"127.0.0.1:{port}"
    try:
        yield address
    finally:
        import ray
        ray.shutdown()
        for pid in _processes_of(temp, port):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)


def _processes_of(temp, port):
    """The processes whose command line names ``temp`` or the head's ``port`` (the cluster's
    own; its client server does not name the temp dir), and their children (workers and agents
    rename themselves "ray::...")."""
    parent, named = {}, set()
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit():
                parent[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1]
                                              .split()[1])
                line = (entry / "cmdline").read_bytes()
                if temp.encode() in line or re.search(rb"--address=[\w.]+:%d\b" % port, line):
                    named.add(int(entry.name))
    out, more = set(), named
    while more:
        out |= more
        more = {pid for pid, up in parent.items() if up in more} - out
    return out


@pytest.fixture
def driver(cluster):
    """This process joined to the cluster."""
    import ray

    from pixelproof.ray import connect
    connect(cluster)
    yield cluster
    ray.shutdown()


def page_id(body):
    """Which page a request is about: the sha256 of the image it carries (as sent)."""
    (url,) = [part["image_url"]["url"] for m in body["messages"] if isinstance(m["content"], list)
              for part in m["content"] if part.get("type") == "image_url"]
    return hashlib.sha256(base64.b64decode(url.split(",", 1)[1])).hexdigest()[:16]


class Counting:
    """Answers every page with a total of 12.50, counting the answers per page."""

    def __init__(self, usage=None):
        self.paid, self.times, self.lock = Counter(), [], threading.Lock()
        self.usage, self.last = usage, 0.0

    def __call__(self, body):
        with self.lock:
            self.paid[page_id(body)] += 1
            self.times.append(time.monotonic())
            self.last = time.monotonic()
        text = json.dumps([{"total": "12.50"}])
        if self.usage is None:
            return text
        from fakeapi import Reply, completion
        return Reply(body=completion(text, prompt_tokens=self.usage[0],
                                     completion_tokens=self.usage[1]))


def cli(*args, home):
    run = subprocess.run([sys.executable, "-m", "pixelproof", *map(str, args)],
                         capture_output=True, text=True, timeout=300, env={
                             **os.environ, "PIXELPROOF_HOME": str(home), "OPENAI_API_KEY": "sk-t"})
    assert run.returncode == 0, run.stderr
    return run


def test_the_cli_on_ray_writes_what_a_local_run_writes(cluster, pages, tmp_path):
    """30 pages on Ray, then locally in the same store with --no-cache (fresh answers, the
    pages' reads the Ray run stored): the same output, byte for byte. The OCR actors' reads
    are compared with local ones by ``ocr --json``."""
    outs = {}
    with FakeAPI(Counting()) as api:
        for how, extra in (("ray", ["--ray", "--ray-address", cluster]), ("local", [])):
            out = tmp_path / f"{how}.json"
            run = cli("extract", pages, "--fields", "total:number", "-m", MODEL, "--base-url",
                      api.url, "--run", how, "-o", out, "--no-cache", *extra, home=tmp_path)
            outs[how] = (out.read_bytes(), run.stderr.splitlines()[-1].replace(str(out), "OUT"))
            described = tmp_path / f"{how}.jsonl"
            cli("describe", "--each", *sorted(pages.glob("p0[0-3].png")), "-m", MODEL,
                "--base-url", api.url, "--no-cache", "-o", described, *extra, home=tmp_path)
            outs[how + " describe"] = sorted(described.read_text().splitlines())
            outs[how + " ocr"] = cli(  # one onnxruntime thread per read, as on an actor
                "ocr", "--json", pages / "p01.png", pages / "p02.png", "--ocr-workers",
                ocr.cores(), *extra, home=tmp_path / how).stdout
        assert sum(api.answer.paid.values()) == 2 * (30 + 4)  # each run asked every page
    assert outs["local"] == outs["ray"]
    assert outs["local describe"] == outs["ray describe"]
    assert json.loads(outs["local ocr"]) == json.loads(outs["ray ocr"])
    assert "Invoice" in outs["ray ocr"]
    records = json.loads(outs["ray"][0])
    assert len(records["records"]) == 30
    assert {v["verified"] for v in records["verification"]} == {0, 1}  # some pages disagree


def test_rpm_and_max_cost_hold_across_request_actors(driver, pages, tmp_path):
    from pixelproof.extract import build_request, prepare
    from pixelproof.images import load
    from pixelproof.ray import Executor

    paths = sorted(str(p) for p in pages.glob("*.png"))[:12]
    executor = Executor(driver, ocr_workers=2, askers=2)

    async def run(http, **options):
        return [e async for e in abatch(paths, task="describe", prompt="What total?",
                                        model=MODEL, base_url=api.url, http=http, detail="low",
                                        executor=executor, concurrency=12, **options)]

    counting = Counting()
    with FakeAPI(counting) as api:  # 4 in 2 seconds at most, over two request actors
        results = asyncio.run(run(Http(limiter=RateLimiter(rpm=4, window=2.0))))
    assert all(e.ok for e in results) and len(counting.times) == 12
    times = counting.times  # as they arrive: the first requests' lag shortens the window
    assert max(sum(t <= u < t + 1.5 for u in times) for t in times) <= 4
    assert times[-1] - times[0] >= 3.5

    # Each answer costs what its reservation held: 4.5 answers' worth pays for 4, not 2 x 4.
    request = prepare(build_request([load(paths[0])[0]], "What total?", model=MODEL,
                                    detail="low", max_tokens=20))[0]
    ceiling = cost.request_ceiling(request, 20)
    tokens = next(n for n in range(1, 10_000)
                  if cost.cost_of(MODEL, Usage(n, 20)) >= ceiling)
    each = cost.cost_of(MODEL, Usage(tokens, 20))
    counting = Counting(usage=(tokens, 20))
    with FakeAPI(counting) as api:
        budget = cost.Budget(each * Decimal("4.5"))
        results = asyncio.run(run(Http(), budget=budget, max_tokens=20))
    assert sum(counting.paid.values()) == 4
    assert sum(e.ok for e in results) == 4 and budget.spent == 4 * each <= budget.max_cost
    assert all("max_cost=" in e.error for e in results if not e.ok)


def test_a_worker_killed_mid_run_costs_a_retry_not_a_payment(driver, pages, tmp_path):
    import ray

    from pixelproof.ray import Executor

    paths = sorted(str(p) for p in pages.glob("*.png"))[:12]
    executor = Executor(driver, ocr_workers=2)
    counting = Counting()
    killed = []

    def kill_when_quiet():  # no request in flight: answers received, pages being read
        while len(killed) < 2:
            time.sleep(0.01)
            with counting.lock:
                if sum(counting.paid.values()) >= 4 and time.monotonic() - counting.last > 0.05:
                    for actor in (executor.running[0], executor.ocr_actors[0]):
                        pid = ray.get(actor.pid.remote())
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)

    store = Store(tmp_path / "s.db")
    with FakeAPI(counting) as api:
        watcher = threading.Thread(target=kill_when_quiet, daemon=True)
        watcher.start()

        async def run():
            return [e async for e in abatch(paths, fields="total:number", model=MODEL,
                                            base_url=api.url, run="k", store=store,
                                            executor=executor)]
        results = asyncio.run(run())
    assert len(killed) == 2
    assert len(results) == 12 and all(e.ok and e.verification for e in results)
    assert set(counting.paid.values()) == {1} and len(counting.paid) == 12  # none paid twice
    items = store.items("k")
    assert {i.status for i in items} == {"done"}
    assert any(i.attempts == 2 for i in items)  # the items on the killed worker: one retry


def test_a_driver_killed_mid_run_resumes_without_asking_done_items_again(cluster, pages,
                                                                          tmp_path):
    counting = Counting()
    args = ["extract", *sorted(pages.glob("p0*.png")), "--fields", "total:number", "-m", MODEL,
            "--run", "d", "-o", tmp_path / "out.json", "--ray", "--ray-address", cluster,
            "--concurrency", "2"]
    with FakeAPI(counting, latency=0.1) as api:
        args += ["--base-url", api.url]
        driver = subprocess.Popen([sys.executable, "-m", "pixelproof", *map(str, args)],
                                  env={**os.environ, "PIXELPROOF_HOME": str(tmp_path),
                                       "OPENAI_API_KEY": "sk-t"},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        store = Store(tmp_path / "pixelproof.db")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (
                not store.runs() or len(store.items("d", "done")) < 4):
            time.sleep(0.05)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        done = {i.key.rsplit("@", 1)[1] for i in store.items("d", "done")}
        assert 4 <= len(done) < 10
        cli(*args, home=tmp_path)
    assert len(json.loads((tmp_path / "out.json").read_text())["records"]) == 10
    assert {i.status for i in store.items("d")} == {"done"}
    assert all(counting.paid[key] == 1 for key in done)  # not asked again


def test_ray_data_images_to_records_with_verification(driver, pages, tmp_path):
    import ray

    import pixelproof.ray

    paths = sorted(str(p) for p in pages.glob("p0[0-3].png"))
    images = ray.data.read_images(paths, include_paths=True)
    given = ray.data.from_items([{"path": "first", "bytes": Path(paths[0]).read_bytes()},
                                 {"path": "junk", "bytes": b"not an image"}])
    with FakeAPI(Counting()) as api:
        rows = [row for data in (images, given) for row in pixelproof.ray.extract(
            data, fields="total:number", model=MODEL, base_url=api.url, workers=1).take_all()]
    got = {row["source"]: row for row in rows}
    assert [got[p]["verified"] for p in paths] == [1, 0, 1, 0]  # even pages say 12.50
    assert json.loads(got[paths[1]]["data"]) == [{"total": 12.5}]
    assert got[paths[1]]["contradicted"] + got[paths[1]]["unverified"] == 1
    assert got["first"]["ok"] and got["first"]["verified"] == 1
    assert not got["junk"]["ok"] and got["junk"]["error"]
