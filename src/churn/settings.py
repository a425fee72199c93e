"""Run settings: what to predict, how to train, how the weekly list is cut.

Defaults live here as frozen pydantic models; ``configs/model.yaml`` (or any YAML passed with
``--config``) overrides any subset of them. Dataset settings (files, column mapping, churn
definition) are separate: see ``churn.data``.

A settings file is checked as a whole before anything runs: an unknown key (with the nearest
valid one suggested), a value of the wrong type (``horizon_days: "ninety"``, ``90.5`` for a whole
number) and a value out of range are each one line of a single ``SettingsError``, a
``ChurnError``, so the CLI prints them and exits 2. ``churn config-schema settings`` prints the
JSON Schema of the file for editors.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
)

from churn.errors import ChurnError

# Strict: "ninety" or 90.5 for a whole number is refused instead of coerced or truncated; a whole
# number is accepted where a float is expected.
Whole = Annotated[int, Strict()]
Positive = Annotated[int, Strict(), Field(gt=0)]
NonNegative = Annotated[int, Strict(), Field(ge=0)]
Number = Annotated[float, Strict()]
Share = Annotated[float, Strict(), Field(ge=0, le=1)]
Text = Annotated[str, Strict()]

#: Orders of the at-risk list (``scoring.priority``) and scopes of reasons (``reasons_scope``).
Priority = Literal["revenue_at_risk", "probability"]
#: What the list is ranked by (``scoring.rank_by``): ARR at risk, or expected ARR saved.
RankBy = Literal["risk", "uplift"]
ReasonsScope = Literal["all", "listed"]

_DEFAULT_LIGHTGBM: dict[str, Any] = {
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

_DEFAULT_PLAYBOOK: dict[str, str] = {
    "product adoption": "Adoption workshop: re-onboard the users and set usage goals",
    "service experience": "Escalate open tickets and call to close the loop",
    "sentiment": "Executive call to close the NPS loop",
    "commercial": "Renewal conversation: review value delivered and offer terms",
}


class SettingsError(ChurnError):
    """A settings file names an unknown section or key, or a value of the wrong type or range.

    Lists every problem at once, each naming the key path (``snapshots.horizon_days``) and the
    value; ``problems`` holds the lines.
    """

    def __init__(self, problems: str | list[str], source: str | None = None) -> None:
        self.problems = (problems,) if isinstance(problems, str) else tuple(problems)
        self.source = source
        n = len(self.problems)
        head = f"{n} problem{'s' * (n != 1)} in the settings" + (
            f" file {source}:" if source else ":"
        )
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


#: How deep in nested settings construction we are (see ``_Section.__init__``).
_DEPTH: ContextVar[int] = ContextVar("settings_depth", default=0)


class _Section(BaseModel):
    """A settings section: frozen, unknown keys refused, errors as ``SettingsError``."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    #: The section's key in the settings file, for messages.
    _section: ClassVar[str] = ""

    def __init__(self, /, **data: Any) -> None:
        # Built in Python (tests, notebooks): the same messages as for a file. Pydantic also
        # calls this for a nested section; there the error must stay a ValidationError, so that
        # the outermost model reports every section's problems together.
        outer = _DEPTH.get() == 0
        token = _DEPTH.set(_DEPTH.get() + 1)
        try:
            super().__init__(**data)
        except ValidationError as exc:
            if not outer:
                raise
            prefix = (self._section,) if self._section else ()
            raise SettingsError(_problems(exc, prefix)) from None
        finally:
            _DEPTH.reset(token)


class SnapshotSettings(_Section):
    """The spine: which (customer, as_of) pairs exist and what their label means."""

    _section: ClassVar[str] = "snapshots"

    cadence: Text = "W-MON"
    """pandas offset alias for snapshot dates; weekly on Mondays by default."""
    horizon_days: Positive = 90
    """Label = churned within [as_of + lead_days, as_of + lead_days + horizon_days)."""
    lead_days: NonNegative = 0
    """Days between as_of and the start of the label window."""
    warmup_days: NonNegative = 180
    """First snapshot is this many days after the first signup, so features have history."""

    @field_validator("cadence")
    @classmethod
    def _cadence_is_a_frequency(cls, value: str) -> str:
        # pandas only when a file sets it: importing settings must stay light.
        from pandas.tseries.frequencies import to_offset

        try:
            to_offset(value)
        except ValueError:
            raise ValueError(
                f"snapshots.cadence {value!r} is not a pandas frequency (e.g. W-MON, MS, D)"
            ) from None
        return value


