"""The getting-started notebook (docs/getting-started.ipynb) runs: its code cells in order, in
one namespace, in a scratch folder, as Jupyter's "run all" would."""

import json

import numpy as np
import pytest

from tests.conftest import REPO

NOTEBOOK = REPO / "docs" / "getting-started.ipynb"


def code_cells():
    notebook = json.loads(NOTEBOOK.read_text())
    assert notebook["nbformat"] == 4
    return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]


def test_the_notebook_is_saved_without_outputs():
    notebook = json.loads(NOTEBOOK.read_text())
    assert all(not c.get("outputs") for c in notebook["cells"] if c["cell_type"] == "code")


@pytest.mark.slow
def test_the_getting_started_notebook_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for i, code in enumerate(code_cells()):
        exec(compile(code, f"getting-started.ipynb:cell {i}", "exec"), namespace)
    # What each step promises: the shipped codes probe well, pretraining beats the same widths
    # from scratch (same epochs, same run), the reload computes the same codes, the export
    # serves the model's own 250-d codes.
    assert namespace["probe_accuracy"] > 0.85
    assert namespace["pretrained_accuracy"] > max(0.8, namespace["scratch_accuracy"])
    assert namespace["codes"].shape == (8, 250)
    again, model, x_test = namespace["again"], namespace["model"], namespace["x_test"]
    np.testing.assert_allclose(again.encoder(x_test[:8]), model.encoder(x_test[:8]), atol=1e-6)
