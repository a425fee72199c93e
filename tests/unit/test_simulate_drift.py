"""The simulator's injected drifts change the tables from their start date, and only then."""

from __future__ import annotations

import pandas as pd
import pytest

from churn.errors import ChurnError
from churn.simulate import apply_drift, parse_drift, simulate


@pytest.fixture(scope="module")
def sim():
    return simulate(150, seed=2, months=12)


def test_usage_drop_scales_counted_usage_from_its_start_only(sim):
    start = pd.Timestamp("2024-07-01")
    out = apply_drift(sim, parse_drift("usage_drop:2024-07-01:0.5"))
    before, after = sim.usage["date"] < start, sim.usage["date"] >= start
    pd.testing.assert_frame_equal(out.usage[before], sim.usage[before])
    ratio = out.usage.loc[after, "logins"].sum() / sim.usage.loc[after, "logins"].sum()
    assert ratio == pytest.approx(0.5, abs=0.01)
    assert (out.usage["seats_licensed"] == sim.usage["seats_licensed"]).all()
    pd.testing.assert_frame_equal(out.customers, sim.customers)  # churn is untouched
    assert out.truth.params["drift"] == [{"kind": "usage_drop", "start": "2024-07-01", "size": 0.5}]


def test_price_rise_adds_churn_after_its_start_and_records_stop_there(sim):
    start = pd.Timestamp("2024-07-01")
    out = apply_drift(sim, parse_drift("price_rise:2024-07-01:0.3"), seed=1)
    old, new = sim.customers["churn_date"], out.customers["churn_date"]
    moved = new.notna() & (old.isna() | (new < old))
    assert moved.sum() > 10
    assert (new[moved] >= start).all() and (new[moved] < start + pd.Timedelta(days=90)).all()
    assert (new[old < start] == old[old < start]).all()  # the past is not rewritten
    ends = out.usage["customer_id"].map(new.set_axis(out.customers["customer_id"]))
    assert not (out.usage["date"] >= ends).any()


@pytest.mark.parametrize(
    "text", ["usage_drop", "oops:2024-07-01", "usage_drop:soon", "price_rise:2024-07-01:2"]
)
def test_a_malformed_drift_is_refused_in_words(text):
    with pytest.raises(ChurnError, match="--drift"):
        parse_drift(text)


def test_a_drift_outside_the_history_is_refused(sim):
    with pytest.raises(ChurnError, match="outside the simulated history"):
        apply_drift(sim, parse_drift("usage_drop:2030-01-07"))