class TrainingSettings(_Section):
    """Out-of-time training and evaluation."""

    _section: ClassVar[str] = "training"

    test_snapshots: Positive = 4
    """Number of latest labelled snapshot dates used as the out-of-time test window."""
    valid_snapshots: Positive = 4
    """Snapshot dates before the test gap used for early stopping and calibration."""
    train_every: Positive = 2
    """Keep only every n-th snapshot date for training, to limit near-duplicate rows."""
    deploy: Literal["refit", "validated"] = "refit"
    """Which model is registered and deployed. "refit": the validated settings refitted on the
    labels known at the extraction date, calibrated on the latest labelled window
    (``churn.modeling.refit``); "validated": the model the test metrics describe, fitted two
    gaps (lead + horizon) before its test window. Either way the reported test metrics are the
    validated model's. Replaying 12 weeks from each of 3 cut-offs on the demo
    (``bench/refit_policy.py``), the refit's ROC AUC was 0.014 [0.000, 0.028] higher and its
    Brier score 0.0012 [0.0004, 0.0019] lower, precision@100 the same within noise."""
    row_budget: Positive = 1_200_000
    """Most customer-snapshot rows ``churn train`` builds features for (x ~75 float64 columns:
    1.2M rows ~ 0.7 GB; building them is most of the run's time). Over it
    (``churn.modeling.subsample``): snapshot dates no window uses and censored rows are
    dropped, then negatives of dates only fitted on are thinned with weights (down to 1 in
    20), then the validation and test dates keep a hashed sample of whole customers (at least
    20k; the backtest windows half the reported split's share), weighted; the metrics are then
    those of the customers evaluated, their intervals correspondingly wider."""
    calibration: Literal["isotonic", "sigmoid"] = "isotonic"
    """How probabilities are calibrated on the validation window."""
    seed: Whole = 42
    num_threads: NonNegative = 1
    lightgbm: dict[Text, Any] = Field(default_factory=lambda: dict(_DEFAULT_LIGHTGBM))
    """LightGBM parameters; a settings file's entries are merged over these defaults.

    Small, slow trees. These values were first picked on the *test* ROC AUC of two simulated
    datasets, which is not a fair way to choose; they were then re-checked on the demo's
    *validation* window only (log loss of the early-stopped booster, as ``make tune`` scores):
    7 leaves at 0.03 gave 0.0957 against 0.0961 for 15 leaves, 0.0963 at a 0.1 learning rate
    and 0.0976 for LightGBM's 31 leaves at 0.05, so they stand. For your data, choose them on
    the validation window with ``make tune``."""
    num_boost_round: Positive = 1000
    early_stopping_rounds: Positive = 100
    capacity_k: Positive = 100
    """Account teams' weekly capacity: precision/recall and ARR captured are reported at top K."""
    backtest_windows: NonNegative = 3
    """Number of rolling test windows in the backtest."""
    tune_trials: Positive = 20
    """Optuna trials for ``make tune``."""
    tune_timeout_s: Positive = 600
    """Wall-clock budget of ``make tune`` in seconds (whichever of trials and time ends first)."""
    gate_tolerance: Annotated[float, Strict(), Field(ge=0)] = 0.002
    """Champion/challenger gate: a new model becomes champion only if its test ROC AUC is at
    least the champion's, re-scored on the same test window, minus this noise allowance."""
    shap_sample: Positive = 2000
    """Test rows sampled for the SHAP beeswarm plot (TreeSHAP costs ~1 ms per row)."""
    bootstrap_resamples: NonNegative = 1000
    """Customer-level bootstrap resamples for the 95% intervals of the test metrics (all of a
    customer's weekly rows are drawn together; seeded by ``seed``). 1000 (enough for stable
    2.5% and 97.5% percentiles) take ~3 s of CPU for three scorers on the demo's 9.4k test
    rows; 0 turns the intervals off."""
    leak_single_feature_auc: Annotated[float, Strict(), Field(gt=0.5, le=1)] = 0.95
    """Leak probe: a feature that alone (or its missingness) ranks the training rows at or
    above this ROC AUC is named, and the run is logged but not registered (exit code 3). Real
    churn signals rarely pass 0.8 alone; the demo's best reaches 0.76."""
    leak_model_auc: Annotated[float, Strict(), Field(gt=0.5, le=1)] = 0.98
    """Leak probe: a model test (static tables: cross-validated) ROC AUC at or above this, on
    data without an oracle, is too good to be true: logged, not registered (exit code 3)."""


