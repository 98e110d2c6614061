"""The local engine on rendered documents with known text, clean and degraded."""

import hashlib
import threading
from functools import cache
from importlib import resources

import pytest
import render
from PIL import Image

from pixelproof import ocr, tables
from pixelproof.errors import InputError


def test_default_models_ship_in_the_installed_package():
    """RapidOCR's default det/cls/rec models, resolved by its own model table, are in the
    installed wheel with the published checksums: an upgrade that stops bundling them (and
    would download them at run time) fails here."""
    from rapidocr.inference_engine.base import FileInfo, InferSession
    from rapidocr.main import DEFAULT_CFG_PATH
    from rapidocr.utils.parse_parameters import ParseParams

    cfg = ParseParams.load(DEFAULT_CFG_PATH)
    models = resources.files("rapidocr") / "models"
    for task in ("Det", "Cls", "Rec"):
        c = cfg[task]
        info = InferSession.get_model_url(FileInfo(
            engine_type=c.engine_type, ocr_version=c.ocr_version, task_type=c.task_type,
            lang_type=c.lang_type, model_type=c.model_type))
        path = models / info["model_dir"].rsplit("/", 1)[-1]
        assert path.name.endswith(".onnx")
        assert path.is_file(), f"rapidocr no longer ships its default {task} model {path.name}"
        data = path.read_bytes()
        assert len(data) > 100_000, f"{path.name} is empty or truncated"
        assert hashlib.sha256(data).hexdigest() == info["SHA256"], f"{path.name} checksum"


def test_engine_is_created_once_even_across_threads():
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(ocr.engine())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(e) for e in seen + [ocr.engine()]}) == 1


@cache
def clean(make, seed=7):
    doc = make(seed=seed)
    return doc, ocr.read(doc.image)


@pytest.mark.parametrize("degrade", list(render.DEGRADATIONS))
@pytest.mark.parametrize("make", [render.statement, render.receipt], ids=["statement", "receipt"])
def test_text_and_table_survive_degradation(make, degrade):
    doc = make(seed=7)
    read = clean(make)[1] if degrade == "clean" else ocr.read(
        render.DEGRADATIONS[degrade](doc.image))
    assert render.cer(doc.text, read.text) < 0.02
    (table,) = tables.find_tables(read)
    assert list(table.header) == doc.header
    assert len(table.rows) == len(doc.rows)
    cells = [(a, b) for want, got in zip(doc.rows, table.rows, strict=True)
             for a, b in zip(want, got, strict=True)]
    assert sum(a == b for a, b in cells) / len(cells) >= 0.95


def test_noisy_invoice_reads():
    doc = render.invoice(seed=4)
    read = ocr.read(render.noise(doc.image))
    assert render.cer(doc.text, read.text) < 0.03


def test_sidebar_is_read_before_the_main_pane():
    """Reading order: columns first. The sidebar's lines share no baseline with the main
    pane's, so they are not glued onto its lines; the members table stays one table."""
    doc = render.screenshot(seed=2)
    read = ocr.read(render.rotate(doc.image, 1))
    assert read.text.splitlines()[:6] == doc.lines[:6]
    assert render.cer(doc.text, read.text) < 0.02
    (table,) = tables.find_tables(read)
    assert (list(table.header), [list(r) for r in table.rows]) == (doc.header, doc.rows)


def test_words_have_confidences_and_split_at_wide_gaps():
    doc, read = clean(render.statement)
    assert all(0.5 <= w.confidence <= 1 for w in read.words)
    first = doc.rows[0]
    line = next(ln for ln in read.lines if ln[0].text == first[0])
    assert [w.text for w in line][-1] == first[-1]  # the balance is its own word


def test_boxes_are_in_original_pixels_and_match_the_truth():
    doc, read = clean(render.receipt)
    small = ocr.read(render.scale(doc.image, 0.5))
    for label in ("Subtotal", "Total"):
        want = doc.boxes[label]
        big = next(w.box for w in read.words if w.text == doc.values[label])
        little = next(w.box for w in small.words if w.text == doc.values[label])
        # x hugs the ink; y carries the detector's padding around the glyphs
        assert abs(big[0] - want[0]) < 8 and abs(big[2] - want[2]) < 8, (big, want)
        assert big[1] <= want[1] < want[3] <= big[3] < want[3] + 14, (big, want)
        assert all(abs(a / 2 - b) < 6 for a, b in zip(big, little, strict=True))


def test_large_and_tiny_pages():
    doc, _ = clean(render.invoice)
    big = ocr.read(render.scale(doc.image, 2))  # 2480 px wide: detection runs downscaled
    assert (big.width, big.height) == (2 * doc.image.width, 2 * doc.image.height)
    assert render.cer(doc.text, big.text) < 0.02
    receipt, _ = clean(render.receipt)
    tiny = ocr.read(render.scale(receipt.image, 0.4))  # glyphs about 8 px tall
    assert render.cer(receipt.text, tiny.text) < 0.05


def test_small_text_on_a_big_page_gets_a_second_closer_look():
    """An app screen at 1x (glyphs 10-14 px) on a 2560x1440 desktop: the first look, scaled
    down, finds text too small to trust and the detector looks again closer; a page of
    ordinary text is read from the first look."""
    doc = render.screenshot(seed=7)
    desktop = Image.new("RGB", (2560, 1440), "#e9ecf1")
    desktop.paste(doc.image, (0, 0))
    engine = ocr.RapidEngine()
    read = engine.read(desktop)
    assert engine.looks == [0, 1]
    assert render.cer(doc.text, read.text) < 0.005, read.text
    want = doc.boxes["Seats"]
    box = next(w.box for w in read.words if w.text == doc.values["Seats"])
    assert abs(box[0] - want[0]) < 6 and abs(box[2] - want[2]) < 6, (box, want)
    engine.read(render.statement(seed=7).image)
    assert engine.looks == [1, 1]


@pytest.mark.parametrize("make", [render.statement, render.invoice], ids=["statement", "invoice"])
def test_key_values_match_the_truth_and_skip_table_rows(make):
    doc, read = clean(make)
    pairs = {k: (v, box) for k, v, box in tables.key_values(read)}
    assert {k: v for k, (v, _) in pairs.items()} == doc.values
    for label, (_, box) in pairs.items():
        want = doc.boxes[label]
        assert abs(box[0] - want[0]) < 8 and abs(box[2] - want[2]) < 8, (label, box, want)


def test_blank_page_and_paths(tmp_path):
    assert ocr.read(Image.new("RGB", (300, 200), "white")).words == ()
    doc, read = clean(render.receipt)
    doc.image.save(tmp_path / "r.png")
    assert ocr.read(tmp_path / "r.png").text == read.text
    (tmp_path / "x.png").write_text("not an image")
    with pytest.raises(InputError):
        ocr.read(str(tmp_path / "x.png"))
