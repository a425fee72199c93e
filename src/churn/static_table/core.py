"""Churn without churn dates: static customer tables with a flag, and purchase logs.

Two shapes of real data do not fit the snapshot spine of ``churn.spine``:

* **Static table** (``churn.definition: flag``): one row per customer with its attributes and a
  column saying who left (IBM Telco, the Iranian telecom set). There is no time axis, so there
  is one snapshot, and a model is evaluated by repeated stratified cross-validation instead of
  out of time. ``prepare_static`` checks the table against the config's ``static`` section with
  the same kind of messages as ``churn.validation`` (table, column, rows, how to fix);
  ``cross_validate`` compares LightGBM with a baseline (the logistic regression of
  ``churn.baselines``) on the same folds, with the metric functions of ``churn.evaluation``,
  both passed in by the caller because they live downstream of this module.
* **Transaction log** (a usage table of purchases, ``customers_from: usage``): churn is
  inactivity, and the features come from the ordinary point-in-time engine
  (``churn.features.build_features``). ``visible_before`` cuts a dataset at an instant so that
  a model can be trained using only what was known then, and ``no_activity_labels`` says who
  made no purchase in ``[as_of, as_of + horizon)``.

Leakage guards, written down once
---------------------------------
* Exact duplicate rows are dropped *before* any split (warned with the count): a duplicate on
  both sides of a fold boundary is a test row the model has already seen.
* Columns named in ``static.ignore`` (identifiers, values derived from the outcome) never reach
  a model, even when ``static.features`` is left to its default of "every other column".
* Early stopping uses an inner split of the training fold only; the test fold is never seen
  until it is scored.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn._progress import progress_bar
from churn.contract import Tables
from churn.data import (
    HOLDOUT_MARKER,
    DatasetConfig,
    DataValidationError,
    Findings,
    coerce_number,
    read_static_source,
    rows,
)
from churn.errors import ChurnError
from churn.static_table.holdout import (
    check_holdout,
    fraction_mask,
    holdout_columns,
    holdout_mask,
    odds_correct,
)

log = logging.getLogger(__name__)

#: LightGBM for small static tables (thousands of rows, tens of columns): shallow trees, a
#: small learning rate and strong regularisation. Deep trees overfit a few thousand rows and
#: lose to logistic regression on Telco-like data.
STATIC_LIGHTGBM: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.03,
    "num_leaves": 3,
    "max_depth": 2,
    "min_child_samples": 40,
    "feature_fraction": 0.7,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 10.0,
    # Few-level categories (contract type, payment method) as one-hot splits: with shallow
    # trees a many-vs-many category split overfits a few thousand rows.
    "max_cat_to_onehot": 8,
    "verbose": -1,
}
#: Early stopping decides the tree count; this is only a ceiling.
STATIC_MAX_ROUNDS = 5000
STATIC_EARLY_STOPPING = 100
#: Text columns with more distinct values than this share of rows look like identifiers.
ID_LIKE_SHARE = 0.5


@dataclass(frozen=True)
class StaticDataset:
    """A static customer table ready for modelling.

    Parameters
    ----------
    name
        Dataset name, for lineage.
    customer_id
        One id per row (the config's id column, else ``row <n>`` counted from 1 after the header).
    features
        Feature columns: numbers as float64, text as ``pandas.Categorical``.
    label
        1.0 = left (the configured positive value), 0.0 = stayed.
    categorical
        The feature columns that are categories.
    duplicates_dropped
        Exact duplicate rows removed before any split.
    warnings
        What was handled automatically (coerced blanks, dropped duplicates).
    holdout
        Which rows are held out (``static.holdout``); None: cross-validation only.
    """

    name: str
    customer_id: pd.Series
    features: pd.DataFrame
    label: np.ndarray
    categorical: tuple[str, ...] = ()
    duplicates_dropped: int = 0
    warnings: tuple[str, ...] = field(default=())
    holdout: np.ndarray | None = None

    @property
    def churn_rate(self) -> float:
        return float(np.nanmean(self.label)) if np.isfinite(self.label).any() else math.nan

    def split(self) -> tuple[StaticDataset, StaticDataset | None]:
        """The training rows and the held-out rows (None without ``static.holdout``)."""
        if self.holdout is None:
            return self, None
        return self.subset(~self.holdout), self.subset(self.holdout)

    def subset(self, rows: np.ndarray) -> StaticDataset:
        """The rows selected by a boolean mask, categories kept (so codes stay comparable)."""
        rows = np.asarray(rows, dtype=bool)
        return dataclasses.replace(
            self,
            customer_id=self.customer_id[rows].reset_index(drop=True),
            features=self.features[rows].reset_index(drop=True),
            label=self.label[rows],
            holdout=None,
        )


def _label_values(s: pd.Series, positive: Any) -> tuple[pd.Series, str | None]:
    """The label as 0/1 floats (NaN where missing) and a problem, if any."""
    present = s.dropna()
    values = list(pd.unique(present.astype("str").str.strip()))
    if len(values) > 2:
        shown = ", ".join(repr(v) for v in sorted(values)[:6])
        return s, f"has {len(values)} distinct values ({shown}); a churn flag has exactly two"
    if positive is None:
        if set(values) <= {"0", "1", "0.0", "1.0", "True", "False", "true", "false"}:
            positive = "1" if set(values) & {"0", "1"} else "True"
        else:
            return s, (
                f"has values {', '.join(repr(v) for v in sorted(values))}: say which one means "
                "'left' with churn.positive"
            )
    text = s.astype("str").str.strip()
    pos = str(positive).strip()
    if pos not in values:
        # A numeric flag read as 1 and configured as "1.0", or the other way round.
        try:
            numeric = pd.to_numeric(present, errors="raise").astype(float)
            hit = numeric == float(positive)
            if bool(hit.any()):
                out = pd.to_numeric(s, errors="coerce").astype(float)
                return (out == float(positive)).astype(float).where(s.notna()), None
        except (TypeError, ValueError):
            pass
        return s, (
            f"never has the positive value {positive!r} (churn.positive); values: "
            f"{', '.join(repr(v) for v in sorted(values))}"
        )
    return (text == pos).astype(float).where(s.notna()), None


def prepare_static(
    frame: pd.DataFrame,
    config: DatasetConfig,
    findings: Findings | None = None,
    *,
    scoring: bool = False,
) -> StaticDataset:
    """Check a static customer table against its config and prepare it for modelling; pure.

    Parameters
    ----------
    frame
        The customers file as read (source column names). Not modified.
    config
        Dataset config with ``churn.definition: flag``, ``churn.label``, ``churn.positive``
        and the ``static`` section (features, ignore, categorical, drop_duplicates).
    findings
        Problems and warnings found while reading the file.
    scoring
        Rows to score, not to train on: the label may be absent or blank (then NaN).

    Returns
    -------
    StaticDataset

    Raises
    ------
    DataValidationError
        Listing every problem: a configured column that is not in the table, a label with
        more or fewer than two values or missing values, no feature columns left.
    """
    findings = findings if findings is not None else Findings()
    frame = frame.rename(columns=str).reset_index(drop=True)
    id_col, label_col, features = _configured_columns(frame, config, findings, scoring)
    label = pd.Series(np.nan, index=frame.index)
    if label_col is not None:
        label = _label(frame, label_col, config.churn.positive, findings, scoring)
    label_col = label_col or ""
    held = holdout_mask(frame, config, findings)
    if findings.problems:
        raise DataValidationError(findings.problems, findings.warnings, config.name)

    # Duplicates first, on the source values, before anything could split them (module doc).
    used = [c for c in [id_col, *features, label_col] if c]
    frame, label, held, n_dup = _drop_duplicates(frame, label, held, used, config, findings)
    ids = _customer_ids(frame, id_col, findings)
    cols, categorical = _feature_values(frame, features, config.static.categorical, findings)
    y = label.to_numpy(dtype=float)
    holdout = _holdout(config, held, y, findings) if not scoring else held
    if findings.problems:
        raise DataValidationError(findings.problems, findings.warnings, config.name)
    X = pd.DataFrame(cols, index=frame.index)
    if not scoring and len(np.unique(y)) < 2:
        raise ChurnError(
            f"table 'customers' column {label_col!r}: every row has the same churn flag after "
            "cleaning; a model needs customers who left and customers who stayed"
        )
    log.info(
        "%s: %d customers, %d features (%d categorical), churn rate %.1f%%",
        config.name,
        len(X),
        X.shape[1],
        len(categorical),
        100 * y.mean(),
    )
    return StaticDataset(
        name=config.name,
        customer_id=ids.reset_index(drop=True),
        features=X,
        label=y,
        categorical=tuple(categorical),
        duplicates_dropped=n_dup,
        warnings=tuple(findings.warnings),
        holdout=holdout if config.static.holdout is not None else None,
    )


def _drop_duplicates(
    frame: pd.DataFrame,
    label: pd.Series,
    held: np.ndarray,
    used: list[str],
    config: DatasetConfig,
    findings: Findings,
) -> tuple[pd.DataFrame, pd.Series, np.ndarray, int]:
    """Exact duplicates of ``used`` columns dropped (the first copy kept: a training row when
    the other is held out), warned with the count; the count is returned last."""
    dup = frame.duplicated(subset=used) if config.static.drop_duplicates else pd.Series(False)
    n_dup = int(dup.sum())
    if not n_dup:
        return frame, label, held, 0
    findings.warn(
        f"customers: dropped {rows(n_dup)} duplicating another row exactly, before any "
        "train/test split (static.drop_duplicates)."
    )
    keep = ~dup.to_numpy()
    frame, label = frame.loc[keep].reset_index(drop=True), label[keep].reset_index(drop=True)
    return frame, label, held[keep], n_dup


def _holdout(
    config: DatasetConfig, held: np.ndarray, y: np.ndarray, findings: Findings
) -> np.ndarray:
    """The held-out rows of the cleaned table, checked (a fraction is drawn here)."""
    h = config.static.holdout
    if h is None:
        return held
    if h.fraction is not None:
        held = fraction_mask(y, h.fraction, h.seed)
    check_holdout(held, y, findings)
    return held


def _configured_columns(
    frame: pd.DataFrame, config: DatasetConfig, findings: Findings, scoring: bool = False
) -> tuple[str | None, str | None, list[str]]:
    """The id column, the label column (``None`` when absent) and the feature columns; every
    configured column missing from the table is a finding."""
    t = "customers"
    available = list(frame.columns)
    shown = ", ".join(repr(c) for c in available[:25])
    static, churn = config.static, config.churn

    def missing(column: str, key: str) -> bool:
        if column in frame.columns:
            return False
        close = [c for c in available if " ".join(c.split()) == " ".join(column.split())]
        maybe = f" Did you mean {close[0]!r} (spaces differ)?" if close else ""
        findings.add(
            t,
            column,
            f"column named in {key} is not in the table",
            f"Columns in the file: {shown}.{maybe}",
        )
        return True

    id_col = config.table(t).columns.get("customer_id")
    if id_col is not None and missing(id_col, "tables.customers.columns.customer_id"):
        id_col = None
    label_col = churn.label or ""
    label_ok = label_col in frame.columns if scoring else not missing(label_col, "churn.label")
    # tables.customers.ignore is honoured too: a column a user ignored never becomes a feature.
    ignored = (*static.ignore, *config.table(t).ignore)
    for c in ignored:
        missing(c, "static.ignore")
    for c in static.categorical:
        missing(c, "static.categorical")
    excluded = {label_col, *ignored, *([id_col] if id_col else [])}
    excluded |= {*holdout_columns(config), HOLDOUT_MARKER}
    if static.features is not None:
        features = [c for c in static.features if not missing(c, "static.features")]
        clash = [c for c in features if c in excluded]
        if clash:
            findings.add(
                t,
                clash[0],
                "is both a feature and the label, the id or ignored",
                "Remove it from static.features or from churn.label / static.ignore.",
            )
    else:
        features = [c for c in available if c not in excluded]
    if not features and not findings.problems:
        findings.add(t, None, "has no feature columns left", "List them in static.features.")
    return id_col, (label_col if label_ok else None), features


def _label(
    frame: pd.DataFrame, label_col: str, positive: Any, findings: Findings, scoring: bool = False
) -> pd.Series:
    """The churn flag as 0/1 floats; a flag that cannot be read, or missing flags, are findings
    (when ``scoring``, missing flags are fine)."""
    label, why = _label_values(frame[label_col], positive)
    if scoring and frame[label_col].isna().all():
        return pd.Series(np.nan, index=frame.index)
    if why:
        findings.add(
            "customers", label_col, f"(churn.label) {why}", "Point churn.label at the flag."
        )
    elif not scoring:
        findings.add(
            "customers",
            label_col,
            "have no churn flag",
            "Fill in the flag or remove these rows.",
            frame=frame,
            mask=label.isna().to_numpy(),
        )
    return label


def _customer_ids(frame: pd.DataFrame, id_col: str | None, findings: Findings) -> pd.Series:
    """The configured ids (a shared id is a finding), else ``row <n>`` counted from 1."""
    if not id_col:
        return pd.Series([f"row {i + 1}" for i in frame.index], dtype="str")
    ids = frame[id_col].astype("str").str.strip()
    dupe_ids = ids.duplicated(keep=False)
    findings.add(
        "customers",
        id_col,
        "share a customer id with another, different row",
        "Keep one row per customer.",
        frame=frame.assign(customer_id=ids),
        mask=dupe_ids.to_numpy(),
    )
    return ids


def _feature_values(
    frame: pd.DataFrame, features: list[str], categorical_cols: Any, findings: Findings
) -> tuple[dict[str, pd.Series], list[str]]:
    """Each feature as float64 (mostly numbers) or a category, and the names of the categories."""
    cols: dict[str, pd.Series] = {}
    categorical: list[str] = []
    for c in features:
        s = frame[c]
        if c in categorical_cols:
            cols[c] = _category(s)
            categorical.append(c)
            continue
        number, bad = coerce_number(s)
        present = s.notna() & (s.astype("str").str.strip() != "")
        n_bad, n_present = int(bad.sum()), int(present.sum())
        if n_present and n_bad <= 0.05 * n_present:
            # Mostly numbers: a few stray values (blanks, "n/a") are missing, not categories.
            blanks = int((s.notna() & ~present).sum())
            if n_bad or blanks:
                findings.warn(
                    f"customers.{c}: {rows(n_bad + blanks)} blank or not a number, read as missing."
                )
            cols[c] = number.mask(bad)
        else:
            cat = _category(s)
            if cat.cat.categories.size > ID_LIKE_SHARE * len(s) and len(s) >= 20:
                findings.warn(
                    f"customers.{c}: {cat.cat.categories.size:,} distinct values in "
                    f"{len(s):,} rows looks like an identifier; add it to static.ignore."
                )
            cols[c] = cat
            categorical.append(c)
    return cols, categorical


def _category(s: pd.Series) -> pd.Series:
    text = s.astype("str").str.strip().where(s.notna())
    text = text.mask(text == "")
    return text.astype("category")


def load_static(
    path: str | Path, *, scoring: bool = False, log_warnings: bool = True
) -> StaticDataset:
    """Read and prepare a static-table dataset from its YAML config (``churn.definition: flag``).

    The only function here that touches files, through ``churn.data.read_static_source``;
    ``scoring``: rows to score, whose label may be absent (see ``prepare_static``);
    ``log_warnings``: log each warning once (False where the caller shows them itself).
    """
    config, frame, findings = read_static_source(path)
    data = prepare_static(frame, config, findings, scoring=scoring)
    if log_warnings:
        for warning in data.warnings:
            log.warning(warning)
    return data


# --- models on a static table ----------------------------------------------------------------


def _lgb_params(params: dict[str, Any] | None, seed: int, num_threads: int) -> dict[str, Any]:
    out = {**STATIC_LIGHTGBM, **(params or {})}
    out.update(seed=seed, num_threads=num_threads, deterministic=True, metric="binary_logloss")
    return out


def fit_lightgbm(
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    params: dict[str, Any] | None = None,
    seed: int = 42,
    num_threads: int = 1,
    num_boost_round: int | None = None,
    valid_share: float = 0.2,
    groups: np.ndarray | None = None,
) -> Any:
    """LightGBM on a static table.

    Without ``num_boost_round``, the number of trees is chosen by early stopping on a
    stratified ``valid_share`` of the rows given (never on rows to be scored later), then the
    model is refitted on all the rows given with that many trees. With ``groups`` (customer
    ids of snapshot rows), the split keeps each customer on one side: rows of one customer at
    neighbouring snapshots are near copies, and would make early stopping never stop.
    """
    import lightgbm as lgb
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    p = _lgb_params(params, seed, num_threads)
    if num_boost_round is not None:
        return lgb.train(p, lgb.Dataset(X, y), num_boost_round=num_boost_round)
    idx = np.arange(len(y))
    if groups is None:
        fit_i, val_i = train_test_split(idx, test_size=valid_share, stratify=y, random_state=seed)
    else:
        splitter = GroupShuffleSplit(n_splits=1, test_size=valid_share, random_state=seed)
        fit_i, val_i = next(splitter.split(idx, y, groups=np.asarray(groups)))
    dfit = lgb.Dataset(X.iloc[fit_i], y[fit_i])
    dval = lgb.Dataset(X.iloc[val_i], y[val_i], reference=dfit)
    booster = lgb.train(
        p,
        dfit,
        num_boost_round=STATIC_MAX_ROUNDS,
        valid_sets=[dval],
        callbacks=[lgb.early_stopping(STATIC_EARLY_STOPPING, verbose=False)],
    )
    best = int(booster.best_iteration or booster.current_iteration())
    # The tree count is chosen on the inner split; the final trees then learn from every row
    # given (on a few thousand rows, the held-out fifth is worth having back).
    return lgb.train(p, lgb.Dataset(X, y), num_boost_round=best)


@dataclass
class CrossValidation:
    """Result of ``cross_validate``.

    Parameters
    ----------
    folds
        One row per (repeat, fold, model) with the metrics of ``churn.evaluation.evaluate``.
    summary
        Mean and standard deviation of each metric per model, over all folds.
    oof
        Out-of-fold scores of the first repeat: customer_id, label, one column per model.
    protocol
        The protocol in words, for reports.
    """

    folds: pd.DataFrame
    summary: pd.DataFrame
    oof: pd.DataFrame
    protocol: str


def cross_validate(
    data: StaticDataset,
    *,
    evaluate: Callable[..., dict[str, float]],
    baseline: Callable[[list[str]], Any] | None = None,
    n_splits: int = 5,
    n_repeats: int = 3,
    seed: int = 42,
    params: dict[str, Any] | None = None,
    num_threads: int = 1,
    progress: bool = False,
) -> CrossValidation:
    """Repeated stratified k-fold: LightGBM against the logistic-regression baseline.

    With no time axis there is no out-of-time split; each fold keeps the churn rate, both
    models see the same folds, and duplicates were already dropped by ``prepare_static``.

    Parameters
    ----------
    data
        From ``prepare_static``.
    evaluate
        ``churn.evaluation.evaluate`` (passed in: the metrics live downstream of this module).
    baseline
        Factory ``features -> estimator`` with ``fit(frame, y)`` and ``predict_proba(frame)``,
        e.g. ``lambda f: churn.baselines.LogisticBaseline(f)``; its scores are reported as
        ``logistic_regression``. None: LightGBM only.
    n_splits, n_repeats, seed
        Folds, repeats and the random seed.
    params, num_threads
        LightGBM overrides of ``STATIC_LIGHTGBM``; threads (1 on shared machines).
    progress
        Show a progress bar.
    """
    from sklearn.model_selection import RepeatedStratifiedKFold

    X, y = data.features, data.label
    features = list(X.columns)
    cv = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=seed)
    splits = list(cv.split(np.zeros(len(y)), y))
    records: list[dict[str, Any]] = []
    oof = pd.DataFrame(
        {
            "customer_id": data.customer_id,
            "label": y,
            "lightgbm": np.nan,
            "logistic_regression": np.nan,
        }
    )
    with progress_bar(f"{data.name}: cross-validation", len(splits), progress) as bar:
        for i, (train_i, test_i) in enumerate(splits):
            repeat, fold = divmod(i, n_splits)
            Xtr, ytr, Xte, yte = X.iloc[train_i], y[train_i], X.iloc[test_i], y[test_i]
            booster = fit_lightgbm(Xtr, ytr, params=params, seed=seed + i, num_threads=num_threads)
            scores = {"lightgbm": booster.predict(Xte)}
            if baseline is not None:
                scores["logistic_regression"] = baseline(features).fit(Xtr, ytr).predict_proba(Xte)
            k = max(1, math.ceil(len(test_i) / 10))
            for model, p in scores.items():
                records.append(
                    {"repeat": repeat, "fold": fold, "model": model}
                    | evaluate(yte, p, capacity_k=k)
                    | ({"trees": booster.num_trees()} if model == "lightgbm" else {})
                )
                if repeat == 0:
                    oof.loc[test_i, model] = p
            bar.advance()
    folds = pd.DataFrame.from_records(records)
    metrics = ["roc_auc", "pr_auc", "top_decile_lift", "brier", "log_loss"]
    summary = folds.groupby("model")[metrics].agg(["mean", "std"])
    protocol = f"{n_repeats}x{n_splits}-fold repeated stratified CV on {len(y):,} customers" + (
        f" ({data.duplicates_dropped:,} exact duplicates dropped first)"
        if data.duplicates_dropped
        else ""
    )
    return CrossValidation(folds=folds, summary=summary, oof=oof, protocol=protocol)


@dataclass
class StaticModel:
    """A LightGBM model trained on a static table, with its feature layout.

    ``odds_factor`` undoes a sampled training set (``static.sampling``): the booster's
    probabilities are the sample's, :meth:`predict_proba` returns the population's.
    """

    booster: Any
    features: list[str]
    categories: dict[str, list[str]]
    odds_factor: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)

    def encode(self, features: pd.DataFrame) -> pd.DataFrame:
        """``features`` in the model's column order, categories coded as in training."""
        X = features.reindex(columns=self.features)
        for c, cats in self.categories.items():
            # The training categories, in training order: LightGBM reads category codes.
            X[c] = pd.Categorical(X[c].astype("object"), categories=cats)
        return X

    def predict_proba(self, data: StaticDataset) -> pd.DataFrame:
        """``customer_id`` and ``churn_probability`` (population-corrected) for every row."""
        p = odds_correct(self.booster.predict(self.encode(data.features)), self.odds_factor)
        return pd.DataFrame({"customer_id": data.customer_id, "churn_probability": p})


def fit_static(
    data: StaticDataset,
    *,
    num_boost_round: int,
    params: dict[str, Any] | None = None,
    seed: int = 42,
    num_threads: int = 1,
    odds_factor: float = 1.0,
) -> StaticModel:
    """Fit the final model on every row given, with the tree count chosen by cross-validation
    (``params``: overrides of ``STATIC_LIGHTGBM``; ``odds_factor``: see ``StaticModel``)."""
    booster = fit_lightgbm(
        data.features,
        data.label,
        params=params,
        seed=seed,
        num_threads=num_threads,
        num_boost_round=num_boost_round,
    )
    cats = {c: list(data.features[c].cat.categories) for c in data.categorical}
    return StaticModel(
        booster=booster,
        features=list(data.features.columns),
        categories=cats,
        odds_factor=odds_factor,
        params=dict(params or {}),
    )


# --- transaction logs ------------------------------------------------------------------------


def visible_before(tables: Tables, cutoff: object) -> Tables:
    """The dataset as it was known at ``cutoff``: a new ``Tables``, the input is not modified.

    Events are kept only when they happened and were recorded strictly before ``cutoff``
    (usage rows: their whole period ended by then), customers only when they had signed up
    before it, and the extraction date becomes ``cutoff``. Training on this cannot see a label
    window after ``cutoff``.
    """
    from churn.contract import USAGE_PERIODS
    from churn.features import usage_visible_from

    ts = pd.Timestamp(cutoff)
    if ts > pd.Timestamp(tables.extraction_date):
        raise ChurnError(
            f"cutoff {ts.date()} is after the extraction date {tables.extraction_date.date()}"
        )
    c = tables.customers
    inter, nps, usage = tables.interactions, tables.nps, tables.usage
    end = usage["date"] + USAGE_PERIODS[tables.usage_period]
    return dataclasses.replace(
        tables,
        customers=c.loc[c["signup_date"] < ts].reset_index(drop=True),
        interactions=inter.loc[(inter["timestamp"] < ts) & (inter["recorded_at"] < ts)].reset_index(
            drop=True
        ),
        nps=nps.loc[
            (nps["sent_at"].fillna(nps["timestamp"]) < ts) & (nps["recorded_at"] < ts)
        ].reset_index(drop=True),
        usage=usage.loc[usage_visible_from(end, usage["recorded_at"]) < ts].reset_index(drop=True),
        extraction_date=ts,
    )


def no_activity_labels(spine: pd.DataFrame, tables: Tables, horizon_days: int) -> pd.Series:
    """1.0 when the customer had no usage activity in ``[as_of, as_of + horizon)``, else 0.0.

    Activity is a usage row with a positive metric, dated at the start of its period (for a
    daily purchase log, the purchase day). NaN where the window ends after the extraction
    date: the data cannot yet say "no purchase".

    Returns
    -------
    pandas.Series
        Float labels aligned with ``spine``'s index, named ``label``.
    """
    if horizon_days <= 0:
        raise ChurnError(f"horizon_days must be positive, got {horizon_days}")
    u = tables.usage
    metrics = [m for m in tables.usage_metrics if m in u]
    if not metrics:
        raise ChurnError("table 'usage' has no metric columns, so activity cannot be seen")
    active = (u[metrics].fillna(0) > 0).any(axis=1)
    ev = pd.DataFrame({"customer_id": u["customer_id"].astype("str"), "t": u["date"]})[active]
    sp = pd.DataFrame(
        {
            "customer_id": spine["customer_id"].astype("str").to_numpy(),
            "as_of": pd.to_datetime(spine["as_of"]).to_numpy(),
            "_row": np.arange(len(spine)),
        }
    )
    j = sp.merge(ev, on="customer_id", how="inner")
    horizon = pd.Timedelta(days=horizon_days)
    hit = (j["t"] >= j["as_of"]) & (j["t"] < j["as_of"] + horizon)
    bought = np.zeros(len(sp), dtype=bool)
    bought[j.loc[hit, "_row"].to_numpy()] = True
    label = np.where(bought, 0.0, 1.0)
    unknown = (sp["as_of"] + horizon > pd.Timestamp(tables.extraction_date)).to_numpy()
    label = np.where(unknown & ~bought, np.nan, label)
    return pd.Series(label, index=spine.index, name="label")
