"""``churn score``'s shell: the spine of the scored week is built once, not once per use."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from churn.modeling import Calibrator, ChurnModel

pytestmark = pytest.mark.slow
#: The tiny model's probabilities are low: list by rank alone (no floor, no owner capacity).
LIST_ALL = {"min_probability": 0.0, "capacity_per_owner": None}


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    """A small simulated dataset and a tiny model trained on its own features (one thread)."""
    from churn import dataset
    from churn.data import load_dataset
    from churn.simulate import simulate, write_dataset
    from churn.spine import latest_complete_week

    root = tmp_path_factory.mktemp("week")
    tables = load_dataset(write_dataset(simulate(200, seed=4, months=9, mess_rate=0.0), root))
    as_of = latest_complete_week(tables.extraction_date)
    frame = dataset.build_scoring_frame(tables, as_of - pd.Timedelta(weeks=12))
    churn = frame["customer_id"].map(tables.customers.set_index("customer_id")["churn_date"])
    y = ((churn >= frame["as_of"]) & (churn < frame["as_of"] + pd.Timedelta(days=90))).astype(int)
    feats = [c for c in frame.columns if c not in ("customer_id", "as_of")]
    cats = [c for c in feats if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    booster = lgb.train(
        {"objective": "binary", "num_threads": 1, "verbose": -1, "num_leaves": 4, "seed": 1},
        lgb.Dataset(frame[feats], y),
        num_boost_round=5,
    )
    calibrator = Calibrator("sigmoid").fit(booster.predict(frame[feats]), y)
    model = ChurnModel(booster, calibrator, feats, 90, {"categorical_features": cats})
    return tables, model, as_of


def test_scoring_a_week_builds_its_spine_once(week, tmp_path, monkeypatch):
    from churn import dataset, spine
    from churn.pipelines.score import score_week
    from churn.settings import Settings

    calls = []
    real = spine.build_spine

    def counting(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    # Both names: the spine module's and the one the dataset module imported.
    monkeypatch.setattr(spine, "build_spine", counting)
    monkeypatch.setattr(dataset, "build_spine", counting)
    tables, model, as_of = week
    result = score_week(tables, model, as_of, Settings(), tmp_path)
    assert len(calls) == 1
    assert result.headline["active"] == result.headline["scored"] + result.headline["excluded"]


def test_the_control_group_is_held_out_of_everything_sent(week, tmp_path):
    import io
    import json

    from openpyxl import load_workbook

    from churn.pipelines.score import score_week
    from churn.settings import settings_from_dict

    tables, model, as_of = week
    settings = settings_from_dict(
        {"scoring": LIST_ALL | {"list_size": 60}, "control": {"share": 0.2}}
    )
    folder = score_week(tables, model, as_of, settings, tmp_path).folder
    control = pd.read_csv(folder / "control.csv", dtype={"customer_id": str})
    sent = pd.read_csv(folder / "at_risk.csv", dtype={"customer_id": str})
    assert len(control) >= 10 and not set(control["customer_id"]) & set(sent["customer_id"])
    in_workbooks = set()
    for book in (folder / "owners").glob("*.xlsx"):
        ws = load_workbook(io.BytesIO(book.read_bytes()))["At risk"]
        in_workbooks |= {str(c.value) for c in ws["B"]}
    assert in_workbooks and not set(control["customer_id"]) & in_workbooks
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["counts"]["control"] == len(control)
    assert manifest["counts"]["alerts"] == len(pd.read_csv(folder / "alerts.csv"))
    # The same week scored again draws the same control group.
    again = score_week(tables, model, as_of, settings, tmp_path / "again").folder
    assert (again / "control.csv").read_bytes() == (folder / "control.csv").read_bytes()
    # No control group: nothing held out, the whole list is sent.
    none = settings_from_dict({"scoring": LIST_ALL | {"list_size": 60}, "control": {"share": 0.0}})
    whole = score_week(tables, model, as_of, none, tmp_path / "none").folder
    assert len(pd.read_csv(whole / "at_risk.csv")) == len(sent) + len(control)


def test_an_open_play_is_marked_on_the_list_and_not_sent_as_new(week, tmp_path):
    import io

    from openpyxl import load_workbook

    from churn.pipelines.score import score_week
    from churn.settings import settings_from_dict

    tables, model, as_of = week
    settings = settings_from_dict(
        {"scoring": LIST_ALL | {"list_size": 40}, "control": {"share": 0.0}}
    )
    first = pd.read_csv(
        score_week(tables, model, as_of, settings, tmp_path / "a").folder / "at_risk.csv"
    )
    assert (first["change"] == "new").all()  # no earlier week: everyone is new
    worked, closed = str(first.loc[0, "customer_id"]), str(first.loc[1, "customer_id"])
    started = as_of - pd.Timedelta(days=10)
    actions = pd.DataFrame(
        {
            "customer_id": [worked, closed],
            "play": ["Call", "Call"],
            "owner": [None, None],
            "started_at": [started, started],
            "status": ["in progress", "done"],
            "outcome": [None, "saved"],
            "closed_at": [pd.NaT, as_of - pd.Timedelta(days=3)],
            "note": [None, None],
        }
    ).astype({"started_at": "datetime64[ns]", "closed_at": "datetime64[ns]"})
    result = score_week(tables, model, as_of, settings, tmp_path / "b", actions=actions)
    listed = pd.read_csv(result.folder / "at_risk.csv", dtype={"customer_id": str})
    row = listed.set_index("customer_id")
    assert (
        row.loc[worked, "change"] == "in play" and row.loc[worked, "play_status"] == "in progress"
    )
    assert row.loc[closed, "change"] == "new" and pd.isna(row.loc[closed, "play_status"])
    assert result.headline["new"] == len(listed) - 1
    html = (result.folder / "report.html").read_text()
    assert f"play in progress since {started.date()}" in html
    markers = []
    for book in (result.folder / "owners").glob("*.xlsx"):
        ws = load_workbook(io.BytesIO(book.read_bytes()))["At risk"]
        head = [c.value for c in ws[1]]
        col = head.index("Play in progress")
        markers += [r[col] for r in ws.iter_rows(min_row=2, values_only=True) if r[col]]
    assert markers == [f"in progress since {started.date()}"]


def test_a_hybrid_model_scores_a_week_with_its_offset(week, tmp_path):
    from churn import dataset
    from churn.modeling import LinearOffset
    from churn.modeling.hybrid import linear_features
    from churn.pipelines.score import score_week
    from churn.settings import settings_from_dict

    tables, model, as_of = week
    frame = dataset.build_scoring_frame(tables, as_of)
    feats = linear_features(frame, model.feature_names)
    y = (model.predict_raw(frame) > np.median(model.predict_raw(frame))).astype(float)
    offset = LinearOffset(feats).fit(frame, y)
    hybrid = ChurnModel(
        model.booster, model.calibrator, model.feature_names, 90, model.metadata, offset
    )
    settings = settings_from_dict({"scoring": LIST_ALL | {"list_size": 30}})
    plain = score_week(tables, model, as_of, settings, tmp_path / "plain")
    result = score_week(tables, hybrid, as_of, settings, tmp_path / "hybrid")
    assert result.headline["scored"] == plain.headline["scored"] > 0
    listed = pd.read_csv(result.folder / "at_risk.csv", dtype={"customer_id": str})
    mine = listed.set_index("customer_id")["churn_probability"]
    X = frame.set_index("customer_id").loc[mine.index]
    np.testing.assert_allclose(mine, hybrid.predict_proba(X), atol=5e-3)  # rounded on the list
    assert not np.allclose(hybrid.predict_proba(X), model.predict_proba(X), atol=5e-3)


def test_scoring_a_week_builds_its_features_on_the_configured_engine(week, tmp_path, monkeypatch):
    from churn import dataset
    from churn.pipelines.score import score_week
    from churn.settings import settings_from_dict

    seen, real = [], dataset.build_features

    def recording(*args, **kwargs):
        seen.append(kwargs.get("engine"))
        return real(*args, **kwargs)

    monkeypatch.setattr(dataset, "build_features", recording)
    tables, model, as_of = week
    # A DuckDB engine that differs from the default, so that it runs here and is recognisable.
    settings = settings_from_dict({"engine": {"spark_conf": {"spark.sql.shuffle.partitions": "2"}}})
    score_week(tables, model, as_of, settings, tmp_path)
    assert seen == [settings.engine]
