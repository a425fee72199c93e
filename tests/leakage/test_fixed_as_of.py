"""The fixed-as_of protocol learns only from what was known before ``as_of``.

Training snapshots end a training horizon before ``as_of`` (their labels are known then), the
spec, the training rows and the test features come from the data known before ``as_of``, and
only the test labels read the weeks after it. Rewriting everything at or after ``as_of`` but
the test labels' source cannot change a thing the model learns from.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from churn.contract import Tables, empty_table
from churn.data import parse_config
from churn.dataset import fixed_as_of_frame, known_before
from churn.errors import ChurnError
from churn.modeling import fixed_as_of_split
from churn.settings import SnapshotSettings

DAY0 = pd.Timestamp("2024-01-01")
AS_OF = pd.Timestamp("2024-07-01")
DAY = pd.Timedelta(days=1)
SNAPS = SnapshotSettings(warmup_days=30, cadence="W-MON")


def purchase_log(seed: int = 0, n: int = 60, extraction: float = 400) -> Tables:
    rng = np.random.default_rng(seed)
    ids = [f"c{i:02d}" for i in range(n)]
    rows = []
    for c in ids:
        t = rng.uniform(0, 60)
        rate = rng.uniform(5, 60)
        while t < extraction - 1:
            rows.append((c, DAY0 + int(t) * DAY, float(rng.integers(1, 50))))
            if rng.random() < 0.08:
                break
            t += rng.exponential(rate)
    usage = pd.DataFrame(rows, columns=["customer_id", "date", "dollars"])
    usage = usage.drop_duplicates(["customer_id", "date"]).reset_index(drop=True)
    usage["recorded_at"] = usage["date"] + DAY
    first = usage.groupby("customer_id")["date"].min()
    customers = pd.DataFrame({"customer_id": first.index, "signup_date": first.to_numpy()})
    return Tables(
        customers=customers,
        interactions=empty_table("interactions"),
        nps=empty_table("nps"),
        usage=usage,
        extraction_date=DAY0 + extraction * DAY,
        usage_period="day",
        usage_metrics=("dollars",),
        churn_definition="inactivity",
        inactivity_days=120,
    )


def frame_of(tables: Tables) -> pd.DataFrame:
    frame, _ = fixed_as_of_frame(tables, SNAPS, AS_OF, 120, 56)
    return frame


def test_training_labels_end_by_as_of_and_the_test_is_at_as_of():
    frame = frame_of(purchase_log())
    train, test = frame[frame["as_of"] < AS_OF], frame[frame["as_of"] == AS_OF]
    assert len(train) and len(test)
    assert (train["as_of"] + 56 * DAY <= AS_OF).all()
    assert train["label"].notna().all() and test["label"].notna().all()
    assert 0 < test["label"].mean() < 1  # a defined test AUC
    assert "act_recency_over_gap" in frame


def test_rewriting_everything_after_as_of_changes_only_the_test_labels():
    tables = purchase_log(seed=1)
    u = tables.usage
    after = u["date"] >= AS_OF
    # Drop every later purchase, then invent others at and after as_of, some recorded late.
    rng = np.random.default_rng(7)
    invented = pd.DataFrame(
        {
            "customer_id": rng.choice(tables.customers["customer_id"], 40),
            "date": AS_OF + pd.to_timedelta(rng.integers(0, 200, 40), unit="D"),
            "dollars": 999.0,
        }
    ).drop_duplicates(["customer_id", "date"])
    invented["recorded_at"] = invented["date"] + DAY
    late = u.loc[~after].sample(5, random_state=0).assign(recorded_at=AS_OF)  # arrives at as_of
    kept = u.loc[~after].drop(late.index)
    before = dataclasses.replace(tables, usage=pd.concat([kept, late], ignore_index=True))
    rewritten = dataclasses.replace(before, usage=pd.concat([kept, late, invented]))
    a, b = frame_of(before), frame_of(rewritten)
    pd.testing.assert_frame_equal(a.drop(columns="label"), b.drop(columns="label"))
    train = a["as_of"] < AS_OF
    pd.testing.assert_series_equal(a.loc[train, "label"], b.loc[train, "label"])
    assert not a.loc[~train, "label"].equals(b.loc[~train, "label"])  # the test labels did move


def test_known_before_keeps_only_what_was_known():
    tables = purchase_log(seed=2)
    known = known_before(tables, AS_OF)
    assert (known.usage["date"] + DAY <= AS_OF).all()
    assert (known.usage["recorded_at"] < AS_OF).all()
    assert known.extraction_date == AS_OF and len(tables.usage) > len(known.usage)


def test_split_holds_customers_out_and_tests_at_as_of_only():
    frame = frame_of(purchase_log(seed=3))
    split = fixed_as_of_split(frame, AS_OF, 56, 120, seed=0)
    fit, valid, test = (split.part(frame, p) for p in ("fit", "valid", "test"))
    assert set(fit["customer_id"]).isdisjoint(valid["customer_id"])
    assert (test["as_of"] == AS_OF).all() and (fit["as_of"] < AS_OF).all()
    assert len(fit) + len(valid) == len(split.part(frame, "train"))


def test_a_training_horizon_that_leaves_no_snapshot_is_a_clear_error():
    with pytest.raises(ChurnError, match="no snapshot dates"):
        fixed_as_of_frame(purchase_log(), SNAPS, AS_OF, 120, 170)


def test_the_evaluation_section_is_checked(tmp_path):
    ok = parse_config(
        {
            "extraction_date": "1998-07-01",
            "churn": {"definition": "inactivity", "inactivity_days": 273},
            "evaluation": {"as_of": "1997-10-01", "horizon_days": 273, "train_horizon_days": 91},
        },
        tmp_path,
    )
    assert ok.evaluation.as_of == pd.Timestamp("1997-10-01") and ok.evaluation.train_horizon() == 91
    with pytest.raises(ChurnError, match="after the extraction date"):
        parse_config(
            {"extraction_date": "1998-07-01", "evaluation": {"as_of": "1998-01-01",
             "horizon_days": 273}},
            tmp_path,
        )  # fmt: skip
    with pytest.raises(ChurnError, match="unknown key 'horizon' in evaluation"):
        parse_config({"evaluation": {"as_of": "1998-01-01", "horizon": 1}}, tmp_path)


def test_the_model_kind_is_chosen_on_the_protocol_moved_back_before_as_of():
    from churn.dataset import fixed_as_of_fold
    from churn.modeling import select_kind
    from churn.settings import TrainingSettings

    tables = purchase_log(seed=4, n=80)
    fold = fixed_as_of_fold(tables, SNAPS, AS_OF, 120, 56)
    deployed = fixed_as_of_split(frame_of(tables), AS_OF, 56, 120, seed=0)
    # The deployment moved back one training horizon: same gap after the last fitted snapshot,
    # the deployment's fitted dates moved back (those still in the history), labels by as_of.
    assert fold.as_of == AS_OF - 56 * DAY and fold.horizon_days == 56
    assert fold.gap_days == (AS_OF - max(deployed.fit_dates)).days
    fitted = set(fold.frame.loc[fold.frame["as_of"] < fold.as_of, "as_of"])
    moved = {d - 56 * DAY for d in deployed.fit_dates}
    assert fitted == {d for d in moved if d > tables.usage["date"].min()} and len(fitted) >= 8
    assert fold.frame["as_of"].max() + fold.horizon_days * DAY <= AS_OF
    tr = TrainingSettings(num_threads=1, num_boost_round=40, early_stopping_rounds=10)
    tr = tr.model_copy(update={"lightgbm": {**tr.lightgbm, "min_child_samples": 10}})
    chosen = select_kind(fold, tr)
    # Everything at or after as_of made up: later purchases dropped, others invented.
    u = tables.usage
    rng = np.random.default_rng(0)
    invented = pd.DataFrame(
        {
            "customer_id": rng.choice(tables.customers["customer_id"], 60),
            "date": AS_OF + pd.to_timedelta(rng.integers(0, 90, 60), unit="D"),
            "dollars": 999.0,
        }
    ).drop_duplicates(["customer_id", "date"])
    invented["recorded_at"] = invented["date"] + DAY
    rewritten = dataclasses.replace(
        tables, usage=pd.concat([u.loc[u["date"] < AS_OF], invented], ignore_index=True)
    )
    again = fixed_as_of_fold(rewritten, SNAPS, AS_OF, 120, 56)
    pd.testing.assert_frame_equal(fold.frame, again.frame)
    assert select_kind(again, tr) == chosen and chosen.scores  # the same choice, same scores


def test_a_history_too_short_for_a_fold_gives_none():
    from churn.dataset import fixed_as_of_fold

    # Training snapshots end 150 days before as_of: moved back 150 more, none is left.
    assert fixed_as_of_fold(purchase_log(), SNAPS, AS_OF, 120, 150) is None
