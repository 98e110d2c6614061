"""In a notebook: the sync API works inside the kernel's running event loop, and results show as
HTML with the image and its coloured boxes (a real ipykernel, run by nbclient)."""

import json

import pytest
import render
from fakeapi import FakeAPI
from render import data_of

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")



def test_extract_in_a_notebook_returns_data_and_shows_the_image_with_boxes(tmp_path):
    doc = render.receipt(13)
    png = tmp_path / "receipt.png"
    doc.image.save(png)
    data = data_of("receipt", doc)
    data["rows"][1]["amount"] = "16.84"  # printed 16.34
    with FakeAPI(lambda body: json.dumps(data["rows"])) as api:
        cells = [
            "import os, pixelproof\nos.environ['OPENAI_API_KEY'] = 'test'",
            f"result = pixelproof.extract({str(png)!r}, model='openai:gpt-4o-mini', "
            f"base_url={api.url!r})\nresult.records[1]['amount']",
            "result",
            "result.to_pandas()['amount_status'].tolist()",
        ]
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    outputs = [c.outputs for c in nb.cells]
    assert outputs[1][0]["data"]["text/plain"] == "'16.84'"
    view = outputs[2][0]["data"]["text/html"]
    assert '<img src="data:image/png;base64,' in view
    assert 'data-path="[1].amount" data-status="contradicted"' in view
    assert "http" not in view  # self-contained: nothing fetched
    assert json.loads(outputs[3][0]["data"]["text/plain"].replace("'", '"')) == [
        "verified", "contradicted", "verified", "verified"]


def test_an_offline_result_shows_the_page_with_a_box_where_each_value_was_read(tmp_path):
    doc = render.receipt(3)
    png = tmp_path / "receipt.png"
    doc.image.save(png)
    schema = {"type": "object", "properties": {"total": {"type": "number"},
                                               "receipt_no": {"type": "string"}}}
    cells = [f"import pixelproof\nresult = pixelproof.extract({str(png)!r}, {schema!r}, "
             "model='local')\nresult.data", "result"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    data = eval(nb.cells[0].outputs[0]["data"]["text/plain"])  # noqa: S307 (our own repr)
    assert data == {"total": float(doc.values["Total"].replace(",", "")),
                    "receipt_no": doc.values["Receipt No"]}
    view = nb.cells[1].outputs[0]["data"]["text/html"]
    assert '<img src="data:image/png;base64,' in view
    for path in ("total", "receipt_no"):
        assert f'data-path="{path}" data-status="read"' in view
    assert "http" not in view