class ScoringSettings(_Section):
    """How the weekly at-risk list is cut and what it recommends."""

    _section: ClassVar[str] = "scoring"

    list_size: NonNegative | None = 100
    """At most this many customers on the list in all (``null``: no overall limit). The list
    rule in plain words, with the tiers, is ``churn.scoring.list_rule_text``."""
    capacity_per_owner: Positive | None = 5
    """At most this many customers per account owner (customers without an owner share one
    "Unassigned" allowance; ``null``: no limit per owner)."""
    min_probability: Share = 0.25
    """The probability floor: nobody whose probability, as displayed (whole percent), is below it
    is listed. Above the floor, places go by tier first, then by ``priority``."""
    tiers: tuple[tuple[Text, Share], ...] = (("high", 0.5), ("medium", 0.25), ("low", 0.0))
    """Risk tiers by calibrated probability, highest first: (name, lower bound); the last
    bound is 0 so that every probability has a tier."""
    playbook: dict[Text, Text] = Field(default_factory=lambda: dict(_DEFAULT_PLAYBOOK))
    """Playbook: driver family -> recommended play."""
    reasons_per_customer: Positive = 3
    min_reason_points: Annotated[float, Strict(), Field(ge=0, le=100)] = 1.0
    """Smallest size, in probability points as displayed (rounded to whole points), of a reason:
    a behaviour feature that raises the customer's risk by less is not shown (its points stay in
    "other factors"). A reason shown at 0 points is never shown, whatever this is."""
    priority: Priority = "revenue_at_risk"
    """Order within a tier: "revenue_at_risk" (probability x ARR: where the money is; a customer
    with unknown ARR is ordered as if at the median ARR of the scored customers, never dropped)
    or "probability"."""
    rank_by: RankBy = "risk"
    """"risk": the tiers and ``priority`` above (ARR at risk). "uplift": once enough outcomes of
    treated and control customers have matured (``uplift_min_per_arm``), places above the floor
    go by expected ARR saved (the play's estimated effect on churn x ARR,
    ``churn.uplift.expected_arr_saved``), highest first, tiers shown but not ordering, and a
    customer whose play is not expected to save anything (effect >= 0) is not listed; capacity
    and list size as with "risk". Below the evidence the list falls back to "risk", with a
    warning saying why."""
    uplift_min_per_arm: Positive = 500
    """``rank_by: uplift`` needs at least this many treated and this many control customers of
    matured weeks (their horizon passed before as_of) in the week folders. On the simulator
    (``bench/uplift.py``), 614-663 of each gave an uplift ranking that saved more ARR than the
    risk ranking in 3 of 3 bases, 1,075-1,160 in 2 of 3; the estimate is noisy either way
    (correlation with the true effect 0.15-0.49)."""
    default_play: Text = "Regular check-in: no single driver stands out"
    """Play for a customer whose main driver family is not in the playbook (or who has none)."""
    required_features: tuple[Text, ...] = ("acct_tenure_days",)
    """Features that must be known to score a customer; a customer missing one is excluded
    (listed in excluded.csv with the reason). Tenure comes from signup_date: without it the
    customer cannot be placed in time at all."""
    reasons_scope: ReasonsScope = "all"
    """Reasons for "all" scored customers (scores.parquet, for analysts) or only the "listed"
    ones (cheaper at 100k+: TreeSHAP costs ~1 ms per row)."""
    change_tolerance: Share = 0.01
    """Probability moves smaller than this (in probability, 0.01 = 1 point) are "same"."""
    currency_format: Text = "#,##0"
    """Excel number format for money columns (ARR, revenue at risk); the data has no currency."""
    complaint_categories: tuple[Text, ...] = ("complaint",)
    """Interaction categories that are complaints (voice of the customer: the latest complaint,
    open or resolved, is shown beside the reasons). Compared case-insensitively."""
    incident_categories: tuple[Text, ...] = ("incident",)
    """Interaction categories that are incidents (shown beside the reasons while open at as_of)."""

    @field_validator("tiers")
    @classmethod
    def _tiers_cover_every_probability(
        cls, tiers: tuple[tuple[str, float], ...]
    ) -> tuple[tuple[str, float], ...]:
        bounds = [b for _, b in tiers]
        if not bounds or bounds != sorted(bounds, reverse=True) or bounds[-1] != 0:
            raise ValueError(
                "scoring.tiers must be (name, lower bound) pairs, highest bound first, the last "
                f"with bound 0 so every probability has a tier; got {[list(t) for t in tiers]}"
            )
        return tiers


