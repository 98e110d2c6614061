"""Make docs/review.png, the README's picture of `pixelproof review`: two receipts extracted
against the tests' local OpenAI-compatible server (one answer holds a wrong amount and an
invented row), served by the CLI and shot in Debian's Chromium.

    .venv/bin/python docs/screenshot.py
"""

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
import reviewrun  # noqa: E402
from fakeapi import FakeAPI  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from test_browser import ARGS, CHROMIUM, start, stop  # noqa: E402

OUT = Path(__file__).parent / "review.png"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        made = reviewrun.make(Path(tmp))
        env = {**os.environ, "PIXELPROOF_HOME": tmp, "OPENAI_API_KEY": "none"}
        with FakeAPI(reviewrun.answer(made)) as api:
            proc, url = start(reviewrun.extract_args(made, api.url, "receipts"), env)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 820})
                page.goto(url)
                page.wait_for_selector(".box")
                page.keyboard.press("j")  # the first flagged value: the contradicted amount
                page.hover('.box[data-status="contradicted"]')
                page.screenshot(path=str(OUT))
                browser.close()
        finally:
            stop(proc)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
