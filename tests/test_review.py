"""Review without a browser: corrections in the run store, the JSON API the page uses, the
guard on every request, and `runs export` carrying the review."""

import json
import shutil
import warnings

import pytest
import reviewrun
from click.testing import CliRunner
from clirun import cli
from fakeapi import FakeAPI

from pixelproof.cli import main
from pixelproof.corrections import Review, corrected, parts
from pixelproof.errors import ConfigError
from pixelproof.store import Store

fastapi = pytest.importorskip("fastapi")
with warnings.catch_warnings():  # starlette's note on httpx
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from pixelproof.web.app import review_app  # noqa: E402


@pytest.fixture(scope="module")
def made_run(tmp_path_factory):
    """A run 'R' of the two receipts, in a store that each test copies."""
    folder = tmp_path_factory.mktemp("review")
    made = reviewrun.make(folder)
    env = {"PATH": "/usr/bin:/bin", "PIXELPROOF_HOME": str(folder / "home"),
           "OPENAI_API_KEY": "test"}
    with FakeAPI(reviewrun.answer(made)) as api:
        reviewrun.extract(made, api.url, "R", env)
    return made, folder / "home" / "pixelproof.db"


@pytest.fixture
def store(made_run, tmp_path, monkeypatch):
    made, db = made_run
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    shutil.copy(db, home / "pixelproof.db")
    monkeypatch.setenv("PIXELPROOF_HOME", str(home))
    with Store(home / "pixelproof.db") as s:
        yield s


def test_paths_and_corrected_data():
    assert parts("rows[2].unit price") == ["rows", 2, "unit price"]
    assert parts("[0].amount") == [0, "amount"] and parts("") == []
    data = {"rows": [{"a": 1}, {"a": 2}, {"a": 3}], "total": 6}
    store_like = [type("C", (), {"path": p, "action": a, "value": v})()
                  for p, a, v in [("rows[0]", "delete", None), ("rows[2].a", "set", 4),
                                  ("rows", "add", {"a": 5}), ("total", "accept", None)]]
    assert corrected(data, store_like) == {"rows": [{"a": 2}, {"a": 4}, {"a": 5}], "total": 6}
    assert data["rows"][0] == {"a": 1}  # the original is left as it was


def test_queue_opens_on_the_worst_item_and_shows_the_wrong_value(store):
    review = Review(store, "R")
    queue = review.queue()
    assert [i["label"].rsplit("/", 1)[1] for i in queue["items"]] == ["bad.png", "clean.png"]
    assert queue["total"] == 2 and queue["flagged"] == 1 and queue["reviewed"] == 0
    bad = review.item(queue["items"][0]["index"])
    flagged = {v["path"]: v for v in bad["values"] if v["status"] != "verified"}
    assert flagged["rows[1].amount"]["status"] == "contradicted"
    assert flagged["rows[1].amount"]["value"] == reviewrun.WRONG
    assert flagged["rows[1].amount"]["ocr_text"] == "16.34"
    assert {p for p in flagged if p.startswith("rows[4]")} == {
        f"rows[4].{k}" for k in reviewrun.INVENTED}
    assert any("rows[1].amount" in a["paths"] for a in bad["arithmetic"])


def test_corrections_are_typed_kept_undone_and_exported(store):
    review = Review(store, "R")
    bad = review.queue()["items"][0]["index"]
    with pytest.raises(ConfigError, match="is not a number; type digits"):
        review.correct(bad, "rows[1].amount", "set", "16.3x")
    with pytest.raises(ConfigError, match="is not a date; type it YYYY-MM-DD"):
        review.correct(bad, "date", "set", "31/02/2024")
    with pytest.raises(ConfigError, match="no value at 'rows\\[9\\].amount'"):
        review.correct(bad, "rows[9].amount", "set", "1")
    kept = review.correct(bad, "rows[1].amount", "set", "16.34")
    assert (kept.original, kept.value, kept.status) == (reviewrun.WRONG, 16.34, "contradicted")
    assert kept.at
    review.correct(bad, "total", "set", "1")
    assert review.undo(bad).path == "total"  # the last one is taken back
    review.correct(bad, "rows[4]", "delete")
    assert review.queue()["reviewed"] == 1  # every flagged value decided on
    item = review.item(bad)
    assert {v["path"]: v["review"] for v in item["values"]}["rows[4].item"] == "deleted"
    r = cli("runs", "export", "R", "-f", "json")
    assert r.returncode == 0, r.stderr
    records = json.loads(r.stdout)["records"]
    assert [r["reviewed"] for r in records] == [False, True]
    fixed = next(r for r in records if r["source"].endswith("bad.png"))
    assert fixed["rows"] == reviewrun.typed(reviewrun.data_of("receipt", reviewrun.render
                                                              .receipt(13)))["rows"]


