"""The committed notebooks are small and carry no volatile metadata (issue 11).

nbval (run on the notebooks themselves, see pyproject.toml) checks their outputs; these tests
check the files: under 1 MB each, and nothing that changes on every run (execution timestamps,
random cell ids, widget state), so that a diff shows only what changed.
"""

import json

import pytest

from tools.clean_notebooks import NOTEBOOKS, clean, cleaned_text

MAX_BYTES = 1_000_000


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks/*.ipynb found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_under_one_megabyte(path):
    size = path.stat().st_size
    assert size < MAX_BYTES, f"{path.name} is {size:,} bytes; lower the figure dpi or show fewer panels"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_no_execution_timestamps(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    stamped = [i for i, cell in enumerate(nb["cells"]) if {"execution", "ExecuteTime"} & set(cell.get("metadata", {}))]
    assert not stamped, f"{path.name}: cells {stamped} carry execution timestamps; run python tools/clean_notebooks.py"
    assert "widgets" not in nb["metadata"], f"{path.name} stores widget state; run python tools/clean_notebooks.py"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean(path):
    text, cleaned = cleaned_text(path)
    assert text == cleaned, f"{path.name} has volatile metadata; run python tools/clean_notebooks.py"


def test_cleaning_removes_timestamps_and_keeps_outputs(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(1)", execution_count=3)
    cell.metadata["execution"] = {"iopub.execute_input": "2026-11-26T17:56:50.557424Z"}
    cell.metadata["tags"] = ["parameters"]
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nb.cells = [cell]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    path = tmp_path / "dirty.ipynb"
    path.write_text(nbformat.writes(nb), encoding="utf-8")

    text, cleaned = cleaned_text(path)
    assert text != cleaned
    out = json.loads(cleaned)
    (clean_cell,) = out["cells"]
    assert clean_cell["metadata"] == {"tags": ["parameters"]}
    assert clean_cell["execution_count"] == 3
    assert clean_cell["id"] == "0"
    assert "".join(clean_cell["outputs"][0]["text"]) == "1\n"
    assert "widgets" not in out["metadata"]


def test_cleaning_drops_widget_views_and_keeps_their_static_image():
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("k_slider(images)", execution_count=1)
    view = {"model_id": "032d6cc0e88a4bd3aae0e3a357d1549c", "version_major": 2, "version_minor": 0}
    data = {"application/vnd.jupyter.widget-view+json": view, "image/png": "iVBOR", "text/plain": "k = 16"}
    cell.outputs = [nbformat.v4.new_output("execute_result", data=data, execution_count=1)]
    nb.cells = [cell]
    (out,) = clean(nb).cells[0].outputs
    assert set(out["data"]) == {"image/png", "text/plain"}
