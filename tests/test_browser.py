"""`pixelproof review` in real Chromium (Debian's /usr/bin/chromium, driven by Playwright), started
by the CLI as a user would: images extracted into a run against a local OpenAI-compatible
server whose answers hold planted errors, then reviewed with the keyboard."""

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import reviewrun
from fakeapi import FakeAPI

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium")
playwright = pytest.importorskip("playwright.sync_api")
pytest.importorskip("fastapi")

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """`pixelproof review ARGS --no-browser` on a free port; waits until it answers."""
    port = free_port()
    proc = subprocess.Popen([reviewrun.PIXELPROOF, "review", *args, "--no-browser", "--port",
                             str(port)], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read())
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("the review server did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The review of two receipts, extracted by `pixelproof review IMAGES --run R`."""
    folder = tmp_path_factory.mktemp("browser")
    made = reviewrun.make(folder)
    env = {**os.environ, "PIXELPROOF_HOME": str(folder / "home"), "OPENAI_API_KEY": "test"}
    with FakeAPI(reviewrun.answer(made)) as api:
        proc, url = start(reviewrun.extract_args(made, api.url, "R"), env)
    yield made, url, env
    stop(proc)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_review_with_the_keyboard_and_the_fix_is_kept(served, browser):
    made, url, env = served
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(url)
    page.wait_for_selector(".box")
    assert page.text_content("#title").endswith("bad.png")  # the worst item first

    red = page.locator('.box[data-status="contradicted"]')
    assert red.count() == 1 and red.get_attribute("data-path") == "rows[1].amount"
    left, top = (float(red.evaluate(f"b => b.style.{k}").rstrip("px")) for k in ("left", "top"))
    assert abs(left + 4 - 590) < 12 and abs(top + 4 - 330) < 12  # where 16.34 is printed
    assert page.locator('.box[data-status="verified"]').count() >= 15

    page.hover('#values tr[data-path="rows[0].price"]')
    assert "hl" in page.get_attribute('.box[data-path="rows[0].price"]', "class")
    page.click('.box[data-path="rows[2].item"]')
    assert "selected" in page.get_attribute('#values tr[data-path="rows[2].item"]', "class")

    page.keyboard.press("j")  # the first flagged value after the selection, round again
    selected = page.locator("#values tr.selected")
    assert selected.get_attribute("data-path") == "rows[4].item"
    page.keyboard.press("k")
    assert selected.get_attribute("data-path") == "rows[1].amount"
    page.keyboard.press("e")
    page.fill("#values input", "16.3x")
    page.keyboard.press("Enter")
    page.wait_for_selector("#message.error")
    assert "not a number" in page.text_content("#message")
    page.fill("#values input", "16.34")
    page.keyboard.press("Enter")
    page.wait_for_selector('#values tr[data-path="rows[1].amount"] td.review:has-text("edited")')
    assert page.locator("#values tr.selected").get_attribute("data-path") == "rows[4].item"
    page.keyboard.press("x")  # the invented row
    page.wait_for_selector('#values tr.deleted[data-path="rows[4].amount"]')
    page.wait_for_selector("#progress:has-text('1 of 2 reviewed')")

    page.reload()  # the corrections are in the store
    page.wait_for_selector('#values tr[data-path="rows[1].amount"] td.review:has-text("edited")')
    assert page.text_content('#values tr[data-path="rows[1].amount"] td.value') == "16.34"
    assert page.locator('.box[data-path="rows[4].item"]').count() == 0

    page.keyboard.press("n")
    page.wait_for_selector("#title:has-text('clean.png')")
    page.keyboard.press("p")
    page.wait_for_selector("#title:has-text('bad.png')")
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    page.screenshot(path=str(made.bad.parent / "review.png"))
    assert not [p for p in problems if "status of 422" not in p], problems  # 422: 16.3x

    out = subprocess.run([reviewrun.PIXELPROOF, "runs", "export", "R", "-f", "json"], env=env,
                         capture_output=True, text=True, check=True)
    records = {Path(r["source"]).name: r for r in json.loads(out.stdout)["records"]}
    assert records["bad.png"]["reviewed"] and not records["clean.png"]["reviewed"]
    assert records["bad.png"]["rows"] == made.truth["rows"]


def test_a_request_without_the_token_is_refused(served):
    made, _, env = served
    proc, url = start(["R", "--token", "s3cret"], env)
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/api/runs/R/items")
        assert refused.value.code == 401
        with urllib.request.urlopen(f"{url}/api/runs/R/items?token=s3cret") as ok:
            assert json.load(ok)["total"] == 2
    finally:
        stop(proc)