class MonitoringSettings(_Section):
    """``churn monitor``: when past lists, drift, estimated quality and age call for a retrain."""

    _section: ClassVar[str] = "monitoring"

    psi_bins: Annotated[int, Strict(), Field(ge=2, le=50)] = 10
    """Population stability index bins: equal-frequency (deciles by default) on the training
    window's values of a numeric feature; a category is its own bin; missing is one more bin."""
    psi_threshold: Annotated[float, Strict(), Field(gt=0)] = 0.25
    """A feature whose PSI (training window vs the week) reaches this is flagged as drifted
    (0.1-0.25 is the usual "moderate shift" band, above 0.25 "significant")."""
    missing_threshold: Share = 0.10
    """A feature whose share of missing values moved by this much (0.10 = 10 points) is flagged."""
    flag_context: bool = False
    """Flag drift of account attributes (kind "context": tenure, plan, ARR) too. Off: tenure
    grows by construction as the base ages, so it drifts without anything going wrong; their
    PSI is still shown."""
    reference_snapshots: Annotated[int, Strict(), Field(ge=1, le=52)] = 4
    """Snapshot dates (evenly spaced) of the latest labelled window of the champion's training
    frame (a validated model's test window, a refit's calibration window) whose features are the
    reference distribution of the drift checks (``churn.monitoring.reference_dates``)."""
    retrain_drifted_features: Positive = 2
    """Recommend a retrain when the latest week has at least this many drifted features."""
    max_auc_drop: Annotated[float, Strict(), Field(ge=0, le=1)] = 0.05
    """Recommend a retrain when the expected (latest week) or realised (latest matured week)
    ROC AUC is this far below the champion's test ROC AUC."""
    max_calibration_gap: Share = 0.05
    """Recommend a retrain when a matured week's predicted churn rate is this far (in
    probability, 0.05 = 5 points) from the realised one and outside its 95% interval."""
    max_training_age_days: Positive = 180
    """Recommend a retrain when the champion's latest training snapshot is older than this at
    the latest scored week."""
    bootstrap_resamples: NonNegative = 500
    """Customer-level bootstrap resamples for the 95% intervals of the realised figures."""
    seed: Whole = 0


# --- Closing the loop (issue 14): alerts, the control group and the measured effect ------------


