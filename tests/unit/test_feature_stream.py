"""Features streamed chunk by chunk (``iter_features``, ``churn features --out``) are the same rows
as the frame built in memory, and the file appears whole or not at all."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from churn._files import write_parquet_frames
from churn.cli import app
from churn.data import load_dataset
from churn.dataset import scoring_spine
from churn.features import FeatureSpec, build_features, iter_features
from churn.features import engine as engine_module
from churn.simulate import simulate, write_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("stream")
    return write_dataset(simulate(90, seed=8, months=14, mess_rate=0.05), root / "data")


def _spine(tables, dates):
    return pd.concat([scoring_spine(tables, d) for d in dates], ignore_index=True)


def test_the_chunks_together_are_the_in_memory_frame(data, monkeypatch):
    tables = load_dataset(data)
    last = tables.extraction_date - pd.Timedelta(days=7)
    spine = _spine(tables, pd.date_range(end=last, periods=5, freq="W-MON"))
    spine.index = np.arange(len(spine)) * 3 + 1
    spec = FeatureSpec.from_tables(tables)
    monkeypatch.setattr(engine_module, "CHUNK_PAIRS", len(spine) * 20)
    whole = build_features(spine, tables, spec=spec)
    parts = list(iter_features(spine, tables, spec=spec))
    assert len(parts) > 1, "the spine was not split into chunks"
    got = pd.concat(parts).sort_index()
    # Float aggregates may differ by summation order only (DuckDB adds in parallel).
    pd.testing.assert_frame_equal(got, whole, check_exact=False, rtol=1e-12, atol=0.0)


def test_churn_features_streams_every_date_to_one_parquet(data, tmp_path, monkeypatch):
    tables = load_dataset(data)
    last = tables.extraction_date - pd.Timedelta(days=7)
    dates = [last - pd.Timedelta(weeks=2), last]
    monkeypatch.setattr(engine_module, "CHUNK_PAIRS", 2_000)
    out = tmp_path / "out" / "features.parquet"
    args = ["features", "--data", str(data), "--out", str(out), "--feature-set", "common"]
    args += [a for d in dates for a in ("--as-of", d.strftime("%Y-%m-%d"))]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    got = pd.read_parquet(out)
    want = build_features(_spine(tables, dates), tables, only="common")
    key = ["as_of", "customer_id"]
    got = got.sort_values(key, ignore_index=True)
    want = want.sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, atol=0.0)
    assert [p.name for p in out.parent.iterdir()] == ["features.parquet"]


def test_a_stream_that_fails_leaves_no_file(tmp_path):
    def frames():
        yield pd.DataFrame({"customer_id": ["a"], "as_of": [pd.Timestamp("2024-01-01")]})
        raise RuntimeError("killed half way")

    out = tmp_path / "f.parquet"
    with pytest.raises(RuntimeError, match="half way"):
        write_parquet_frames(frames(), out)
    assert list(tmp_path.iterdir()) == []
