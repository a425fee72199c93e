"""Chunking the spine by customer is a memory decision only: it never changes a value."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn.features import FeatureSpec, build_features


def _simulated(tmp_path):
    from churn.data import load_dataset
    from churn.dataset import active_spine
    from churn.simulate import simulate, write_dataset
    from churn.spine import latest_complete_week

    data = write_dataset(simulate(120, seed=3, months=14, mess_rate=0.05), tmp_path / "data")
    tables = load_dataset(data)
    last = latest_complete_week(tables.extraction_date)
    dates = [last - pd.Timedelta(weeks=w) for w in range(25, -1, -1)]
    return tables, active_spine(tables, dates)


def test_tiny_customer_chunks_give_every_value_of_one_chunk(tmp_path, monkeypatch):
    import churn.features.engine as engine

    tables, spine = _simulated(tmp_path)
    # Shuffled, with a repeated row and a non-default index: rows must come back in place.
    spine = pd.concat([spine, spine.iloc[[3]]]).sample(frac=1.0, random_state=1)
    spine.index = np.arange(len(spine)) * 7
    spec = FeatureSpec.from_tables(tables)
    monkeypatch.setattr(engine, "CHUNK_PAIRS", 10**12)
    whole = build_features(spine, tables, spec=spec)
    assert engine._n_parts(_work(spine), tables, spec) == 1
    monkeypatch.setattr(engine, "CHUNK_PAIRS", 20_000)  # about ten customers per chunk
    n = engine._n_parts(_work(spine), tables, spec)
    assert 6 <= n <= spine["customer_id"].nunique() // 4
    chunked = build_features(spine, tables, spec=spec)
    # Float aggregates (slopes, spreads, the decayed balance) may differ by summation order
    # only, ~1e-14 relative; everything countable is identical to the last bit.
    pd.testing.assert_frame_equal(chunked, whole, check_exact=False, rtol=1e-12, atol=0.0)
    numeric = whole.select_dtypes("number")
    counts = [c for c in numeric if np.all(np.isnan(numeric[c]) | (numeric[c] % 1 == 0))]
    assert len(counts) > 20
    pd.testing.assert_frame_equal(chunked[counts], whole[counts], check_exact=True)
    assert whole.index.equals(spine.index)


def test_a_customer_always_lands_in_the_same_chunk_in_every_table():
    import churn.features.engine as engine

    ids = pd.Series(["a", "b", "c", "a", "d", "b"] * 3)
    buckets = engine._bucket(ids, 4)
    again = engine._bucket(ids.iloc[::-1].reset_index(drop=True), 4)[::-1]
    assert (buckets == again).all()
    assert pd.Series(buckets).groupby(ids.to_numpy()).nunique().max() == 1
    part = engine._split(pd.DataFrame({"customer_id": ids, "k": range(len(ids))}), 4)
    parts = [part(b) for b in range(4)]
    assert sum(len(p) for p in parts) == len(ids)
    assert all(p["k"].is_monotonic_increasing for p in parts)


def _work(spine: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": spine["customer_id"].astype(str).to_numpy(),
            "as_of": pd.to_datetime(spine["as_of"]).to_numpy().astype("datetime64[us]"),
            "_row": np.arange(len(spine)),
        }
    )
