"""End to end: train, score consecutive past weeks, then `churn monitor` shows each matured
week's realised precision and calibration beside the estimate made that week."""

from __future__ import annotations

import json

import pandas as pd
import pytest

pytestmark = pytest.mark.slow

MATURED = ["2025-09-08", "2025-09-15", "2025-09-22"]  # label windows end before 2026-01-01
RECENT = ["2025-12-29"]


@pytest.fixture(scope="module")
def monitored(tmp_path_factory):
    from churn.data import load_dataset
    from churn.pipelines.champion import load_champion
    from churn.pipelines.monitor import run_monitor
    from churn.pipelines.score import score_week
    from churn.pipelines.train import run_train
    from churn.settings import load_settings
    from churn.simulate import simulate, write_dataset

    root = tmp_path_factory.mktemp("monitor")
    data = write_dataset(simulate(500, seed=3, months=24), root / "data")
    config = root / "model.yaml"
    config.write_text(
        "training:\n  num_boost_round: 300\n  bootstrap_resamples: 100\n"
        "monitoring:\n  reference_snapshots: 2\n  bootstrap_resamples: 200\n",
        encoding="utf-8",
    )
    uri = f"sqlite:///{root / 'mlflow.db'}"
    run_train(data, config, tracking_uri=uri, progress=False, run_backtest=False)
    model, tables, settings = load_champion(uri), load_dataset(data), load_settings(config)
    for day in MATURED + RECENT:
        score_week(tables, model, pd.Timestamp(day), settings, root / "weeks")
    result = run_monitor(data, root / "weeks", root / "monitoring", config, uri, progress=False)
    return result, uri, model


def test_each_matured_week_shows_realised_beside_expected(monitored):
    result, _, model = monitored
    report = json.loads((result.folder / "monitor.json").read_text(encoding="utf-8"))
    weeks = {w["as_of"]: w for w in report["weeks"]}
    assert list(weeks) == MATURED + RECENT
    for day in MATURED:
        w = weeks[day]
        assert w["matured"] and w["model_version"] == model.metadata["model_version"]
        r, e = w["realised"], w["expected"]
        assert r["n"] > 300 and r["churners"] > 0
        lo, hi = r["list_precision"]["low"], r["list_precision"]["high"]
        assert 0 <= lo <= r["list_precision"]["estimate"] <= hi <= 1
        assert 0 < e["list_precision"] < 1 and 0.5 < e["roc_auc"] < 1
        # Calibration: predicted against realised churn, overall and per tier.
        assert r["predicted_rate"] == pytest.approx(e["churn_rate"], rel=0.05)
        assert sum(t["n"] for t in r["tiers"]) == r["n"]
    assert weeks[RECENT[0]]["realised"] is None and not weeks[RECENT[0]]["matured"]
    page = (result.folder / "monitor.html").read_text(encoding="utf-8")
    for day in MATURED + RECENT:
        assert day in page
    assert "list precision: expected" in page and "predicted churn" in page


def test_staleness_and_drift_are_reported(monitored):
    result, _, _ = monitored
    report = result.report
    stale = report["staleness"]
    assert stale["latest_as_of"] == RECENT[0] and stale["age_days"] > 0
    # The deployed refit: trained through its calibration window, the latest labelled one,
    # which is also the drift reference (read from the run's deployed_* parameters).
    assert report["reference_dates"] == ["2025-09-08", "2025-09-29"]
    assert str(stale["training_end"]).startswith("2025-09-29")
    assert report["champion"]["fit_as_of"].endswith("(25 dates)")
    assert all(w["drift"]["top"] for w in report["weeks"])
    assert isinstance(report["recommendation"]["retrain"], bool)


def test_the_figures_are_logged_to_the_champions_run(monitored):
    from mlflow import MlflowClient

    result, uri, model = monitored
    client = MlflowClient(tracking_uri=uri)
    run_id = model.metadata["run_id"]
    history = client.get_metric_history(run_id, "monitor.realised_list_precision")
    assert len(history) == len(MATURED)
    assert len(client.get_metric_history(run_id, "monitor.expected_roc_auc")) == 4
    tags = client.get_run(run_id).data.tags
    assert tags["monitor_retrain"] == str(result.report["recommendation"]["retrain"])
    names = [a.path for a in client.list_artifacts(run_id, "monitoring")]
    assert names == ["monitoring/monitor.html", "monitoring/monitor.json"]
