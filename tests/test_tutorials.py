"""The tutorials run, top to bottom, in their fast mode (a few epochs)."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["kang_nk.ipynb", "donors_query.ipynb"])
def test_tutorial_runs(name, kang_path, donors_path, tmp_path, monkeypatch):
    monkeypatch.setenv("TRVAE_TUTORIAL_FAST", "1")
    monkeypatch.setenv("KANG", str(kang_path))
    monkeypatch.setenv("DONORS", str(donors_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(TUTORIALS / name, as_version=4)
    # Run in a scratch folder so the notebook's saved model lands there.
    NotebookClient(notebook, timeout=600, resources={"metadata": {"path": tmp_path}}).execute()
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
