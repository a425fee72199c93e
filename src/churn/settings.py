"""Run settings: what to predict, how to train, how the weekly list is cut.

Defaults live here as frozen dataclasses; ``configs/model.yaml`` (or any YAML passed with
``--config``) overrides any subset of them. Dataset settings (files, column mapping, churn
definition) are separate: see ``churn.loading``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class SnapshotSettings:
    """The spine: which (customer, as_of) pairs exist and what their label means."""

    #: pandas offset alias for snapshot dates; weekly on Mondays by default.
    cadence: str = "W-MON"
    #: Label = churned within [as_of + lead_days, as_of + lead_days + horizon_days).
    horizon_days: int = 90
    lead_days: int = 0
    #: First snapshot is this many days after the first signup, so features have history.
    warmup_days: int = 180


@dataclass(frozen=True)
class TrainingSettings:
    """Out-of-time training and evaluation."""

    #: Number of latest labelled snapshot dates used as the out-of-time test window.
    test_snapshots: int = 4
    #: Snapshot dates before the test gap used for early stopping and calibration.
    valid_snapshots: int = 4
    #: Keep only every n-th snapshot date for training, to limit near-duplicate rows.
    train_every: int = 2
    calibration: str = "isotonic"  # or "sigmoid"
    seed: int = 42
    num_threads: int = 1
    #: Small, slow trees: with tens of thousands of snapshot rows and a few % churners, 7-leaf
    #: trees at a 0.03 learning rate ranked better out of time than 31 leaves at 0.05 on two
    #: independent simulated datasets (test ROC AUC +0.004 to +0.010), and stop early anyway.
    lightgbm: dict[str, Any] = field(
        default_factory=lambda: {
            "objective": "binary",
            "learning_rate": 0.03,
            "num_leaves": 7,
            "max_depth": 6,
            "min_child_samples": 100,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "verbose": -1,
        }
    )
    num_boost_round: int = 1000
    early_stopping_rounds: int = 100
    #: Account teams' weekly capacity: precision/recall and ARR captured are reported at top K.
    capacity_k: int = 100
    #: Number of rolling test windows in the backtest.
    backtest_windows: int = 3
    #: Optuna trials for ``make tune``.
    tune_trials: int = 20
    #: Wall-clock budget of ``make tune`` in seconds (whichever of trials and time ends first).
    tune_timeout_s: int = 600
    #: Champion/challenger gate: a new model becomes champion only if its test ROC AUC is at
    #: least the champion's, re-scored on the same test window, minus this noise allowance.
    gate_tolerance: float = 0.002
    #: Test rows sampled for the SHAP beeswarm plot (TreeSHAP costs ~1 ms per row).
    shap_sample: int = 2000


@dataclass(frozen=True)
class ScoringSettings:
    """How the weekly at-risk list is cut and what it recommends."""

    #: Customers on the at-risk list: the top ``list_size`` by priority ...
    list_size: int = 100
    #: ... plus anyone at or above this probability.
    min_probability: float = 0.5
    #: Risk tiers by calibrated probability, highest first: (name, lower bound).
    tiers: tuple[tuple[str, float], ...] = (("high", 0.5), ("medium", 0.25), ("low", 0.0))
    #: Playbook: driver family -> recommended play.
    playbook: dict[str, str] = field(
        default_factory=lambda: {
            "product adoption": "Adoption workshop: re-onboard the users and set usage goals",
            "service experience": "Escalate open tickets and call to close the loop",
            "sentiment": "Executive call to close the NPS loop",
            "commercial": "Renewal conversation: review value delivered and offer terms",
        }
    )
    reasons_per_customer: int = 3
    #: Order of the list: "revenue_at_risk" (probability x ARR: where the money is; customers
    #: with unknown ARR count as 0 but still enter through ``min_probability``) or "probability".
    priority: str = "revenue_at_risk"
    #: Play for a customer whose main driver family is not in the playbook (or who has none).
    default_play: str = "Regular check-in: no single driver stands out"
    #: Features that must be known to score a customer; a customer missing one is excluded
    #: (listed in excluded.csv with the reason). Tenure comes from signup_date: without it the
    #: customer cannot be placed in time at all.
    required_features: tuple[str, ...] = ("acct_tenure_days",)
    #: Reasons for "all" scored customers (scores.parquet, for analysts) or only the "listed"
    #: ones (cheaper at 100k+: TreeSHAP costs ~1 ms per row).
    reasons_scope: str = "all"
    #: Probability moves smaller than this (in probability, 0.01 = 1 point) are "same".
    change_tolerance: float = 0.01
    #: Excel number format for money columns (ARR, revenue at risk); the data has no currency.
    currency_format: str = "#,##0"


@dataclass(frozen=True)
class Settings:
    snapshots: SnapshotSettings = field(default_factory=SnapshotSettings)
    training: TrainingSettings = field(default_factory=TrainingSettings)
    scoring: ScoringSettings = field(default_factory=ScoringSettings)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class SettingsError(ValueError):
    """A settings file names an unknown section or key, or a value of the wrong shape."""


def settings_from_dict(raw: dict[str, Any] | None) -> Settings:
    """Build settings from a (partial) nested dict, refusing unknown keys with a clear error."""
    raw = raw or {}
    sections = {f.name: f.type for f in dataclasses.fields(Settings)}
    built: dict[str, Any] = {}
    for section, values in raw.items():
        if section not in sections:
            raise SettingsError(
                f"unknown settings section {section!r}; expected one of {sorted(sections)}"
            )
        cls = {
            "snapshots": SnapshotSettings,
            "training": TrainingSettings,
            "scoring": ScoringSettings,
        }[section]
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values or {}) - known
        if unknown:
            raise SettingsError(
                f"unknown key(s) {sorted(unknown)} in settings section {section!r}; "
                f"expected some of {sorted(known)}"
            )
        values = dict(values or {})
        if "tiers" in values:
            values["tiers"] = tuple((str(n), float(b)) for n, b in values["tiers"])
        if section == "training" and "lightgbm" in values:
            values["lightgbm"] = {**TrainingSettings().lightgbm, **values["lightgbm"]}
        built[section] = cls(**values)
    return Settings(**built)


def load_settings(path: str | Path | None = None) -> Settings:
    """Read settings from YAML; ``None`` gives the defaults."""
    if path is None:
        return Settings()
    path = Path(path)
    if not path.exists():
        raise SettingsError(f"settings file {path} does not exist")
    with path.open(encoding="utf-8") as fh:
        return settings_from_dict(yaml.safe_load(fh))
