"""Monitoring against a known change: a simulated usage drop is flagged within two weeks of its
start, naming the usage features; the same data without it flags none of them."""

from __future__ import annotations

import pandas as pd
import pytest

pytestmark = pytest.mark.slow

START = pd.Timestamp("2025-05-05")  # a Monday
# The windows `churn train` cuts from this 18-month history (labelled up to 2025-03-31).
CHAMPION = {
    "fit_as_of": "2024-07-01..2024-09-09 (6 dates)",
    "valid_as_of": "2024-11-18..2024-12-09 (4 dates)",
    "test_as_of": "2025-03-10..2025-03-31 (4 dates)",
}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    from churn.data import load_dataset
    from churn.simulate import apply_drift, parse_drift, simulate, write_dataset

    root = tmp_path_factory.mktemp("drift")
    sim = simulate(400, seed=5, months=18, mess_rate=0.0)
    drifted = apply_drift(sim, parse_drift(f"usage_drop:{START.date()}"))
    return {
        "none": load_dataset(write_dataset(sim, root / "none")),
        "usage_drop": load_dataset(write_dataset(drifted, root / "drift")),
    }


def _flags(tables, as_of, reference_window=None):
    from churn.features import FeatureSpec, feature_catalogue, feature_names
    from churn.monitoring import feature_drift, reference_dates
    from churn.pipelines.monitor import feature_frame

    spec = FeatureSpec.from_tables(tables)
    names = feature_names(spec)
    info = feature_catalogue(names)
    # The monitor's reference: the latest labelled window of the champion's training frame.
    meta = CHAMPION if reference_window is None else {"fit_as_of": reference_window}
    reference = feature_frame(tables, reference_dates(meta, 4, "W-MON"), spec)
    current = feature_frame(tables, [as_of], spec)
    words = {n: f.description for n, f in info.items()}
    kinds = {n: f.kind for n, f in info.items()}
    out = feature_drift(reference, current, names, descriptions=words, kinds=kinds)
    return out.loc[out["flagged"]]


def test_a_usage_drop_is_flagged_within_two_weeks_naming_the_usage_features(datasets):
    # A week's usage is known at the end of the week, so the first Monday that sees the
    # release is START + 14 days.
    flagged = _flags(datasets["usage_drop"], START + pd.Timedelta(days=14))
    assert len(flagged) >= 3
    assert flagged["feature"].str.startswith("util_").all(), flagged["feature"].tolist()
    assert flagged["description"].str.contains("active users|logins|feature events").any()


def test_without_the_drift_no_usage_feature_is_flagged(datasets):
    flagged = _flags(datasets["none"], START + pd.Timedelta(days=14))
    # Stated allowance: at most 2 features of other families (the NPS history fills up).
    assert not flagged["feature"].str.startswith("util_").any(), flagged["feature"].tolist()
    assert len(flagged) <= 2, flagged["feature"].tolist()


def test_a_short_history_without_drift_raises_no_nps_flag(datasets):
    # History from 2024-01: a second NPS answer is still filling in. Against the latest labelled
    # window nothing NPS moves; against the fit window (the old reference) it did.
    for week in (START + pd.Timedelta(days=14), pd.Timestamp("2025-06-30")):
        flagged = _flags(datasets["none"], week)
        assert not flagged["feature"].str.startswith("nps_").any(), flagged["feature"].tolist()
    old = _flags(datasets["none"], pd.Timestamp("2025-06-30"), CHAMPION["fit_as_of"])
    assert old["feature"].str.startswith("nps_").any(), old["feature"].tolist()
