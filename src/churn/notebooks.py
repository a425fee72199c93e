"""Execute the analyst notebooks and write them as HTML: the runner behind ``make notebooks``.

.. code-block:: bash

    python -m churn.notebooks --data data/raw/demo --html notebooks/html

The notebooks are stored in ``notebooks/`` without outputs (so their diffs stay readable); this
runner executes a copy of each with nbclient, in a fresh kernel whose working directory is the
project root, and writes the executed copy as one self-contained HTML file per notebook (plots
embedded). The stored notebooks are never modified.

Parameters reach the kernel as environment variables, which each notebook reads with a default:

- ``CHURN_DATA``: the dataset folder (default ``data/raw/demo``);
- ``MLFLOW_TRACKING_URI``: where the champion lives (default ``churn.pipelines.tracking.default_tracking_uri()``);
- ``CHURN_CONFIG``: a settings YAML (default ``configs/model.yaml`` when it exists).

Part of the shell: it reads and writes files and may train a model.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from churn._progress import progress_bar
from churn.errors import ChurnError

log = logging.getLogger(__name__)

#: The notebooks, in reading order (their file names in ``notebooks/``).
NOTEBOOKS: tuple[str, ...] = (
    "01-explore-customer-base.ipynb",
    "02-model-evaluation.ipynb",
    "03-churn-drivers.ipynb",
)
#: Notebooks that read the champion model (the others need only the data).
NEEDS_MODEL: frozenset[str] = frozenset({"02-model-evaluation.ipynb", "03-churn-drivers.ipynb"})
DEFAULT_DATA = Path("data/raw/demo")
DEFAULT_CONFIG = Path("configs/model.yaml")
#: Seconds one cell may run before the notebook counts as failed.
CELL_TIMEOUT_S = 900


class NotebookError(ChurnError):
    """A notebook cell raised; the message names the notebook, the cell and the error."""


@dataclass(frozen=True)
class NotebookRun:
    """One executed notebook."""

    name: str
    seconds: float
    cells: int
    html: Path | None


def project_root() -> Path:
    """The folder holding ``notebooks/`` and ``pyproject.toml``: the current directory or above.

    Notebooks run with this as their working directory so that relative paths such as
    ``data/raw/demo`` mean the same as in ``make``.
    """
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir() and (folder / "pyproject.toml").exists():
            return folder
    return here


def notebook_paths(folder: Path, names: Sequence[str] = NOTEBOOKS) -> list[Path]:
    """The stored notebooks, in reading order; a missing one is an error naming it."""
    paths = [Path(folder) / n for n in names]
    absent = [str(p) for p in paths if not p.exists()]
    if absent:
        raise ChurnError(f"notebook(s) not found: {', '.join(absent)}; run from the project root")
    return paths


def kernel_env(
    data: Path, tracking_uri: str, config: Path | None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The kernel's environment: ours plus the notebook parameters.

    LightGBM and numpy spin-wait on idle cores (shared/STACK.md), so waiting is made passive
    unless the caller chose otherwise.
    """
    env = dict(os.environ)
    env["CHURN_DATA"] = str(Path(data).resolve())
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    if config is not None:
        env["CHURN_CONFIG"] = str(Path(config).resolve())
    env.setdefault("OMP_WAIT_POLICY", "passive")
    env.setdefault("PYTHONHASHSEED", "0")
    env.update(extra or {})
    return env


def execute_notebook(
    path: Path,
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: int = CELL_TIMEOUT_S,
    kernel_name: str = "python3",
) -> Any:
    """Execute a copy of the notebook at ``path`` and return it (with outputs).

    Raises
    ------
    NotebookError
        When a cell raises: the message names the notebook, the cell number and the error, and
        the executed notebook (with the traceback in its outputs) is attached as ``.notebook``.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(cwd)}},
    )
    try:
        # kwargs reach the kernel manager: the kernel gets this environment and working dir.
        client.execute(env=dict(env), cwd=str(cwd))
    except CellExecutionError as exc:
        cell = _failed_cell(nb)
        err = NotebookError(
            f"{path.name}: cell {cell} raised {exc.ename}: {exc.evalue}. Open the notebook "
            "(or its HTML) to see the traceback."
        )
        err.notebook = nb  # type: ignore[attr-defined]
        raise err from None
    return nb


def _failed_cell(nb: Any) -> int | str:
    for i, cell in enumerate(nb.cells, start=1):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return i
    return "?"


def to_html(nb: Any) -> str:
    """The executed notebook as one self-contained HTML page (images embedded)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nb)
    return body


