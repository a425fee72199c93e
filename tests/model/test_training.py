"""Out-of-time split, training and the ChurnModel on small synthetic snapshot frames."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from churn.errors import ChurnError
from churn.modeling import (
    backtest,
    backtest_summary,
    feature_columns,
    out_of_time_split,
    train_model,
    tune,
)
from churn.settings import Settings, SnapshotSettings, TrainingSettings

FAST_LGB = {"learning_rate": 0.2, "num_leaves": 7, "min_child_samples": 20}


def _dates(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2023-01-02", periods=n, freq="W-MON")


def _frame_of_dates(dates: pd.DatetimeIndex, censored_after: pd.Timestamp | None = None):
    """Two customers per date, labels alternate; rows after ``censored_after`` are censored."""
    frame = pd.DataFrame(
        {
            "customer_id": np.tile(["a", "b"], len(dates)),
            "as_of": np.repeat(dates, 2),
            "label": np.tile([0.0, 1.0], len(dates)),
            "x": 1.0,
        }
    )
    if censored_after is not None:
        frame.loc[frame["as_of"] > censored_after, "label"] = np.nan
    return frame


def synthetic_frame(n_customers: int = 400, n_dates: int = 60, seed: int = 0) -> pd.DataFrame:
    """Weekly snapshots whose churn depends on NPS, usage, complaints and segment."""
    rng = np.random.default_rng(seed)
    dates = _dates(n_dates)
    segment = rng.choice(["SMB", "Mid", "Ent"], n_customers)
    parts = []
    for d in dates:
        nps = rng.integers(0, 11, n_customers).astype(float)
        nps[rng.random(n_customers) < 0.2] = np.nan
        util = rng.lognormal(0, 0.3, n_customers)
        complaints = rng.poisson(0.3, n_customers).astype(float)
        logit = (
            -2.5
            + 0.35 * np.clip(6 - np.nan_to_num(nps, nan=6), 0, None)
            - 2.0 * (util - 1)
            + 0.8 * complaints
            + 0.5 * (segment == "SMB")
        )
        y = (rng.random(n_customers) < 1 / (1 + np.exp(-logit))).astype(float)
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": [f"c{i}" for i in range(n_customers)],
                    "as_of": d,
                    "label": y,
                    "nps_last": nps,
                    "util_active_users_ratio_30d_90d": util,
                    "int_open_complaints_14d": complaints,
                    "acct_segment": pd.Categorical(segment),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    # The last 13 weeks cannot be labelled yet: their 90-day window is still open.
    frame.loc[frame["as_of"] > dates[-14], "label"] = np.nan
    return frame


def fast_settings(**training) -> Settings:
    base = TrainingSettings(num_threads=1, num_boost_round=200, early_stopping_rounds=20)
    lgb = {**base.lightgbm, **FAST_LGB}
    return Settings(training=base.model_copy(update={"lightgbm": lgb, **training}))


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic_frame()


@pytest.fixture(scope="module")
def trained(frame):
    return train_model(frame, fast_settings())


# --- the split ----------------------------------------------------------------------------

SNAP_28 = SnapshotSettings(horizon_days=28, lead_days=0)


def test_test_window_is_the_latest_labelled_dates():
    dates = _dates(40)
    split = out_of_time_split(
        _frame_of_dates(dates), TrainingSettings(test_snapshots=2, valid_snapshots=2), SNAP_28
    )
    assert split.test_dates == tuple(dates[-2:])


def test_no_label_window_overlaps_across_the_gaps():
    dates = _dates(40)
    split = out_of_time_split(
        _frame_of_dates(dates), TrainingSettings(test_snapshots=3, valid_snapshots=2), SNAP_28
    )
    horizon = pd.Timedelta(days=28)
    assert max(split.valid_dates) + horizon <= min(split.test_dates)
    assert max(split.fit_dates) + horizon <= min(split.valid_dates)


def test_the_gap_is_as_short_as_the_horizon_allows():
    dates = _dates(40)
    split = out_of_time_split(
        _frame_of_dates(dates), TrainingSettings(test_snapshots=2, valid_snapshots=2), SNAP_28
    )
    # 28 days = 4 weekly steps: the validation window ends exactly 4 weeks before the test.
    assert min(split.test_dates) - max(split.valid_dates) == pd.Timedelta(days=28)


def test_lead_time_widens_the_gap():
    dates = _dates(40)
    snaps = SnapshotSettings(horizon_days=28, lead_days=14)
    split = out_of_time_split(
        _frame_of_dates(dates), TrainingSettings(test_snapshots=2, valid_snapshots=2), snaps
    )
    assert min(split.test_dates) - max(split.valid_dates) >= pd.Timedelta(days=42)


def test_no_test_date_is_used_for_training_or_validation():
    dates = _dates(40)
    split = out_of_time_split(_frame_of_dates(dates), TrainingSettings(), SNAP_28)
    assert not set(split.test_dates) & (set(split.fit_dates) | set(split.valid_dates))
    assert not set(split.fit_dates) & set(split.valid_dates)


def test_censored_snapshots_are_in_no_window():
    dates = _dates(40)
    frame = _frame_of_dates(dates, censored_after=dates[-5])
    split = out_of_time_split(frame, TrainingSettings(test_snapshots=2), SNAP_28)
    assert max(split.test_dates) == dates[-5]
    assert len(split.part(frame, "test")) == 4  # 2 dates x 2 customers, all labelled


def test_train_every_thins_training_dates_but_keeps_the_latest():
    dates = _dates(40)
    frame = _frame_of_dates(dates)
    every1 = out_of_time_split(frame, TrainingSettings(train_every=1), SNAP_28)
    every3 = out_of_time_split(frame, TrainingSettings(train_every=3), SNAP_28)
    assert max(every3.fit_dates) == max(every1.fit_dates)
    assert len(every3.fit_dates) == -(-len(every1.fit_dates) // 3)
    assert set(every3.fit_dates) <= set(every1.fit_dates)


def test_short_history_is_a_user_error_naming_the_fix():
    frame = _frame_of_dates(_dates(8))
    with pytest.raises(ChurnError, match="longer history"):
        out_of_time_split(frame, TrainingSettings(), SnapshotSettings(horizon_days=90))


def test_dropping_latest_dates_moves_the_test_window_back():
    dates = _dates(40)
    frame = _frame_of_dates(dates)
    tr = TrainingSettings(test_snapshots=2)
    later = out_of_time_split(frame, tr, SNAP_28)
    earlier = out_of_time_split(frame, tr, SNAP_28, drop_latest=2)
    assert max(earlier.test_dates) < min(later.test_dates)


# --- features -----------------------------------------------------------------------------


def test_keys_and_text_columns_are_not_features():
    frame = pd.DataFrame(
        {
            "customer_id": ["a"],
            "as_of": pd.to_datetime(["2024-01-01"]),
            "label": [1.0],
            "nps_last": [3.0],
            "acct_segment": pd.Categorical(["SMB"]),
            "acct_name": ["Acme"],
            "flag": [True],
        }
    )
    assert feature_columns(frame) == ["nps_last", "acct_segment", "flag"]


# --- the trained model --------------------------------------------------------------------


def test_training_does_not_mutate_the_frame(frame):
    before = frame.copy()
    train_model(frame, fast_settings())
    pd.testing.assert_frame_equal(frame, before)


def test_model_ranks_held_out_weeks_well(frame, trained):
    from churn.modeling import roc_auc

    test = trained.split.part(frame, "test")
    assert roc_auc(test["label"], trained.model.predict_proba(test)) > 0.75


def test_model_records_windows_and_categorical_features(trained):
    meta = trained.model.metadata
    assert meta["categorical_features"] == ["acct_segment"]
    assert meta["deployed_model"] == "validated"
    assert {"fit_as_of", "valid_as_of", "test_as_of"} <= set(meta)
    assert trained.row_counts["test"] > 0


def test_contributions_add_up_to_the_raw_log_odds(frame, trained):
    rows = frame.head(20)
    contrib = trained.model.contributions(rows)
    assert list(contrib.columns) == [*trained.features, "bias"]
    assert contrib.index.equals(rows.index)
    raw = trained.model.predict_raw(rows)
    np.testing.assert_allclose(contrib.sum(axis=1), np.log(raw / (1 - raw)), atol=1e-6)


def test_scoring_frames_with_strings_or_reordered_categories_predict_the_same(frame, trained):
    rows = frame.head(30)
    as_text = rows.assign(acct_segment=rows["acct_segment"].astype(str))
    reordered = rows.assign(
        acct_segment=rows["acct_segment"].cat.reorder_categories(["SMB", "Mid", "Ent"])
    )
    p = trained.model.predict_proba(rows)
    np.testing.assert_allclose(trained.model.predict_proba(as_text), p)
    np.testing.assert_allclose(trained.model.predict_proba(reordered), p)


def test_scoring_a_frame_without_a_trained_feature_says_retrain(frame, trained):
    with pytest.raises(ChurnError, match="retrain"):
        trained.model.predict_proba(frame.drop(columns=["nps_last"]).head(3))


def test_sigmoid_calibration_can_be_configured(frame):
    result = train_model(frame, fast_settings(calibration="sigmoid"))
    assert result.model.calibrator.method == "sigmoid"


# --- backtest and tuning -------------------------------------------------------------------


def test_backtest_windows_step_back_without_overlap(frame):
    table = backtest(frame, fast_settings(backtest_windows=2, test_snapshots=2), cheap=False)
    assert table["window"].tolist() == [0, 1]
    assert table.loc[1, "test_end"] < table.loc[0, "test_start"]
    summary = backtest_summary(table)
    assert summary["backtest_windows"] == 2
    assert summary["backtest_roc_auc_min"] <= summary["backtest_roc_auc_mean"]


def test_tuning_returns_lightgbm_parameters_within_budget(frame):
    best, trials = tune(frame, fast_settings(), n_trials=2)
    assert {"learning_rate", "num_leaves"} <= set(best)
    assert len(trials) == 2


# --- end to end: churn train ---------------------------------------------------------------


@pytest.mark.slow
def test_train_logs_registers_and_gates_against_the_champion(tmp_path):
    import mlflow
    from typer.testing import CliRunner

    from churn.cli import app
    from churn.pipelines import champion, tracking
    from churn.pipelines.train import run_train
    from churn.simulate import simulate, write_dataset

    data = tmp_path / "data"
    write_dataset(simulate(800, seed=5, mess_rate=0.0), data)
    config = tmp_path / "model.yaml"
    config.write_text(
        "training:\n  num_threads: 1\n  backtest_windows: 2\n  shap_sample: 200\n"
        "  capacity_k: 20\n  lightgbm:\n    learning_rate: 0.1\n"
    )
    uri = f"sqlite:///{tmp_path}/models/mlflow.db"

    truth = data / "ground_truth"
    first = run_train(data, config, oracle=truth, force=True, tracking_uri=uri, progress=False)
    loaded = champion.load_champion(uri)
    assert loaded.metadata["model_version"] == first.model_version
    assert first.promoted
    for key in (
        "test_roc_auc",
        "test_ece",
        "baseline_rule_roc_auc",
        "baseline_logreg_roc_auc",
        "oracle_roc_auc",
        "model_oracle_ratio",
        "backtest_roc_auc_mean",
    ):
        assert key in first.metrics, key

    # Same data, same seed: the challenger (the deployed refit) ties the champion re-scored on
    # the same test rows. Without --oracle there is no oracle column, even though the folder
    # holds ground_truth/.
    second = run_train(data, config, tracking_uri=uri, progress=False, run_backtest=False)
    deployed = second.metrics["deployed_test_roc_auc"]
    assert second.metrics["champion_test_roc_auc"] == pytest.approx(deployed)
    assert loaded.metadata["deployed_model"] == "refit"
    assert second.champion_version_before == first.model_version
    assert not [k for k in second.metrics if "oracle" in k]
    assert "oracle" not in second.comparison.columns and "oracle" in first.comparison.columns

    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.get_run(second.run_id)
    assert run.data.tags["gate_outcome"] == second.gate_outcome
    assert run.data.tags["has_oracle"] == "False"
    # What the deployed model was fitted on is on the run: the refit's windows and cut-off.
    assert run.data.params["deployed_model"] == "refit"
    assert run.data.params["deployed_trained_through"] == str(loaded.metadata["trained_through"])
    assert run.data.tags["deployed_model"].startswith("refit: the validated settings")
    assert client.get_run(first.run_id).data.tags["has_oracle"] == "True"
    assert run.data.params["data_hash"] == client.get_run(first.run_id).data.params["data_hash"]
    with tracking.using_tracking_uri(uri):
        logged = {a.path for a in client.list_artifacts(first.run_id, "plots")}
        extra = {a.path for a in client.list_artifacts(first.run_id, "model_extra")}
    assert {"plots/roc_pr.png", "plots/calibration.png", "plots/shap_beeswarm.png"} <= logged
    assert "model_extra/calibrator.json" in extra
    assert (tmp_path / "models" / "mlartifacts").is_dir()

    # The CLI prints the comparison and the gate, and user errors exit with code 2.
    runner = CliRunner()
    missing = runner.invoke(app, ["train", "--data", str(tmp_path / "nope")])
    assert missing.exit_code != 0
    assert "--oracle" in runner.invoke(app, ["train", "--help"]).output
    # A wrong --oracle fails at once, before minutes of training, naming the folder.
    with pytest.raises(ChurnError, match="--oracle"):
        run_train(data, config, oracle=tmp_path / "no", tracking_uri=uri, progress=False)


def test_training_starts_a_warmup_after_the_event_history_not_the_first_signup():
    from churn.contract import Tables, empty_table
    from churn.dataset import first_snapshot

    customers = pd.DataFrame(
        {"customer_id": ["old", "new"], "signup_date": pd.to_datetime(["2016-03-01", "2024-05-01"])}
    )
    nps = empty_table("nps")
    usage = pd.DataFrame(
        {"customer_id": ["old"], "date": pd.to_datetime(["2024-01-01"]), "active_users": [3.0]}
    )
    tables = Tables(
        customers=customers,
        interactions=empty_table("interactions"),
        nps=nps,
        usage=usage,
        extraction_date=pd.Timestamp("2025-01-01"),
    )
    settings = Settings(snapshots=SnapshotSettings(warmup_days=30))
    # Snapshots from 2016 would see no events and could only be labelled "stayed".
    assert first_snapshot(tables, settings.snapshots) == pd.Timestamp("2024-01-31")
    # Without any events, the first signup starts the history.
    empty = replace(tables, usage=empty_table("usage"))
    assert first_snapshot(empty, settings.snapshots) == pd.Timestamp("2016-03-31")


def test_split_masks_take_the_rows_their_parts_take():
    """compare.py selects the logistic baseline's rows by ``mask``: for both split kinds it must
    be exactly the rows ``part`` returns (the fixed-as_of split lacked it)."""
    from churn.modeling.protocol import FixedAsOfSplit
    from churn.modeling.training import OutOfTimeSplit

    dates = pd.date_range("2025-01-06", periods=6, freq="7D")
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i % 5}" for i in range(30)],
            "as_of": np.repeat(dates, 5),
            "label": [np.nan if i % 7 == 0 else float(i % 2) for i in range(30)],
        }
    )
    fixed = FixedAsOfSplit(
        fit_dates=tuple(dates[:3]),
        valid_dates=(),
        test_dates=(dates[5],),
        gap_days=7,
        valid_customers=frozenset({"C1", "C3"}),
        test_horizon_days=28,
    )
    rolling = OutOfTimeSplit(
        fit_dates=tuple(dates[:2]),
        valid_dates=tuple(dates[2:4]),
        test_dates=(dates[5],),
        gap_days=7,
    )
    for split, names in (
        (fixed, ("fit", "valid", "train", "test")),
        (rolling, ("fit", "valid", "train", "test")),
    ):
        for name in names:
            taken = frame[split.mask(frame, name)]
            pd.testing.assert_frame_equal(taken, split.part(frame, name))
            assert len(taken) > 0
