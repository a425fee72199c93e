"""The feature engine runs on any backend: no ASOF join, one connection factory.

The values on Spark are checked in tests/spark (``make test-spark``); here, without PySpark,
that the expressions DuckDB runs are the portable kind Spark can run too.
"""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest

from churn.data import load_dataset
from churn.dataset import scoring_spine
from churn.errors import ChurnError
from churn.features import build_features
from churn.features.backend import Backend, connect
from churn.settings import EngineSettings
from churn.simulate import simulate, write_dataset


def test_no_query_of_the_engine_is_an_asof_join(tmp_path, monkeypatch):
    import ibis.expr.operations as ops

    tables = load_dataset(write_dataset(simulate(40, seed=2, months=12), tmp_path / "d"))
    last = tables.extraction_date - pd.Timedelta(days=7)
    dates = pd.date_range(end=last, periods=3, freq="W-MON")
    spine = pd.concat([scoring_spine(tables, d) for d in dates], ignore_index=True)
    seen: list[str] = []
    execute = Backend.execute

    def spy(self, expr):
        seen.extend(type(node).__name__ for node in expr.op().find(ops.Node))
        seen.extend(f"join:{link.how}" for link in expr.op().find(ops.JoinLink))
        return execute(self, expr)

    monkeypatch.setattr(Backend, "execute", spy)
    out = build_features(spine, tables)
    assert out["nps_last"].notna().any() and out["int_days_since_contact"].notna().any()
    assert "Union" in seen, "the many-date lookups did not run"
    # Spark SQL (and BigQuery, Databricks) have no ASOF JOIN: Ibis refuses to compile one there.
    assert "join:asof" not in seen
    assert "join:inner" in seen and "join:left" in seen


@pytest.mark.skipif(importlib.util.find_spec("pyspark") is not None, reason="PySpark installed")
def test_spark_without_pyspark_says_how_to_install_it():
    with pytest.raises(ChurnError, match=r"pip install 'churn\[spark\]'"):
        connect(EngineSettings(backend="spark"))


def test_the_default_backend_is_in_memory_duckdb():
    assert connect().name == "duckdb"
    assert connect(EngineSettings()).name == "duckdb"


def test_churn_features_refuses_an_unknown_engine_before_loading_anything(tmp_path):
    from typer.testing import CliRunner

    from churn.cli import app

    args = ["features", "--data", str(tmp_path / "nowhere"), "--as-of", "2024-12-02",
            "--out", str(tmp_path / "f.parquet"), "--engine", "polars"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    # A ChurnError: the console entry point prints it and exits 2.
    assert isinstance(result.exception, ChurnError) and result.exception.exit_code == 2
    assert "engine.backend is 'polars'; valid: duckdb, spark" in str(result.exception)


def test_churn_features_reads_the_engine_from_the_settings_file(tmp_path):
    from typer.testing import CliRunner

    from churn.cli import app

    config = tmp_path / "model.yaml"
    config.write_text("engine:\n  backend: sparkk\n", encoding="utf-8")
    args = ["features", "--data", str(tmp_path / "nowhere"), "--as-of", "2024-12-02",
            "--out", str(tmp_path / "f.parquet"), "--config", str(config)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, ChurnError)
    assert "engine.backend is 'sparkk'" in str(result.exception)