def write_atomically(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename (no half-written page)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        # mkstemp makes the file private; a page for analysts is meant to be read by others.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def ensure_champion(data: Path, tracking_uri: str, config: Path | None, *, train: bool) -> None:
    """Make sure a champion exists for the model notebooks; train one if allowed.

    ``make notebooks`` on a fresh clone has data but no model yet: training here is what
    ``make train`` would do, so the model notebooks have something to show.
    """
    from churn.pipelines import champion

    if champion.champion_version(tracking_uri) is not None:
        return
    if not train:
        raise ChurnError(
            f"no champion model in {tracking_uri}: run `make train` first (the model notebooks "
            "read it), or drop --no-train to let the runner train one"
        )
    from churn.pipelines.inputs import dataset_root
    from churn.pipelines.train import run_train

    log.info("no champion model in %s: training one first (as `make train` does)", tracking_uri)
    # The notebooks train on the demo: its simulator truth gives the oracle, as `make train`.
    truth = dataset_root(data) / "ground_truth"
    oracle = truth if truth.is_dir() else None
    report = run_train(data, config, oracle=oracle, tracking_uri=tracking_uri, progress=False)
    log.info("trained run %s: %s", report.run_id, report.gate_outcome)


def run_notebooks(
    data: Path = DEFAULT_DATA,
    html_dir: Path | None = None,
    *,
    notebooks_dir: Path | None = None,
    names: Sequence[str] = NOTEBOOKS,
    tracking_uri: str | None = None,
    config: Path | None = None,
    cwd: Path | None = None,
    train_if_missing: bool = True,
    timeout: int = CELL_TIMEOUT_S,
    extra_env: Mapping[str, str] | None = None,
    progress: bool = True,
) -> list[NotebookRun]:
    """Execute the notebooks in order and (optionally) write each as HTML.

    Parameters
    ----------
    data
        Dataset folder the notebooks analyse (``CHURN_DATA``).
    html_dir
        Folder for ``<notebook>.html``; ``None`` writes nothing (the test suite).
    notebooks_dir
        Where the stored notebooks are; default ``<project root>/notebooks``.
    names
        Which notebooks, in order.
    tracking_uri
        MLflow store with the champion; default ``churn.pipelines.tracking.default_tracking_uri()``.
    config
        Settings YAML; default ``configs/model.yaml`` when it exists.
    cwd
        Working directory of the kernels; default the project root.
    train_if_missing
        Train a model first when a model notebook is asked for and there is no champion.
    timeout
        Seconds a cell may run.
    extra_env
        More environment variables for the kernels.
    progress
        Show a progress bar.

    Returns
    -------
    list of NotebookRun

    Raises
    ------
    NotebookError
        On the first notebook with a failing cell (its HTML is still written, traceback
        included, when ``html_dir`` is given).
    """
    from churn.pipelines import tracking

    root = Path(cwd) if cwd is not None else project_root()
    folder = Path(notebooks_dir) if notebooks_dir is not None else root / "notebooks"
    paths = notebook_paths(folder, names)
    data = Path(data)
    if not data.is_absolute():
        data = root / data
    if not data.exists():
        raise ChurnError(f"dataset {data} does not exist: run `make data` (or pass --data)")
    if config is None and (root / DEFAULT_CONFIG).exists():
        config = root / DEFAULT_CONFIG
    uri = tracking_uri or tracking.default_tracking_uri()
    if any(p.name in NEEDS_MODEL for p in paths):
        ensure_champion(data, uri, config, train=train_if_missing)
    env = kernel_env(data, uri, config, extra_env)
    runs: list[NotebookRun] = []
    with progress_bar("notebooks", len(paths), progress) as bar:
        for path in paths:
            runs.append(_run_one(path, root, env, html_dir, timeout))
            bar.advance()
    return runs


def _run_one(
    path: Path, root: Path, env: Mapping[str, str], html_dir: Path | None, timeout: int
) -> NotebookRun:
    """Execute one notebook and write its HTML (a failed one too, with its traceback)."""
    log.info("executing %s", path.name)
    started = time.perf_counter()
    try:
        nb = execute_notebook(path, cwd=root, env=env, timeout=timeout)
    except NotebookError as exc:
        if html_dir is not None and getattr(exc, "notebook", None) is not None:
            out = Path(html_dir) / (path.stem + ".html")
            write_atomically(out, to_html(exc.notebook))
            log.error("wrote the failed notebook with its traceback to %s", out)
        raise
    seconds = round(time.perf_counter() - started, 1)
    html = None
    if html_dir is not None:
        html = write_atomically(Path(html_dir) / (path.stem + ".html"), to_html(nb))
    log.info("%s: %d cells in %.0f s", path.name, len(nb.cells), seconds)
    return NotebookRun(path.name, seconds, len(nb.cells), html)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m churn.notebooks``: exit 0 when every notebook ran, 2 with a message if not."""
    parser = argparse.ArgumentParser(
        prog="python -m churn.notebooks",
        description="Execute the analyst notebooks and write them as HTML.",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="dataset folder")
    parser.add_argument("--html", type=Path, default=None, help="folder for the HTML pages")
    parser.add_argument("--config", type=Path, default=None, help="settings YAML")
    parser.add_argument(
        "--notebook",
        action="append",
        choices=NOTEBOOKS,
        help="run only this notebook (repeatable); default all, in order",
    )
    parser.add_argument(
        "--no-train",
        action="store_true",
        help="fail instead of training a model when there is no champion",
    )
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT_S, help="seconds per cell")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("mlflow", "alembic", "urllib3", "matplotlib", "shap", "numba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # nbconvert warns about every plot without alt text; the pages are for reading, not a11y audits.
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    try:
        runs = run_notebooks(
            args.data,
            args.html,
            names=tuple(args.notebook or NOTEBOOKS),
            config=args.config,
            train_if_missing=not args.no_train,
            timeout=args.timeout,
            progress=sys.stderr.isatty(),
        )
    except ChurnError as exc:
        log.error("%s", exc)
        return exc.exit_code
    for run in runs:
        log.info("%s: %.0f s%s", run.name, run.seconds, f" -> {run.html}" if run.html else "")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
