"""What a finished run says, the same for every face."""

from decimal import Decimal

from pixelproof import summary
from pixelproof.types import Extraction, Usage


def test_overlays_are_named_by_the_pattern_and_their_number():
    assert summary.overlay_path("boxes.png", 1, 1) == "boxes.png"
    assert [summary.overlay_path("out/boxes.png", n, 3) for n in (1, 3)] == [
        "out/boxes-1.png", "out/boxes-3.png"]
    assert summary.overlay_path("boxes", 2, 2) == "boxes-2.png"


def test_the_run_summary_keeps_an_unknown_cost_unknown():
    done = Extraction(source="a.png", data=[{"a": 1}], records=({"a": 1},),
                      usage=Usage(10, 2), cost=Decimal("0.5"))
    unknown = Extraction(source="b.png", data=[], records=(), usage=Usage(5, 1), cost=None)
    failed = Extraction(source="c.png", error="no")
    assert summary.run_summary([done, failed], skipped=1, wrote="out.csv") == (
        "1 of 2 images done (1 in an earlier attempt of the run), 1 failed, 1 records; "
        "10 in, 2 out tokens, cost $0.5000; wrote out.csv")
    assert "cost unknown" in summary.run_summary([done, unknown])
