"""The analyst notebooks: stored without outputs, and every cell runs on a fresh small dataset."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from churn import notebooks
from churn.errors import ChurnError

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "notebooks"

#: Cheap but real training settings: one thread, few rounds, a short warm-up for 18 months.
CHEAP_CONFIG = """
snapshots:
  warmup_days: 120
training:
  num_threads: 1
  num_boost_round: 60
  early_stopping_rounds: 10
  backtest_windows: 2
  shap_sample: 300
  capacity_k: 20
  lightgbm:
    learning_rate: 0.15
    num_leaves: 15
scoring:
  list_size: 40
"""


def _read(name: str):
    return nbformat.read(FOLDER / name, as_version=4)


@pytest.mark.parametrize("name", notebooks.NOTEBOOKS)
def test_notebook_is_stored_without_outputs(name):
    nb = _read(name)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{name} has no code"
    assert all(not c.outputs and c.execution_count is None for c in code), (
        f"{name} was saved with outputs: clear them so diffs stay readable"
    )


@pytest.mark.parametrize("name", notebooks.NOTEBOOKS)
def test_notebook_imports_churn_and_reads_its_parameters_from_the_environment(name):
    source = "\n".join(c.source for c in _read(name).cells if c.cell_type == "code")
    assert re.search(r"^(import churn|from churn[. ])", source, re.M), "the notebook must use churn"
    assert 'os.environ.get("CHURN_DATA", "data/raw/demo")' in source
    if name in notebooks.NEEDS_MODEL:
        assert "MLFLOW_TRACKING_URI" in source and "default_tracking_uri()" in source


def test_every_notebook_is_in_the_readme():
    readme = (FOLDER / "README.md").read_text(encoding="utf-8")
    for name in notebooks.NOTEBOOKS:
        assert name.removesuffix(".ipynb") in readme


def test_runner_without_a_champion_says_to_train_first_when_told_not_to(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(ChurnError, match="make train"):
        notebooks.run_notebooks(
            data, None, tracking_uri=uri, cwd=ROOT, train_if_missing=False, progress=False
        )
    assert not (tmp_path / "mlflow.db").exists()  # looking for a champion creates no store


def test_runner_names_a_missing_dataset(tmp_path):
    assert notebooks.main(["--data", str(tmp_path / "nowhere"), "--no-train"]) == 2


def test_a_failing_cell_names_the_notebook_and_the_cell_and_still_writes_the_page(tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# broken"),
            nbformat.v4.new_code_cell("import os\nx = os.environ['CHURN_DATA']"),
            nbformat.v4.new_code_cell("1 / 0"),
        ]
    )
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nbformat.write(nb, folder / "broken.ipynb")
    (tmp_path / "data").mkdir()
    with pytest.raises(notebooks.NotebookError, match=r"broken.ipynb: cell 3 raised ZeroDivision"):
        notebooks.run_notebooks(
            tmp_path / "data",
            tmp_path / "html",
            notebooks_dir=folder,
            names=("broken.ipynb",),
            cwd=tmp_path,
            progress=False,
        )
    page = (tmp_path / "html" / "broken.html").read_text(encoding="utf-8")
    assert "ZeroDivisionError" in page
    # The stored notebook is never written back with outputs.
    assert not nbformat.read(folder / "broken.ipynb", as_version=4).cells[2].outputs


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small simulated dataset and a champion trained on it in a throwaway MLflow store."""
    from churn.pipelines.train import run_train
    from churn.simulate import simulate, write_dataset

    root = tmp_path_factory.mktemp("notebooks")
    data = write_dataset(simulate(700, seed=3, months=18, mess_rate=0.01), root / "data")
    config = root / "model.yaml"
    config.write_text(CHEAP_CONFIG, encoding="utf-8")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    report = run_train(data, config, oracle=data / "ground_truth", tracking_uri=uri, progress=False)
    assert report.promoted
    return data, config, uri, root


@pytest.mark.slow
def test_all_three_notebooks_run_on_a_small_simulated_dataset(trained):
    data, config, uri, root = trained
    html = root / "html"
    runs = notebooks.run_notebooks(
        data,
        html,
        tracking_uri=uri,
        config=config,
        cwd=ROOT,
        train_if_missing=False,
        progress=False,
    )
    assert [r.name for r in runs] == list(notebooks.NOTEBOOKS)
    for run in runs:
        page = run.html.read_text(encoding="utf-8")
        assert "data:image/png;base64" in page, f"{run.name} drew no figure"
        assert "Traceback" not in page
    # Notebook 02 rebuilt the test window and reproduced the logged AUC (it asserts it too).
    assert "same data as the run: True" in (html / "02-model-evaluation.html").read_text("utf-8")
    # The stored notebooks stay clean after a run.
    for name in notebooks.NOTEBOOKS:
        assert all(not c.get("outputs") for c in json.loads((FOLDER / name).read_text())["cells"])