class AlertSettings(_Section):
    """Weekly alerts: events that need a follow-up within days, whatever the model's rank."""

    _section: ClassVar[str] = "alerts"

    detractor_days: Positive = 14
    """A detractor answer (NPS 0-6) given and recorded in the last this many days is an alert."""
    open_days: Positive = 7
    """A ticket of ``open_categories`` still open this many days after it was opened is one."""
    open_categories: tuple[Text, ...] = ("complaint", "incident")
    """Interaction categories whose open tickets raise an alert."""
    usage_metric: Text | None = None
    """Usage metric of the usage-drop alert; empty = the dataset's first usage metric."""
    usage_recent_days: Positive = 28
    """Recent window of the usage-drop alert (usage periods ending in the last this many days)."""
    usage_baseline_days: Positive = 84
    """Baseline window, just before the recent one."""
    usage_drop_share: Annotated[float, Strict(), Field(gt=0, le=1)] = 0.5
    """Alert when recent usage per period fell by at least this share (0.5 = halved) of the
    baseline's."""
    usage_min_baseline: Annotated[float, Strict(), Field(ge=0)] = 1.0
    """Baseline usage per period below this raises no usage-drop alert (too little to drop)."""
    renewal_days: Positive = 60
    """A renewal within this many days of as_of is an alert for an at-risk customer ..."""
    renewal_tiers: tuple[Text, ...] = ("high",)
    """... one whose risk tier is one of these."""
    due_days: Positive = 3
    """Each alert is due this many days after as_of."""


class ControlSettings(_Section):
    """The control group held out of each week's list, and ``churn impact``."""

    _section: ClassVar[str] = "control"

    share: Annotated[float, Strict(), Field(ge=0, lt=1)] = 0.10
    """Share of the listed customers held out each week (0 = no control group)."""
    seed: Whole = 0
    """Mixed with the week's as_of into the draw: the same week gives the same control group."""
    min_customers: Positive = 30
    """``churn impact`` says "too little data" below this many customers in either arm."""
    bootstrap_resamples: NonNegative = 1000
    """Customer-level bootstrap resamples for the ARR-retained intervals."""


class EngineSettings(_Section):
    """Where the point-in-time features run (``churn.features.backend``): the same expressions
    and the same values on either backend. Read by ``churn features``, ``churn train`` and
    ``churn score`` (and ``build_features(..., engine=...)``)."""

    _section: ClassVar[str] = "engine"

    backend: Literal["duckdb", "spark"] = "duckdb"
    """``duckdb``: in memory, in this process (the default). ``spark``: a Spark session
    (``pip install 'churn[spark]'``, Java 17; see docs/spark.md)."""
    spark_master: Text = "local[2]"
    """The Spark master the session connects to (``local[N]``: N cores of this machine)."""
    spark_conf: dict[Text, Text] = Field(
        default_factory=lambda: {"spark.sql.shuffle.partitions": "8"}
    )
    """Spark settings for the session, e.g. ``spark.driver.memory``. The session time zone is
    always UTC (the data's instants are naive UTC)."""


