"""As-extracted attributes: with an account history, plan, ARR, seats and term are the values in
force at ``as_of``, and nothing dated (or recorded) at or after ``as_of`` changes a feature.

Without the history, the customers table holds today's values: a customer who downgraded before
leaving shows the downgraded plan at every past date, which a model reads as "small plans churn".
"""

from __future__ import annotations

import functools
import logging

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn.contract import Tables, empty_table
from churn.features import FeatureSpec, as_extracted_features, build_features, feature_names

AS_OF = pd.Timestamp("2024-03-04")  # a Monday
DAY = pd.Timedelta(days=1)
US = pd.Timedelta(microseconds=1)
EXTRACTION = pd.Timestamp("2024-09-01")
PLANS = ("Starter", "Pro", "Enterprise")
ACCT = [
    "acct_plan",
    "acct_arr",
    "acct_days_to_renewal",
    "acct_seats_change_90d",
    "acct_arr_change_90d",
    "acct_downgraded_90d",
    "acct_downgraded_180d",
    "acct_upgraded_180d",
]


def customers() -> pd.DataFrame:
    """Today's extract: c1 has downgraded to Starter by now, c2 is on Pro."""
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2"],
            "signup_date": pd.to_datetime(["2023-01-02", "2023-01-02"]),
            "churn_date": pd.to_datetime([None, None]),
            "plan": ["Starter", "Pro"],
            "arr": [1_000.0, 20_000.0],
            "contract_months": [12.0, 1.0],
        }
    )


def history_rows(*rows: tuple) -> pd.DataFrame:
    """Rows ``(customer, valid_from, plan, arr, seats[, contract_months[, recorded_at]])``."""
    cols = ["customer_id", "valid_from", "plan", "arr", "seats_licensed"]
    full = [(*r, *([np.nan] * (7 - len(r)))) for r in rows]
    frame = pd.DataFrame(full, columns=[*cols, "contract_months", "recorded_at"])
    frame["valid_from"] = pd.to_datetime(frame["valid_from"])
    frame["recorded_at"] = pd.to_datetime(frame["recorded_at"]).fillna(frame["valid_from"])
    frame["plan"] = frame["plan"].astype("str").where(frame["plan"].notna())
    for c in ("arr", "seats_licensed", "contract_months"):
        frame[c] = frame[c].astype("float64")
    return frame


def base_history() -> pd.DataFrame:
    """c1 from signup: Enterprise, cut seats 100 days before AS_OF, down to Pro 30 days before,
    then (known only later) down to Starter at AS_OF and a late-recorded backdated correction."""
    return history_rows(
        ("c1", "2023-01-02", "Enterprise", 50_000.0, 50.0, 12.0),
        ("c1", AS_OF - 100 * DAY, "Enterprise", 30_000.0, 30.0),
        ("c1", AS_OF - 30 * DAY, "Pro", 12_000.0, 30.0),
        # Known only at/after AS_OF: the downgrade on AS_OF itself and a correction entered late.
        ("c1", AS_OF, "Starter", 1_000.0, 5.0),
        ("c1", AS_OF - 10 * DAY, "Starter", 2_000.0, 10.0, np.nan, AS_OF + 3 * DAY),
        ("c2", "2023-01-02", "Pro", 20_000.0, 40.0, 1.0),
    )


def tables(history: pd.DataFrame | None = None, extract: pd.DataFrame | None = None) -> Tables:
    usage = pd.DataFrame(
        {
            "customer_id": pd.Series([], dtype="str"),
            "date": pd.Series([], dtype="datetime64[ns]"),
            "active_users": pd.Series([], dtype="float64"),
        }
    )
    return Tables(
        customers=customers() if extract is None else extract,
        interactions=empty_table("interactions"),
        nps=empty_table("nps"),
        usage=usage,
        extraction_date=EXTRACTION,
        usage_metrics=("active_users",),
        account_history=empty_table("account_history") if history is None else history,
    )


def features_at(t: Tables, as_of: pd.Timestamp = AS_OF, spec: FeatureSpec | None = None):
    spine = pd.DataFrame({"customer_id": ["c1", "c2"], "as_of": [as_of, as_of]})
    return build_features(spine, t, spec=spec).set_index("customer_id")


@functools.cache
def base_spec() -> FeatureSpec:
    return FeatureSpec.from_tables(tables(base_history()))


@functools.cache
def base_features() -> pd.DataFrame:
    return features_at(tables(base_history()), spec=base_spec())


# ---- the value in force ------------------------------------------------------------------------


