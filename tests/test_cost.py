"""Token formulas against each provider's documented worked examples, prices and the budget."""

import asyncio
import json
import random
import re
import threading
from decimal import Decimal

import pytest
import render
from fakeapi import FakeAPI, Reply, completion
from PIL import Image as PILImage
from test_cli_describe import cli

import pixelproof
from pixelproof import cost, images
from pixelproof.errors import BudgetError, ConfigError
from pixelproof.types import Usage


@pytest.mark.parametrize(("model", "w", "h", "detail", "tokens"), [
    # OpenAI tile models (images-vision guide, "calculating costs")
    ("openai:gpt-4o", 1024, 1024, "high", 765),
    ("openai:gpt-4o", 2048, 4096, "high", 1105),
    ("openai:gpt-4o", 4096, 8192, "low", 85),
    ("gpt-4.1", 1024, 1024, "high", 765),
    ("openai:gpt-4o-2024-08-06", 1024, 1024, "high", 765),
    ("openai:gpt-4o-mini", 1024, 1024, "high", 2833 + 4 * 5667),
    ("openai:gpt-4o-mini", 1024, 1024, "low", 2833),
    ("openai:o3", 512, 512, "high", 75 + 150),
    ("openai:gpt-5", 1024, 1024, "high", 70 + 4 * 140),
    # OpenAI patch models: 1024x1024 is 1024 patches; 1800x2400 scales to 1452 patches
    ("openai:gpt-4.1-mini", 1024, 1024, "high", 1659),   # ceil(1024 x 1.62)
    ("openai:gpt-4.1-mini", 1800, 2400, "high", 2353),   # ceil(1452 x 1.62)
    ("openai:gpt-4.1-nano", 1024, 1024, "high", 2520),   # ceil(1024 x 2.46)
    ("openai:o4-mini", 1800, 2400, "high", 2498),        # ceil(1452 x 1.72)
    ("openai:gpt-5-mini", 1024, 1024, "auto", 1659),
    # Anthropic: about w x h / 750 after fitting 1568 px and ~1.15 MP
    ("anthropic:claude-sonnet-4-5", 200, 200, "auto", 54),
    ("anthropic:claude-sonnet-4-5", 1000, 1000, "auto", 1334),
    ("anthropic:claude-sonnet-4-5", 1092, 1092, "auto", 1590),
    ("anthropic:claude-haiku-4-5-20251001", 2184, 2184, "auto", 1590),
    # Gemini: 258 up to 384x384, else 258 per 768 px tile
    ("gemini:gemini-2.5-flash", 384, 384, "auto", 258),
    ("gemini:gemini-2.5-flash", 1024, 1024, "auto", 4 * 258),
    ("local", 5000, 5000, "auto", 0),
])
def test_documented_examples(model, w, h, detail, tokens):
    assert cost.image_tokens(model, w, h, detail) == tokens


def test_patch_resize_matches_the_documented_size():
    assert cost.sent_size("openai:gpt-4.1-mini", 1800, 2400) == (1056, 1408)  # 33 x 44 = 1452
    assert cost.sent_size("openai:gpt-4o", 2048, 4096) == (768, 1536)
    assert cost.sent_size("openai:gpt-4o", 4096, 8192, "low") == (256, 512)  # aspect kept
    assert cost.image_tokens("openai:gpt-4.1-nano", 9000, 9000) <= 1536 * 2.46


@pytest.mark.parametrize(("w", "h"), [(1092, 1092), (951, 1268), (896, 1344), (819, 1456),
                                      (784, 1568), (1568, 784)])
