"""Which model kind the fixed-as_of protocol deploys, chosen on the training snapshots only.

The test date of a purchase log lies beyond the training snapshots (CDNOW: recency up to 272
days at the test date, at most 179 in training), so the kinds of ``churn.modeling.hybrid`` are
compared where the same thing happens inside the training data: an **out-of-time,
out-of-customer** validation fold.

- **validation rows**: the latest ``valid_dates`` training snapshot date(s);
- the training customers are dealt into ``folds`` folds; for each, every kind is fitted on the
  *other* customers' snapshots at least ``gap_dates`` dates before the validation date (so their
  recency stops short of the validation rows', as the training rows' stop short of the test's),
  stopped early on a random fifth of those customers, and scores the fold's customers at the
  validation date;
- the pooled ROC AUC over every training customer decides; a tie goes to the simpler kind
  (:data:`churn.modeling.hybrid.KINDS` order).

Only ``split.part(frame, "train")`` is read: rows whose labels ended by ``as_of``; the test rows,
their labels and anything at or after ``as_of`` are never seen. Pure: frames in, the choice out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churn.modeling.evaluation import roc_auc
from churn.modeling.hybrid import KINDS
from churn.modeling.model import ChurnModel
from churn.modeling.training import feature_columns, fit_kind
from churn.settings import TrainingSettings

log = logging.getLogger(__name__)

#: Kind deployed when the training snapshots are too few for a validation fold.
DEFAULT_KIND = "lightgbm"
#: Share of a fold's fitting customers held out for early stopping.
STOP_SHARE = 0.2


@dataclass(frozen=True)
class Selection:
    """The chosen kind, each kind's validation ROC AUC, and the fold it was measured on."""

    choice: str
    scores: dict[str, float] = field(default_factory=dict)
    fit_as_of: str = ""
    valid_as_of: str = ""
    note: str = ""

    def params(self) -> dict[str, str]:
        """Run parameters: ``model_kind`` and how it was chosen."""
        return {
            "model_kind": self.choice,
            "model_selection": self.note,
            "model_selection_fit_as_of": self.fit_as_of,
            "model_selection_valid_as_of": self.valid_as_of,
        }

    def metrics(self) -> dict[str, float]:
        """``selection_roc_auc_<kind>``: each kind's pooled validation ROC AUC."""
        return {f"selection_roc_auc_{k}": v for k, v in self.scores.items()}


def _folds(customers: pd.Series, folds: int, seed: int) -> np.ndarray:
    ids = np.sort(customers.astype("str").unique())
    fold = pd.Series(np.random.default_rng(seed).permutation(len(ids)) % folds, index=ids)
    return customers.astype("str").map(fold).to_numpy()


def _stop_mask(rows: pd.DataFrame, seed: int) -> np.ndarray:
    ids = np.sort(rows["customer_id"].astype("str").unique())
    n = max(int(round(len(ids) * STOP_SHARE)), 1)
    held = np.random.default_rng(seed).choice(ids, size=n, replace=False)
    return rows["customer_id"].astype("str").isin(held).to_numpy()


def select_kind(
    frame: pd.DataFrame,
    split: object,
    training: TrainingSettings,
    *,
    kinds: tuple[str, ...] = KINDS,
    folds: int = 5,
    valid_dates: int = 1,
    gap_dates: int = 4,
) -> Selection:
    """Choose the kind to deploy (see the module docstring); ``split`` is the
    ``churn.modeling.FixedAsOfSplit`` whose ``"train"`` rows are the only ones read."""
    rows = split.part(frame, "train")
    dates = np.sort(rows["as_of"].unique())
    if len(dates) < valid_dates + gap_dates + 1 or rows["customer_id"].nunique() < 2 * folds:
        note = f"{len(dates)} training dates: too few for a validation fold, {DEFAULT_KIND} kept"
        log.warning("model selection skipped: %s", note)
        return Selection(DEFAULT_KIND, note=note)
    valid_at, fit_at = dates[-valid_dates:], dates[: len(dates) - valid_dates - gap_dates]
    features = feature_columns(frame)
    meta = {"categorical_features": [c for c in features if frame[c].dtype == "category"]}
    fold = _folds(rows["customer_id"], folds, training.seed)
    scores: dict[str, list[np.ndarray]] = {k: [] for k in kinds}
    labels = []
    for i in range(folds):
        fitting = rows.loc[(fold != i) & rows["as_of"].isin(fit_at).to_numpy()]
        held = rows.loc[(fold == i) & rows["as_of"].isin(valid_at).to_numpy()]
        stop = _stop_mask(fitting, training.seed)
        for kind in kinds:
            booster, offset, _ = fit_kind(kind, fitting[~stop], fitting[stop], features, training)
            model = ChurnModel(booster, None, features, 0, meta, offset)  # type: ignore[arg-type]
            scores[kind].append(model.predict_raw(held))
        labels.append(held["label"].to_numpy(dtype=float))
    y = np.concatenate(labels)
    auc = {k: round(float(roc_auc(y, np.concatenate(v))), 4) for k, v in scores.items()}
    choice = max(kinds, key=lambda k: (auc[k], -KINDS.index(k)))

    def rng(d: np.ndarray) -> str:
        return f"{pd.Timestamp(d[0]).date()}..{pd.Timestamp(d[-1]).date()} ({len(d)} dates)"

    note = (
        f"{choice}: highest pooled ROC AUC on an out-of-time, out-of-customer fold "
        f"({folds} customer folds; fit {rng(fit_at)}, validate {rng(valid_at)}): "
        + ", ".join(f"{k} {auc[k]:.4f}" for k in kinds)
    )
    log.info("model selection: %s", note)
    return Selection(choice, auc, rng(fit_at), rng(valid_at), note)