def test_json_api_the_page_uses(store):
    api = TestClient(review_app(store, "R"), base_url="http://127.0.0.1")
    queue = api.get("/api/runs/R/items").json()
    bad = queue["items"][0]["index"]
    refused = api.post(f"/api/runs/R/items/{bad}/corrections",
                       json={"path": "rows[1].qty", "value": "2.5"})
    assert refused.status_code == 422 and "is not an integer" in refused.json()["detail"]
    done = api.post(f"/api/runs/R/items/{bad}/corrections",
                    json={"path": "rows[1].amount", "value": 16.34})
    assert done.status_code == 200
    again = api.get(f"/api/runs/R/items/{bad}").json()  # as a reload sees it
    value = next(v for v in again["values"] if v["path"] == "rows[1].amount")
    assert (value["value"], value["review"], value["original"]) == (16.34, "edited", 16.84)
    api.post(f"/api/runs/R/items/{bad}/corrections", json={"path": "rows[4]",
                                                           "action": "delete"})
    added = api.post(f"/api/runs/R/items/{bad}/corrections",
                     json={"path": "rows", "action": "add", "value": {"item": "Tea"}}).json()
    assert {"path": "rows[5].item", "value": "Tea", "review": "added"}.items() <= next(
        v for v in added["values"] if v["path"] == "rows[5].item").items()
    undone = api.post(f"/api/runs/R/items/{bad}/corrections", json={"action": "undo"}).json()
    assert not any(v["path"].startswith("rows[5]") for v in undone["values"])
    assert api.get("/api/runs/R/items/7").status_code == 422
    assert api.get("/api/runs/nope/items").status_code == 404
    image = api.get(f"/api/runs/R/items/{bad}/image")
    assert image.headers["content-type"] == "image/png" and image.content[:4] == b"\x89PNG"
    page = api.get("/runs/R")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "http" not in page.text.replace('href="/static', "")


def test_every_request_needs_the_token_when_one_is_set(store):
    api = TestClient(review_app(store, "R", token="s3cret"), base_url="http://127.0.0.1")
    for url in ("/runs/R", "/api/runs/R/items", "/static/review.js"):
        assert api.get(url).status_code == 401
    assert api.get("/api/runs/R/items", headers={"Authorization": "Bearer nope"}).status_code \
        == 401
    assert api.get("/runs/R?token=s3cret").status_code == 200  # sets the cookie
    assert api.get("/api/runs/R/items").status_code == 200
    open_api = TestClient(review_app(store, "R"), base_url="http://evil.example")
    assert open_api.get("/api/runs/R/items").status_code == 403  # DNS rebinding


def test_golden_set_from_the_review_is_scored_by_eval(made_run, store, tmp_path):
    made, _ = made_run
    review = Review(store, "R")
    bad, clean = (i["index"] for i in review.queue()["items"])
    review.correct(bad, "rows[1].amount", "set", "16.34")
    review.correct(bad, "rows[4]", "delete")
    review.correct(clean, "", "accept")  # nothing flagged: looked at and accepted whole
    golden = tmp_path / "golden"
    r = cli("runs", "export", "R", "--golden", str(golden))
    assert r.returncode == 0 and "wrote 2 reviewed items" in r.stderr, r.stderr
    assert sorted(p.name for p in golden.iterdir()) == [
        "001-clean.json", "001-clean.png", "002-bad.json", "002-bad.png", "schema.json"]
    assert json.loads((golden / "002-bad.json").read_text()) == made.truth
    with FakeAPI(reviewrun.answer(made)) as api:  # the same answers, wrong values and all
        r = CliRunner().invoke(main, ["eval", str(golden), "-m", "openai:gpt-4o-mini",
                                      "--base-url", api.url, "--detail", "high"])
    assert r.exit_code == 0, r.output
    assert "  rows[].amount: 6/8 (75%)" in r.stdout  # 16.84, and the invented row
    assert "  002-bad.png: 20/25 (80%)" in r.stdout and "  001-clean.png: 17/17 (100%)" in r.stdout
    assert "verification flagged 5 of 5 wrong values, and 0 of 37 right ones" in r.stdout


def test_serve_opens_every_run_s_review_with_its_tokens(store):
    from pixelproof.web.app import create_app
    from pixelproof.web.service import Settings
    api = TestClient(create_app(Settings(tokens=("s3cret",))), base_url="http://127.0.0.1")
    assert api.get("/api/runs/R/items").status_code == 401
    assert api.get("/runs/R", headers={"Authorization": "Bearer nope"}).status_code == 401
    page = api.get("/runs/R?token=s3cret")  # sets the cookie the page's own requests carry
    assert page.status_code == 200 and "default-src 'none'" in page.headers[
        "content-security-policy"]
    assert api.get("/api/runs/R/items").json()["items"]
    bearer = TestClient(create_app(Settings(tokens=("s3cret",))), base_url="http://127.0.0.1")
    assert bearer.get("/api/runs/R/items", headers={"Authorization": "Bearer s3cret"}
                      ).status_code == 200
    open_api = TestClient(create_app(Settings()), base_url="http://evil.example")
    assert open_api.get("/api/runs/R/items").status_code == 403  # DNS rebinding