def test_claude_sends_the_documented_largest_sizes_unscaled(w, h):
    model = "anthropic:claude-sonnet-4-5"
    assert cost.sent_size(model, w, h) == (w, h)
    assert cost.image_tokens(model, w, h) == -(-w * h // 750)
    bigger = cost.sent_size(model, w * 3, h * 3)  # scaled back to (about) the same size
    assert abs(bigger[0] - w) <= 2 and abs(bigger[1] - h) <= 2


@pytest.mark.parametrize(("model", "tokens"), [
    ("gemini:gemini-3-pro-preview", 1120), ("gemini:gemini-1.5-pro", 258),
    ("gemini:gemini-2.0-flash", 258 * 6), ("anthropic:claude-opus-4-7", None),
    ("gemini:gemini-flash-latest", None), ("openai:gpt-5.1", None), ("local", 0)])
def test_families_beyond_the_worked_examples(model, tokens):
    assert cost.image_tokens(model, 1500, 2000) == tokens


@pytest.mark.parametrize("model", ["ollama:llava", "openai:my-finetune",
                                   "openrouter:qwen/qwen2-vl"])
def test_unknown_is_none_never_zero(model):
    assert cost.image_tokens(model, 1000, 1000) is None
    assert cost.cost_of(model, Usage(1000, 100)) is None


def test_prices_are_decimal_and_cached_tokens_cheaper(tmp_path):
    usage = Usage(input_tokens=1_000_000, output_tokens=100_000, cached_tokens=400_000)
    assert cost.cost_of("openai:gpt-4o", usage) == Decimal("0.60") * Decimal("2.50") \
        + Decimal("0.40") * Decimal("1.25") + Decimal("0.10") * Decimal("10.00")
    assert cost.cost_of("openai:gpt-4o", Usage(1_000_000), batch=True) == Decimal("1.25")
    assert cost.cost_of("local", usage) == 0
    custom = tmp_path / "prices.json"
    custom.write_text(json.dumps({"models": {"ollama:llava": {
        "input": "1", "cached_input": "1", "output": "2", "batch_input": "1",
        "batch_output": "1"}}}))
    prices = cost.load_prices(custom)
    assert cost.cost_of("ollama:llava", Usage(1_000_000, 1_000_000), prices=prices) == 3
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ConfigError, match="bad.json"):
        cost.load_prices(bad)
    bad.write_text(json.dumps({"models": {"openai:gpt-4o": {"input": "1"}}}))
    with pytest.raises(ConfigError, match="no 'output' price|no 'cached_input' price"):
        cost.load_prices(bad)
    bad.write_text(json.dumps({"models": {"openai:gpt-4o": dict.fromkeys(cost.PRICE_FIELDS,
                                                                       "two")}}))
    with pytest.raises(ConfigError, match="cannot read"):
        cost.load_prices(bad)


def test_bundled_prices_are_complete_and_dated():
    table = cost.load_prices()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", table["date"])
    for model, entry in table["models"].items():
        prices = {k: Decimal(entry[k]) for k in cost.PRICE_FIELDS}
        assert prices["batch_input"] == prices["input"] / 2, model
        assert prices["cached_input"] <= prices["input"], model
        assert set(entry) <= {*cost.PRICE_FIELDS, "unverified"}, model
    # a dated id and a router's id are priced as the family they belong to
    assert cost.price("anthropic:claude-3-5-haiku-20241022")["output"] == Decimal("4.00")
    assert cost.price("openrouter:openai/gpt-4o") == cost.price("openai:gpt-4o")
    assert cost.cost_of("openai:o1", Usage(1000, 1000)) == Decimal("0.075")


def test_estimate_prices_each_image_and_the_answer_allowance(tmp_path):
    loaded = images.load(_png(PILImage.new("RGB", (1024, 1024), "white"), tmp_path, "w.png"))
    est = cost.estimate(loaded * 2, "openai:gpt-4o", "x" * 40, "high", max_tokens=100)
    assert [i.tokens for i in est.images] == [765, 765]
    assert [i.cost for i in est.images] == [Decimal("0.0019125")] * 2
    assert est.text_tokens == 10 and est.input_tokens == 1540
    assert est.input_cost == Decimal("0.00385")
    assert est.cost == est.input_cost + 100 * Decimal("10.00") / 1_000_000
    table = cost.render_estimate(est)
    assert table.count("765") == 2 and "$0.001912" in table and "$0.004850 at most" in table
    unknown = cost.render_estimate(cost.estimate(loaded, "ollama:llava", "hi"))
    assert "unknown" in unknown.splitlines()[1] and "$" not in unknown


