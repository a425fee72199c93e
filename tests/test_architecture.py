"""The one-way data flow, enforced: a module imports only from modules upstream of it.

raw tables -> validated tables -> spine + labels -> features -> model -> scores + reasons -> list.
File I/O, MLflow and the clock belong to the thin shell (cli, pipelines, tracking, outputs).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "churn"

#: Layer of each top-level module; a module may import churn modules of its own layer or lower.
LAYERS: dict[str, int] = {
    "errors": 0,
    "contract": 0,
    "settings": 0,
    "loading": 1,
    "validation": 1,
    "simulate": 1,
    "spine": 2,
    "catalogue": 2,
    "features": 2,
    "static": 3,
    "model": 3,
    "baselines": 3,
    "evaluation": 3,
    "training": 3,
    "plots": 3,
    "explain": 4,
    "analysis": 4,
    "scoring": 4,
    "outputs": 5,
    "tracking": 5,
    "notebooks": 6,
    "pipelines": 6,
    "cli": 7,
    "__init__": 7,
    "__main__": 7,
}

#: Only the shell may talk to MLflow.
SHELL = {"tracking", "pipelines", "cli", "notebooks", "__main__"}


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py"))


def _top(path: Path) -> str:
    rel = path.relative_to(SRC).parts
    return rel[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_every_module_has_a_layer():
    unknown = sorted({_top(p) for p in _modules()} - set(LAYERS))
    assert not unknown, f"add these modules to LAYERS in {__file__}: {unknown}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_module_imports_only_upstream(path: Path):
    me = _top(path)
    bad = []
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] != "churn" or len(parts) < 2 or parts[1] not in LAYERS:
            continue
        if LAYERS[parts[1]] > LAYERS[me]:
            bad.append(name)
    assert not bad, f"{me} (layer {LAYERS[me]}) imports downstream modules: {sorted(bad)}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_only_the_shell_talks_to_mlflow(path: Path):
    if _top(path) in SHELL:
        return
    assert not any(n.split(".")[0] == "mlflow" for n in _imports(path))


def test_importing_the_cli_loads_no_heavy_library():
    # `churn --help` must be instant and importing must do nothing: heavy libraries load in commands.
    code = (
        "import sys, churn, churn.cli; "
        "heavy = [m for m in ('mlflow', 'lightgbm', 'shap', 'ibis', 'sklearn') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_no_print_in_src():
    offenders = []
    for path in _modules():
        if _top(path) in {"cli", "__main__"}:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "print"
            ):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not offenders, f"use logging, not print: {offenders}"