def test_attributes_are_the_values_in_force_at_as_of_not_the_extract():
    f = base_features().loc["c1"]
    # The extract says Starter / 1,000 (the downgrade on AS_OF); at AS_OF it was still Pro.
    assert f["acct_plan"] == "Pro"
    assert f["acct_arr"] == 12_000.0
    # Seats 30 now and 90 days before: the cut (50 -> 30) was 100 days before AS_OF.
    assert f["acct_seats_change_90d"] == pytest.approx(0.0)
    assert f["acct_arr_change_90d"] == pytest.approx(12_000 / 30_000 - 1.0)
    assert f["acct_downgraded_90d"] == 1.0  # Enterprise -> Pro 30 days ago
    assert f["acct_downgraded_180d"] == 1.0
    assert f["acct_upgraded_180d"] == 0.0
    # The term comes from the history too: annual, signed 2023-01-02.
    assert f["acct_days_to_renewal"] == pytest.approx(304.0, abs=1.0)


def test_a_change_valid_from_as_of_is_invisible_and_a_microsecond_before_is_visible():
    at = features_at(tables(base_history()), AS_OF, base_spec()).loc["c1"]
    after = features_at(tables(base_history()), AS_OF + US, base_spec()).loc["c1"]
    assert at["acct_plan"] == "Pro"
    assert after["acct_plan"] == "Starter" and after["acct_arr"] == 1_000.0


def test_a_backdated_correction_counts_only_once_recorded():
    # Recorded AS_OF + 3 days with valid_from AS_OF - 10 days: invisible at AS_OF + 2 days,
    # and once known it does not override the later change valid from AS_OF.
    two = features_at(tables(base_history()), AS_OF + 2 * DAY, base_spec()).loc["c1"]
    four = features_at(tables(base_history()), AS_OF + 4 * DAY, base_spec()).loc["c1"]
    assert two["acct_arr"] == 1_000.0 and four["acct_arr"] == 1_000.0
    only = history_rows(
        ("c1", "2023-01-02", "Enterprise", 50_000.0, 50.0),
        ("c1", AS_OF - 10 * DAY, "Pro", 2_000.0, 10.0, np.nan, AS_OF + 3 * DAY),
    )
    early = features_at(tables(only), AS_OF + 2 * DAY).loc["c1"]
    late = features_at(tables(only), AS_OF + 4 * DAY).loc["c1"]
    assert early["acct_plan"] == "Enterprise" and late["acct_plan"] == "Pro"


def test_before_a_customers_first_history_row_the_attribute_is_missing_not_the_extract():
    # c2 has no row: its plan is unknown, never today's "Pro" (a later value).
    only_c1 = base_history().query("customer_id == 'c1'")
    f = features_at(tables(only_c1), spec=base_spec())
    assert pd.isna(f.loc["c2", "acct_plan"]) and np.isnan(f.loc["c2", "acct_arr"])
    early = features_at(tables(base_history()), pd.Timestamp("2023-01-02"), base_spec())
    assert pd.isna(early.loc["c1", "acct_plan"])  # the signup row is valid from as_of: unseen


def test_an_empty_cell_in_a_history_row_keeps_the_value_in_force():
    h = history_rows(
        ("c1", "2023-01-02", "Enterprise", 50_000.0, 50.0),
        ("c1", AS_OF - 5 * DAY, None, 40_000.0, np.nan),
    )
    f = features_at(tables(h)).loc["c1"]
    assert f["acct_plan"] == "Enterprise" and f["acct_arr"] == 40_000.0


# ---- mutation: nothing known at or after as_of changes a feature ------------------------------


@st.composite
def future_history(draw: st.DrawFn) -> pd.DataFrame:
    """The base history with rows valid from AS_OF on (or recorded from then on) added or
    changed: new plans, ARR, seats and terms; backdated rows recorded late."""
    h = base_history()
    later = (h["valid_from"] >= AS_OF) | (h["recorded_at"] >= AS_OF)
    for i in np.flatnonzero(later.to_numpy()):
        h.loc[h.index[i], "plan"] = draw(st.sampled_from(PLANS))
        h.loc[h.index[i], "arr"] = draw(st.floats(0, 1e6))
        h.loc[h.index[i], "seats_licensed"] = draw(st.sampled_from([np.nan, 1.0, 500.0]))
    rows = []
    for _ in range(draw(st.integers(1, 4))):
        offset = draw(st.integers(-400, 400)) * DAY
        backdated = draw(st.booleans())
        valid = AS_OF + offset if not backdated else AS_OF - abs(offset) - DAY
        recorded = max(valid, AS_OF + draw(st.integers(0, 30)) * DAY)
        if not backdated and valid < AS_OF:
            valid = AS_OF  # a row valid from as_of on
        rows.append(
            (
                draw(st.sampled_from(["c1", "c2"])),
                valid,
                draw(st.sampled_from([*PLANS, None])),
                draw(st.sampled_from([np.nan, 0.0, 5e5])),
                draw(st.sampled_from([np.nan, 1.0, 900.0])),
                draw(st.sampled_from([np.nan, 1.0, 24.0])),
                recorded,
            )
        )
    grown = pd.concat([h, history_rows(*rows)], ignore_index=True)
    return grown.drop_duplicates(["customer_id", "valid_from"], keep="first")


def assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    for name in a.columns:
        if a[name].dtype.kind == "f":
            np.testing.assert_allclose(a[name], b[name], rtol=1e-12, err_msg=name)
        else:
            pd.testing.assert_series_equal(a[name], b[name], check_names=False, obj=name)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=future_history())
def test_history_rows_valid_or_recorded_at_or_after_as_of_never_change_features(history):
    assert_same(base_features(), features_at(tables(history), spec=base_spec()))


def test_the_mutation_test_would_catch_an_as_extracted_plan():
    # The guard above is not vacuous: the extract's values differ from those in force.
    extract = features_at(tables(), spec=FeatureSpec.from_tables(tables())).loc["c1"]
    assert extract["acct_plan"] == "Starter" != base_features().loc["c1", "acct_plan"]


# ---- as extracted, or not: the catalogue, the run's tags and the one warning -------------------


def test_without_history_the_attributes_are_marked_as_extracted_and_with_it_not():
    from churn.features import registry_frame

    without = FeatureSpec.from_tables(tables())
    with_ = base_spec()
    dated = ["acct_days_to_renewal", "acct_plan", "acct_arr"]
    undated = ["acct_segment", "acct_region"]  # the history has neither column
    assert as_extracted_features(feature_names(without), without) == [
        "acct_days_to_renewal",
        "acct_plan",
        *undated,
        "acct_arr",
    ]
    assert as_extracted_features(feature_names(with_), with_) == undated
    assert not set(dated) & set(as_extracted_features(feature_names(with_), with_))
    assert not {"acct_downgraded_90d", "acct_seats_change_90d"} & set(feature_names(without))
    timing = registry_frame(with_).set_index("name")["timing"]
    assert set(timing[["acct_plan", "acct_arr", "acct_days_to_renewal"]]) == {"point in time"}
    timing = registry_frame(without).set_index("name")["timing"]
    assert set(timing[["acct_plan", "acct_arr", "acct_days_to_renewal"]]) == {"as extracted"}


def test_a_history_of_some_attributes_leaves_the_others_as_extracted():
    h = base_history().drop(columns=["plan"])
    spec = FeatureSpec.from_tables(tables(h))
    assert "acct_plan" in as_extracted_features(feature_names(spec), spec)
    assert "acct_arr" not in as_extracted_features(feature_names(spec), spec)


def _dataset(folder, history: pd.DataFrame | None) -> None:
    folder.mkdir()
    customers().to_csv(folder / "customers.csv", index=False)
    weeks = pd.date_range("2023-06-05", "2024-08-26", freq="7D")
    pd.DataFrame(
        {
            "customer_id": np.repeat(["c1", "c2"], len(weeks)),
            "date": np.tile(weeks, 2),
            "active_users": 3.0,
        }
    ).to_csv(folder / "usage.csv", index=False)
    if history is not None:
        history.to_csv(folder / "account_history.csv", index=False)
    (folder / "dataset.yaml").write_text(
        f"extraction_date: {EXTRACTION.date()}\nusage: {{period: week}}\n", encoding="utf-8"
    )


@pytest.mark.parametrize("with_history", [False, True])
def test_training_warns_once_about_as_extracted_attributes_only_without_history(
    tmp_path, caplog, with_history
):
    from churn.pipelines.inputs import load_training_frame
    from churn.settings import Settings

    folder = tmp_path / "ds"
    # A history that dates every attribute (segment and region too): nothing is as extracted.
    history = base_history().drop(columns=["recorded_at"]).assign(segment="SMB", region="EMEA")
    _dataset(folder, history if with_history else None)
    with caplog.at_level(logging.WARNING):
        _, frame, spec = load_training_frame(folder, Settings(), progress=False)
    said = [r for r in caplog.records if "as extracted today" in r.getMessage()]
    assert len(said) == (0 if with_history else 1)
    assert len(frame) and bool(spec.history) == with_history
    if not with_history:
        assert "acct_plan" in said[0].getMessage() and "account_history" in said[0].getMessage()