def test_budget_never_overshoots_under_concurrency():
    budget = cost.Budget("1.00")
    rnd = random.Random(4)

    async def request() -> None:
        for _ in range(20):
            ceiling = Decimal(rnd.randint(1, 90)) / 1000
            try:
                held = budget.reserve(ceiling)
            except BudgetError:
                return
            await asyncio.sleep(rnd.random() / 1000)
            budget.settle(held, ceiling * Decimal(rnd.random()))  # real cost <= ceiling
            assert budget.spent + budget.reserved <= budget.max_cost

    async def main() -> None:
        await asyncio.gather(*(request() for _ in range(16)))

    asyncio.run(main())
    assert Decimal("0.9") < budget.spent <= Decimal("1.00")
    assert budget.reserved == 0
    with pytest.raises(BudgetError, match=r"Raise max_cost= to go on"):
        budget.reserve(Decimal("0.2"))


def test_budget_settles_each_reservation_once_and_keeps_unknown_as_spent():
    budget = cost.Budget("0.10")
    held = budget.reserve(Decimal("0.04"))
    budget.settle(held, None)  # unknown: the whole reservation counts as spent
    assert (budget.spent, budget.reserved) == (Decimal("0.04"), 0)
    with pytest.raises(BudgetError, match="already settled"):
        budget.settle(held, Decimal("0.01"))
    with pytest.raises(BudgetError, match="unknown"):
        budget.reserve(None)
    with pytest.raises(BudgetError, match="negative"):
        budget.reserve(Decimal("-1"))
    same = [budget.reserve(Decimal("0.01")), budget.reserve(Decimal("0.01"))]
    budget.settle(same[0], Decimal("0.01"))
    budget.settle(same[1], Decimal("0.005"))  # equal amounts are still two reservations
    assert budget.spent == Decimal("0.055") and budget.reserved == 0