class Settings(_Section):
    """All run settings: one section per stage."""

    snapshots: SnapshotSettings = Field(default_factory=SnapshotSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    scoring: ScoringSettings = Field(default_factory=ScoringSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    control: ControlSettings = Field(default_factory=ControlSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)

    @field_validator("snapshots", "training", "scoring", mode="before")
    @classmethod
    def _empty_section_is_defaults(cls, value: Any) -> Any:
        # `training:` with nothing under it is YAML's None: the defaults, as before.
        return {} if value is None else value

    @field_validator("monitoring", "alerts", "control", "engine", mode="before")
    @classmethod
    def _empty_monitoring_is_defaults(cls, value: Any) -> Any:
        return {} if value is None else value

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict of every setting (logged to MLflow as parameters)."""
        return self.model_dump()


_SECTIONS: dict[str, type[_Section]] = {
    "snapshots": SnapshotSettings,
    "training": TrainingSettings,
    "scoring": ScoringSettings,
    "monitoring": MonitoringSettings,
    "alerts": AlertSettings,
    "control": ControlSettings,
    "engine": EngineSettings,
}


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f"{'.' if out else ''}{part}"
    return out


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unknown_key(loc: tuple[Any, ...]) -> str:
    """The line for an unknown key, with the nearest valid key (in any section) suggested."""
    key = str(loc[-1])
    if len(loc) == 1:
        close = difflib.get_close_matches(key, list(_SECTIONS), n=1)
        maybe = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown settings section {key!r}{maybe}; valid sections: {', '.join(_SECTIONS)}"
    section = str(loc[0])
    valid = list(_SECTIONS[section].model_fields) if section in _SECTIONS else []
    close = difflib.get_close_matches(key, valid, n=1)
    if section == "training" and key in _DEFAULT_LIGHTGBM:
        maybe = f" (a LightGBM parameter: put it under training.lightgbm, e.g. {key}: ...)"
    elif close:
        maybe = f" (did you mean {close[0]!r}?)"
    else:
        # A key put in the wrong section (horizon_days under training).
        elsewhere = [
            f"{s}.{k}" for s, c in _SECTIONS.items() if s != section for k in c.model_fields
        ]
        close = difflib.get_close_matches(key, [e.split(".")[1] for e in elsewhere], n=1)
        found = [e for e in elsewhere if close and e.endswith(f".{close[0]}")]
        maybe = f" (did you mean {found[0]!r}?)" if found else ""
    return f"unknown key {_path(loc)!r}{maybe}; valid keys in {section}: {', '.join(valid)}"


#: Pydantic error type -> what the value must be, in our words.
_MUST_BE = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "text",
    "bool_type": "true or false",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "tuple_type": "a list",
    "list_type": "a list",
}

_BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def _problem(error: Mapping[str, Any], loc: tuple[Any, ...]) -> str:
    """One pydantic error as one line naming the key path and the value."""
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    where = _path(loc) or "the settings file"
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind == "value_error":
        # Our own validators write the whole line, key path included.
        return str(ctx.get("error", error["msg"]))
    if kind == "literal_error":
        valid = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        return f"{where} is {_shown(value)}; valid: {valid}"
    if kind in _MUST_BE:
        return f"{where} must be {_MUST_BE[kind]}, not {_shown(value)}"
    bound = next((k for k in _BOUNDS if k in ctx), None)
    if bound is not None:
        return f"{where} must be {_BOUNDS[bound]} {ctx[bound]}, not {_shown(value)}"
    return f"{where}: {error['msg']} (got {_shown(value)})"


def _problems(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> list[str]:
    """Every error of a pydantic ``ValidationError`` as our own lines, without duplicates."""
    lines = [_problem(e, (*prefix, *e["loc"])) for e in exc.errors()]
    return list(dict.fromkeys(lines))


def settings_from_dict(raw: Mapping[str, Any] | None, source: str | None = None) -> Settings:
    """Build settings from a (partial) nested dict.

    Parameters
    ----------
    raw
        ``{section: {key: value}}``; missing sections and keys keep their defaults, and
        ``training.lightgbm`` is merged over the default LightGBM parameters.
    source
        The file it came from, for messages.

    Raises
    ------
    SettingsError
        Listing every unknown key (with the nearest valid one), wrong type and value out of
        range.
    """
    raw = {} if raw is None else raw
    training = raw.get("training") if isinstance(raw, Mapping) else None
    if isinstance(training, Mapping) and isinstance(training.get("lightgbm"), Mapping):
        lightgbm = {**_DEFAULT_LIGHTGBM, **training["lightgbm"]}
        raw = {**raw, "training": {**training, "lightgbm": lightgbm}}
    token = _DEPTH.set(1)
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(_problems(exc), source) from None
    finally:
        _DEPTH.reset(token)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    what = getattr(exc, "problem", None) or str(exc)
    return f"not valid YAML{where}: {what}"


def load_settings(path: str | Path | None = None) -> Settings:
    """Read settings from YAML; ``None`` gives the defaults.

    Raises
    ------
    SettingsError
        The file does not exist, is not valid YAML, or has unknown keys or invalid values.
    """
    if path is None:
        return Settings()
    path = Path(path)
    if not path.is_file():
        raise SettingsError("the file does not exist", str(path))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise SettingsError("the file is not UTF-8 text", str(path)) from None
    except yaml.YAMLError as exc:
        raise SettingsError(_yaml_problem(exc), str(path)) from None
    return settings_from_dict(raw, str(path))


def settings_schema() -> dict[str, Any]:
    """The JSON Schema of a settings file, for editors (``churn config-schema settings``)."""
    schema = Settings.model_json_schema()
    schema["title"] = "churn settings (configs/model.yaml)"
    return schema
