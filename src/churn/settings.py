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
    lightgbm: dict[str, Any] = field(
        default_factory=lambda: {
            "objective": "binary",
            "learning_rate": 0.05,
            "num_leaves": 31,
            "max_depth": 6,
            "min_child_samples": 50,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "verbose": -1,
        }
    )
    num_boost_round: int = 600
    early_stopping_rounds: int = 50
    #: Account teams' weekly capacity: precision/recall and ARR captured are reported at top K.
    capacity_k: int = 100
    #: Number of rolling test windows in the backtest.
    backtest_windows: int = 3
    #: Optuna trials for ``make tune``.
    tune_trials: int = 20


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
