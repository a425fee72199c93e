"""Reasons an account team can trust, over one scored simulated week (issue 13).

Every reason is a behaviour, raises risk by at least the threshold as displayed, points the way
of its effect, adds up with "other factors" to probability minus base rate, and a renewal
sentence says the same days as the list's column.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from churn.explain import NEUTRAL
from churn.features.registry import lookup
from churn.settings import ScoringSettings, Settings

K = ScoringSettings().reasons_per_customer


@pytest.fixture(scope="module")
def week(tmp_path_factory, scoring_model_factory):
    """A small simulated dataset, a tiny model on its own features, and its scored week."""
    from churn import dataset
    from churn.pipelines.score import score_week

    root = tmp_path_factory.mktemp("trust")
    tables, model, as_of, _ = scoring_model_factory(root, seed=5)
    result = score_week(tables, model, as_of, Settings(), root / "out")
    scores = pd.read_parquet(result.folder / "scores.parquet")
    features = dataset.build_scoring_frame(tables, as_of).set_index("customer_id")
    return result.at_risk, scores, features


def _reasons(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per shown reason: customer_id, slot, sentence, feature, effect."""
    parts = [
        frame[["customer_id", f"reason_{i}", f"reason_{i}_feature", f"reason_{i}_effect"]].set_axis(
            ["customer_id", "text", "feature", "effect"], axis=1
        )
        for i in range(1, K + 1)
    ]
    out = pd.concat(parts, ignore_index=True)
    return out[out["text"].notna()].reset_index(drop=True)


def test_the_week_has_reasons_to_check(week):
    listed, scores, _ = week
    assert 0 < len(_reasons(listed)) <= len(_reasons(scores))


def test_no_reason_comes_from_a_context_feature(week):
    _, scores, _ = week
    kinds = {lookup(f).kind for f in _reasons(scores)["feature"]}
    assert kinds == {"behaviour"}


def test_no_reason_is_shown_below_the_threshold_or_at_zero_points(week):
    _, scores, _ = week
    shown = np.round(100 * _reasons(scores)["effect"])
    assert (shown >= ScoringSettings().min_reason_points).all()
    assert (shown > 0).all()


def test_reasons_and_other_factors_add_up_to_probability_minus_base_rate(week):
    listed, _, _ = week
    effects = listed[[f"reason_{i}_effect" for i in range(1, K + 1)]].fillna(0.0)
    displayed = np.round(100 * effects).sum(axis=1) + np.round(100 * listed["other_factors_effect"])
    expected = 100 * (listed["churn_probability"] - listed["base_probability"])
    # Each displayed number is rounded to a whole point: at most half a point off each.
    assert (np.abs(displayed - expected) <= 0.5 * (K + 1)).all()
    exact = effects.sum(axis=1) + listed["other_factors_effect"]
    np.testing.assert_allclose(exact, listed["churn_probability"] - listed["base_probability"])


def test_no_reason_states_a_value_on_the_safe_side_of_its_risk_direction(week):
    _, scores, features = week
    reasons = _reasons(scores)
    assert not reasons["text"].str.startswith(("NPS rose", "NPS unchanged")).any()
    scored = features.loc[scores["customer_id"]]
    for row in reasons.itertuples():
        column = lookup(row.feature)
        d = column.feature.risk_direction
        value = pd.to_numeric(pd.Series([features.at[row.customer_id, row.feature]])).iloc[0]
        if d is None or pd.isna(value):
            continue
        if column.feature.name in NEUTRAL:
            assert d * (value - NEUTRAL[column.feature.name]) > 0, row
        else:
            assert d * (value - pd.to_numeric(scored[row.feature]).median()) >= 0, row


def test_every_renewal_sentence_says_the_days_of_the_list_column(week):
    listed, scores, _ = week
    for frame in (listed, scores):
        reasons = _reasons(frame).merge(frame[["customer_id", "days_to_renewal"]], on="customer_id")
        said = reasons["text"].str.extract(r"Renewal in (\d+) days?")[0].dropna().astype(float)
        assert len(said) == 0 or (said == reasons.loc[said.index, "days_to_renewal"]).all()
    # The column is the point-in-time feature: the same value for every scored customer.
    column = scores.set_index("customer_id")["days_to_renewal"]
    feature = week[2]["acct_days_to_renewal"].round().loc[column.index]
    pd.testing.assert_series_equal(column, feature, check_names=False)
    assert feature.notna().any()


def test_a_renewal_sentence_reads_its_days_like_the_column():
    from churn.features.catalogue import render_reason

    text = render_reason("acct_days_to_renewal", {"acct_days_to_renewal": 32.0}, +1)
    assert re.fullmatch(r"Renewal in 32 days", text)
