"""Building a subset of the registry: the same values as the full build, none of the others' work."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.errors import ChurnError
from churn.features import FEATURE_SETS, FeatureSpec, build_features, feature_names, select
from churn.features import engine as engine_module


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    from churn.data import load_dataset
    from churn.dataset import active_spine
    from churn.simulate import simulate, write_dataset
    from churn.spine import latest_complete_week

    root = tmp_path_factory.mktemp("selection")
    tables = load_dataset(write_dataset(simulate(80, seed=5, months=14, mess_rate=0.05), root))
    last = latest_complete_week(tables.extraction_date)
    dates = [last - pd.Timedelta(weeks=w) for w in range(8, -1, -1)]
    spine = active_spine(tables, dates)
    spec = FeatureSpec.from_tables(tables)
    return tables, spine, spec, build_features(spine, tables, spec=spec)


def assert_same_columns(got: pd.DataFrame, whole: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, whole[list(got.columns)], check_exact=True)


@pytest.mark.parametrize(
    "only",
    [
        "common",
        ["nps_last_category"],
        ["int_open_tickets", "int_days_since_contact"],
        "util_{metric}_slope_90d,util_seat_utilisation_30d",
        ["acct_downgraded_90d", "exp_balance", "nps_response_rate_365d"],
        ["int_trend_30d_90d", "int_csat_mean_90d", "acct_plan"],
    ],
)
def test_a_subset_equals_the_same_columns_of_the_full_build(messy, only):
    tables, spine, spec, whole = messy
    got = build_features(spine, tables, spec=spec, only=only)
    assert list(got.columns[:2]) == ["customer_id", "as_of"]
    assert got.shape[1] > 2 and got.index.equals(whole.index)
    assert_same_columns(got, whole)


def test_the_common_set_is_the_peers_and_keeps_registry_order(messy):
    _, _, spec, _ = messy
    names = [c.name for c in select(spec, "common")]
    assert names == [n for n in feature_names(spec) if n in names]
    assert "int_cat_complaint_90d" in names and "int_cat_billing_90d" not in names
    assert {"nps_last", "int_days_since_contact", "util_logins_30d"} <= set(names)
    assert set(FEATURE_SETS) >= {"common"}


def test_families_not_asked_for_are_never_computed(messy, monkeypatch):
    tables, spine, spec, _ = messy
    ran: list[str] = []
    prepared: list[str] = []
    for name in ("usage", "nps", "balance", "_account_features"):
        target = engine_module._Engine if name != "_account_features" else engine_module
        real = getattr(target, name)
        monkeypatch.setattr(target, name, lambda *a, _r=real, _n=name: ran.append(_n) or _r(*a))
    for name in ("_prepare_usage", "_prepare_nps"):
        real = getattr(engine_module, name)
        monkeypatch.setattr(
            engine_module, name, lambda *a, _r=real, _n=name: prepared.append(_n) or _r(*a)
        )
    got = build_features(spine, tables, spec=spec, only=["int_tickets_30d"])
    assert list(got.columns) == ["customer_id", "as_of", "int_tickets_30d"]
    assert ran == [] and prepared == []


def test_an_unknown_or_unbuilt_name_is_a_clear_error(messy):
    tables, spine, spec, _ = messy
    with pytest.raises(ChurnError, match="'int_tickets_31d' is not built for this dataset"):
        build_features(spine, tables, spec=spec, only=["int_tickets_31d"])
    with pytest.raises(ChurnError, match="'no_such' is not in the catalogue"):
        build_features(spine, tables, spec=spec, only="no_such")


def test_selected_counts_keep_their_zero_fill(messy):
    tables, spine, spec, whole = messy
    got = build_features(spine, tables, spec=spec, only=["int_tickets_30d"])
    assert not np.isnan(got["int_tickets_30d"]).any()
