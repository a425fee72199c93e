"""The model kinds of the fixed-as_of protocol: LightGBM, a hybrid boosted from a linear offset,
and the offset alone; how they predict, explain, travel through the registry and are chosen."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.dataset import ValidationFold
from churn.modeling import (
    LinearOffset,
    fixed_as_of_split,
    select_kind,
    train_model,
)
from churn.settings import Settings, TrainingSettings

AS_OF = pd.Timestamp("2024-07-01")


def drifting_frame(seed: int = 0, n: int = 120, weeks: int = 14, far: float = 30) -> pd.DataFrame:
    """Weekly snapshots whose ``x`` grows with the date (like days of silence) and whose churn
    is logistic in it, then a test date ``AS_OF`` far beyond every training ``x``."""
    rng = np.random.default_rng(seed)
    dates = [*pd.date_range("2024-01-01", periods=weeks, freq="W-MON"), AS_OF]
    parts = []
    for i, d in enumerate(dates):
        step = far if d == AS_OF else i
        x = step + rng.normal(0, 4, n)
        y = (rng.random(n) < 1 / (1 + np.exp(-(x - 8) / 3))).astype(float)
        z = rng.normal(size=n)
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": [f"c{k:03d}" for k in range(n)],
                    "as_of": d,
                    "label": y,
                    "x": x,
                    "z": np.where(rng.random(n) < 0.1, np.nan, z),
                    "seg": pd.Categorical(rng.choice(["a", "b"], n)),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


SETTINGS = Settings(
    training=TrainingSettings(num_threads=1, num_boost_round=60, early_stopping_rounds=10)
)
TR = SETTINGS.training.model_copy(
    update={"lightgbm": {**SETTINGS.training.lightgbm, "min_child_samples": 20}}
)
SETTINGS = SETTINGS.model_copy(update={"training": TR})


def split_of(frame: pd.DataFrame):
    return fixed_as_of_split(frame, AS_OF, 21, 21, seed=1)


@pytest.fixture(scope="module")
def trained():
    frame = drifting_frame()
    split = split_of(frame)
    kinds = {k: train_model(frame, SETTINGS, split=split, kind=k).model for k in
             ("lightgbm", "hybrid", "logistic")}  # fmt: skip
    return frame, kinds


def _logit(p):
    return np.log(p / (1 - p))


def test_offset_terms_add_up_to_its_logit_and_survive_json():
    frame = drifting_frame()
    offset = LinearOffset(["x", "z"]).fit(frame, frame["label"].to_numpy())
    assert offset.indicator_.tolist() == [False, True]  # z had gaps: it gets an indicator
    terms = offset.terms(frame)
    np.testing.assert_allclose(offset.intercept_ + terms.sum(axis=1), offset.logit(frame))
    np.testing.assert_allclose(terms.mean(axis=0), 0.0, atol=1e-9)  # centred: SHAP values
    again = LinearOffset.from_dict(offset.to_dict())
    np.testing.assert_array_equal(again.logit(frame), offset.logit(frame))


def test_a_hybrid_predicts_the_offset_plus_the_trees(trained):
    frame, kinds = trained
    model = kinds["hybrid"]
    assert model.kind == "hybrid" and model.offset is not None
    trees = model.booster.predict(model.prepare(frame), raw_score=True)
    assert np.abs(trees).max() > 0  # the trees do add something here
    expected = 1 / (1 + np.exp(-(model.offset.logit(frame) + trees)))
    np.testing.assert_allclose(model.predict_raw(frame), expected, rtol=1e-12)
    contrib = model.contributions(frame.head(50))
    np.testing.assert_allclose(contrib.sum(axis=1), _logit(model.predict_raw(frame.head(50))))


def test_the_logistic_kind_is_the_offset_alone(trained):
    frame, kinds = trained
    model = kinds["logistic"]
    assert model.kind == "logistic"
    np.testing.assert_array_equal(model.booster.predict(model.prepare(frame), raw_score=True), 0)
    np.testing.assert_allclose(
        model.predict_raw(frame), 1 / (1 + np.exp(-model.offset.logit(frame))), rtol=1e-12
    )


def test_the_plain_kind_has_no_offset(trained):
    _, kinds = trained
    assert kinds["lightgbm"].offset is None and kinds["lightgbm"].kind == "lightgbm"


@pytest.mark.parametrize("kind", ["hybrid", "logistic"])
def test_every_kind_survives_the_registry(trained, kind, tmp_path):
    import mlflow

    from churn.pipelines import champion, registry, tracking

    frame, kinds = trained
    model = kinds[kind]
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with tracking.using_tracking_uri(uri):
        exp = tracking.get_or_create_experiment("churn-test", uri)
        with mlflow.start_run(experiment_id=exp):
            info = registry.log_churn_model(model, frame)
    registry.promote(info.registered_model_version, uri)
    loaded = champion.load_champion(uri)
    assert loaded.kind == kind and loaded.offset is not None
    np.testing.assert_allclose(loaded.predict_proba(frame), model.predict_proba(frame))
    np.testing.assert_allclose(
        loaded.contributions(frame.head(20)), model.contributions(frame.head(20))
    )


def fold_of(frame: pd.DataFrame) -> ValidationFold:
    """``frame`` as a validation fold scored at ``AS_OF`` (what ``fixed_as_of_fold`` builds)."""
    return ValidationFold(frame, AS_OF, 21, 21, 13 * 7)


def test_selection_prefers_a_kind_that_extrapolates_when_the_fold_needs_it():
    # x at the fold's scored date lies far past the fitted snapshots': flat trees lose to the
    # linear kinds, and the choice is the kind with the highest ROC AUC there.
    sel = select_kind(fold_of(drifting_frame(seed=3, n=300, weeks=8, far=14)), SETTINGS.training)
    assert sel.choice in ("logistic", "hybrid"), sel.note
    assert sel.scores["lightgbm"] < max(sel.scores["logistic"], sel.scores["hybrid"])
    assert sel.scores[sel.choice] == max(sel.scores.values())
    assert set(sel.params()) >= {"model_kind", "model_selection"}
    assert sel.metrics()["selection_roc_auc_lightgbm"] == sel.scores["lightgbm"]
    assert sel.valid_as_of.startswith("2024-07-01 (horizon 21 days)")


def test_selection_without_a_fold_keeps_lightgbm():
    sel = select_kind(None, SETTINGS.training)
    assert sel.choice == "lightgbm" and "no validation fold" in sel.note
    frame = drifting_frame()
    frame.loc[frame["as_of"] == AS_OF, "label"] = 1.0  # one class at the scored date: no AUC
    sel = select_kind(fold_of(frame), SETTINGS.training)
    assert sel.choice == "lightgbm" and not sel.scores
