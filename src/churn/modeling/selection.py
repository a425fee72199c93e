"""Which model kind the fixed-as_of protocol deploys, chosen before ``as_of`` only.

The deployed model is fitted on snapshots that end ``train_horizon_days`` before ``as_of`` and
scores the customers at ``as_of`` for a longer horizon (CDNOW: 13 weeks past its last snapshot,
recency up to 272 days where training saw at most 179, churn over 273 days). The kinds of
``churn.modeling.hybrid`` are compared where the same thing happens before ``as_of``: on
``churn.dataset.fixed_as_of_fold``, the protocol itself moved back by ``train_horizon_days``
(same gap between the last fitted snapshot and the scored date, as many fitted dates where the
history reaches that far back, same training labels; the label horizon as long as the labels
still end by ``as_of``).

Each kind is fitted on the fold's training snapshots exactly as the deployment fits it
(``churn.modeling.fixed_as_of_split``: customers held out for early stopping), and scores every
customer active at the fold's date, as the deployed model scores every customer at ``as_of``.
The ROC AUC there decides; a tie goes to the simpler kind (:data:`churn.modeling.hybrid.KINDS`
order). The fold is built from ``known_before(tables, as_of)``: nothing at or after ``as_of``
is read. Pure: the fold in, the choice out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from churn.dataset import ValidationFold
from churn.errors import ChurnError
from churn.modeling.evaluation import roc_auc
from churn.modeling.hybrid import KINDS
from churn.modeling.model import ChurnModel
from churn.modeling.protocol import FixedAsOfSplit, fixed_as_of_split
from churn.modeling.training import feature_columns, fit_kind
from churn.settings import TrainingSettings

log = logging.getLogger(__name__)

#: Kind deployed when the training snapshots are too few for a validation fold.
DEFAULT_KIND = "lightgbm"


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
        """``selection_roc_auc_<kind>``: each kind's validation ROC AUC."""
        return {f"selection_roc_auc_{k}": v for k, v in self.scores.items()}


def _held_out(fold: ValidationFold, training: TrainingSettings) -> FixedAsOfSplit | None:
    try:
        split = fixed_as_of_split(
            fold.frame, fold.as_of, fold.train_horizon_days, fold.horizon_days, seed=training.seed
        )
    except ChurnError as exc:
        log.warning("no validation fold: %s", exc)
        return None
    return split if split.part(fold.frame, "test")["label"].nunique() == 2 else None


def select_kind(
    fold: ValidationFold | None,
    training: TrainingSettings,
    *,
    kinds: tuple[str, ...] = KINDS,
) -> Selection:
    """Choose the kind to deploy on ``fold`` (see the module docstring); ``None`` (the history
    before ``as_of`` holds no fold) keeps :data:`DEFAULT_KIND`."""
    split = None if fold is None else _held_out(fold, training)
    if fold is None or split is None:
        note = f"the history before as_of holds no validation fold: {DEFAULT_KIND} kept"
        log.warning("model selection skipped: %s", note)
        return Selection(DEFAULT_KIND, note=note)
    frame, features = fold.frame, feature_columns(fold.frame)
    meta = {"categorical_features": [c for c in features if frame[c].dtype == "category"]}
    fit, stop, held = (split.part(frame, p) for p in ("fit", "valid", "test"))
    y, auc = held["label"].to_numpy(dtype=float), {}
    for kind in kinds:
        booster, offset, _ = fit_kind(kind, fit, stop, features, training)
        model = ChurnModel(booster, None, features, 0, meta, offset)  # type: ignore[arg-type]
        auc[kind] = round(float(roc_auc(y, model.predict_raw(held))), 4)
    choice = max(kinds, key=lambda k: (auc[k], -KINDS.index(k)))
    note = (
        f"{choice}: highest ROC AUC on the protocol moved back {fold.train_horizon_days} days "
        f"({fold.describe()}): " + ", ".join(f"{k} {auc[k]:.4f}" for k in kinds)
    )
    log.info("model selection: %s", note)
    valid = f"{fold.as_of.date()} (horizon {fold.horizon_days} days)"
    return Selection(choice, auc, split.describe()["fit_as_of"], valid, note)