def test_budget_never_overshoots_under_16_threads():
    budget = cost.Budget("0.50")
    rnd = random.Random(9)
    amounts = [Decimal(rnd.randint(1, 40)) / 1000 for _ in range(400)]

    def work(share):
        for amount in share:
            try:
                held = budget.reserve(amount)
            except BudgetError:
                continue
            assert budget.spent + budget.reserved <= budget.max_cost
            budget.settle(held, amount * Decimal(rnd.random()))

    threads = [threading.Thread(target=work, args=(amounts[n::16],)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 0 < budget.spent <= budget.max_cost and budget.reserved == 0


def _png(im, tmp_path, name):
    path = tmp_path / name
    im.save(path)
    return str(path)


def test_auto_detail_halves_document_tokens_and_keeps_text(tmp_path):
    doc = render.statement(seed=5)
    (image,) = images.load(_png(doc.image, tmp_path, "s.png"))
    plan = cost.choose_detail(image, "openai:gpt-4o", "extract", "extract")
    assert plan.detail == "high" and plan.tokens <= plan.full_tokens / 2
    from pixelproof import ocr
    small = ocr.read(images.resize(image, *plan.size)).text
    assert render.cer(doc.text, small) < 0.01
    # a patch model could go far smaller for OCR's sake; the median word stays 14 px tall
    words = sorted(w.box[3] - w.box[1] for w in ocr.read(image).words)
    mini = cost.choose_detail(image, "openai:gpt-4.1-mini", "extract", "extract")
    assert mini.tokens < mini.full_tokens / 2
    assert words[len(words) // 2] * mini.size[0] / image.width >= cost.MIN_TEXT_PX


def test_auto_detail_low_for_small_images_and_scene_questions(tmp_path):
    (small,) = images.load(_png(render.scale(render.receipt(1).image, 0.6), tmp_path, "r.png"))
    assert cost.choose_detail(small, "openai:gpt-4o", "extract", "extract").detail == "low"
    (big,) = images.load(_png(render.statement(1).image, tmp_path, "b.png"))
    assert cost.choose_detail(big, "openai:gpt-4o", "What mood does this picture have?",
                     "describe").detail == "low"
    assert cost.choose_detail(big, "ollama:llava", "extract", "extract").detail == "auto"


def test_cost_command_table(tmp_path):
    path = _png(render.receipt(2).image, tmp_path, "r.png")
    run = cli("cost", path, path, "-m", "openai:gpt-4o", "--detail", "high")
    assert run.returncode == 0, run.stderr
    rows = [line.split() for line in run.stdout.splitlines() if "r.png" in line]
    size = PILImage.open(path).size
    tokens = cost.image_tokens("openai:gpt-4o", *size, "high")
    sent = "x".join(map(str, cost.sent_size("openai:gpt-4o", *size, "high")))
    assert rows == [[path, f"{size[0]}x{size[1]}", sent, str(tokens),
                     f"${tokens * Decimal('2.50') / 1_000_000:.6f}"]] * 2
    assert "total:" in run.stdout and "prices of 2025-11-01" in run.stdout
    unknown = cli("cost", path, "-m", "ollama:llava")
    assert unknown.returncode == 0 and "unknown" in unknown.stdout
    prices = tmp_path / "p.json"
    prices.write_text(json.dumps({"date": "2030-01-01", "models": {"openai:gpt-4o": dict(
        input="1000000", cached_input="0", output="0", batch_input="0", batch_output="0")}}))
    custom = cli("cost", path, "-m", "openai:gpt-4o", "--detail", "low", "--price-file",
                 str(prices))
    assert custom.returncode == 0, custom.stderr
    assert f"{'$85.000000':>10}" in custom.stdout and "prices of 2030-01-01" in custom.stdout


def test_max_cost_under_concurrency_16_never_spends_more_than_the_cap(tmp_path):
    paths = []
    for n in range(40):
        path = tmp_path / f"{n}.png"
        PILImage.new("RGB", (300, 200), (n, 100, 200)).save(path)
        paths.append(str(path))
    rnd = random.Random(1)
    billed = []

    def answer(body):
        out = rnd.randint(1, body["max_tokens"])  # never past the cap the request set
        billed.append(cost.cost_of("openai:gpt-4o-mini", Usage(2833 + 120, out)))
        return Reply(body=completion("| a |\n|---|\n| 1 |", prompt_tokens=2833 + 120,
                                     completion_tokens=out))

    cap = Decimal("0.006")
    with FakeAPI(answer=answer, latency=0.02) as api:
        result = pixelproof.extract(paths, model="openai:gpt-4o-mini", base_url=api.url,
                                    concurrency=16, max_tokens=500, budget=cost.Budget(cap),
                                    verify=False, detail="low")  # no OCR: what is paid counts
    assert 0 < len(billed) < 40
    assert sum(billed) <= cap
    assert sum(i.cost for i in result.items if i.ok) == sum(billed)
    assert result.failed and all("past max_cost=" in i.error for i in result.failed)


def test_over_estimate_refuses_to_start_and_dry_run_sends_nothing(tmp_path):
    path = tmp_path / "big.png"
    render.statement(2).image.save(path)
    with FakeAPI() as api:
        over = cli("extract", str(path), str(path), "-m", "openai:gpt-4o", "--base-url", api.url,
                   "--max-cost", "0.001")
        dry = cli("describe", str(path), "-m", "openai:gpt-4o", "--base-url", api.url,
                  "--dry-run")
    assert over.returncode == 1 and "over --max-cost" in over.stderr
    assert dry.returncode == 0 and "total:" in dry.stdout and "$" in dry.stdout
    assert api.requests == []


def test_auto_detail_sends_the_smaller_image_and_reports_the_saving(tmp_path):
    import base64
    import io
    path = tmp_path / "statement.png"
    render.statement(6).image.save(path)
    with FakeAPI(answer=lambda body: "| a |\n|---|\n| 1 |") as api:
        r = cli("extract", str(path), "-m", "openai:gpt-4o", "--base-url", api.url,
                "--no-verify")
    assert r.returncode == 0, r.stderr
    assert "--detail auto saved" in r.stderr
    part = api.requests[0]["messages"][0]["content"][1]["image_url"]
    sent = PILImage.open(io.BytesIO(base64.b64decode(part["url"].split(",", 1)[1])))
    assert part["detail"] == "high" and sent.width < 1240
    assert cost.image_tokens("openai:gpt-4o", *sent.size, "high") <= \
        cost.image_tokens("openai:gpt-4o", 1240, PILImage.open(path).height, "high") / 2
