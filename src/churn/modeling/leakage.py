"""The leak probe: is this run too good to be true? Pure functions over DataFrames.

On a user's data there is no oracle to say that a model is impossibly good, so every training
run (out of time and static) checks three things:

1. **Each feature alone**, on the rows the model is fitted on: its ROC AUC, orientation-free
   (``max(auc, 1 - auc)``: a column that is the label reversed leaks as much), with missing
   values placed at whichever end ranks best, and the AUC of its missingness indicator (a value
   filled in only for those who left). Categories are scored by their churn rate computed
   **out of fold** (5 folds, by customer when rows repeat a customer): a category's own rows
   never set its rate, so an identifier-like column, whose in-sample rates would be perfect,
   scores about 0.5, while a column whose categories are the outcome still scores about 1. A
   feature at or above ``training.leak_single_feature_auc`` (0.95) is named.
2. **The model**: a test (static: cross-validated) ROC AUC at or above
   ``training.leak_model_auc`` (0.98) on data without an oracle; with the simulator's truth, a
   model / oracle ROC AUC above ``ORACLE_LEAK_RATIO``, since nothing ranks better than the true
   probabilities.
3. **Names** that look like the outcome or something recorded after it (status, reason, churn
   score, satisfaction, cancel, exit, disconnect...): listed as "check these", a warning only.

Either of the first two findings refuses the run: the shell logs it with the finding but does
not register or promote the model, and exits with ``churn.errors.LeakSuspected`` (code 3).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn.errors import LeakSuspected
from churn.modeling.compare import MODEL, Comparison
from churn.modeling.training import feature_columns
from churn.settings import TrainingSettings

log = logging.getLogger(__name__)

#: A model cannot rank better than the true probabilities. Beating the oracle's ROC AUC by more
#: than sampling noise (~1% on a few thousand test rows) means a feature knows the future.
ORACLE_LEAK_RATIO = 1.02
#: MLflow artifact with every feature's single AUC, and the run tag with the finding.
LEAK_PROBE_ARTIFACT = "evaluation/leak_probe.csv"
LEAK_PROBE_TAG = "leak_probe"
#: Folds of the out-of-fold churn rate of a category.
PROBE_FOLDS = 5
#: Word stems of names that often hold the outcome or a value recorded after it. Matched at the
#: start of a word of the name (``Churn Reason``, ``customer_status``, ``SatisfactionScore``).
SUSPECT_STEMS = (
    "status",
    "reason",
    "churn",
    "satisf",
    "cancel",
    "exit",
    "disconnect",
    "terminat",
    "deactivat",
    "offboard",
    "winback",
    "retention",
    "outcome",
    "target",
    "label",
)
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def suspect_names(names: Iterable[str]) -> dict[str, str]:
    """Names that look like the outcome or a post-outcome value, with the stem each matched.

    >>> suspect_names(["tenure", "Churn Reason", "customerStatus"])
    {'Churn Reason': 'reason', 'customerStatus': 'status'}
    """
    out: dict[str, str] = {}
    for name in names:
        words = [w.lower() for w in _WORD.findall(str(name))]
        hit = next((s for s in SUSPECT_STEMS for w in words if w.startswith(s)), None)
        if hit:
            out[str(name)] = hit
    return out


def _auc(score: np.ndarray, y: np.ndarray) -> float:
    """Orientation-free ROC AUC from average ranks (ties count half); NaN with one class."""
    n1 = float(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = pd.Series(score).rank(method="average").to_numpy()
    auc = (ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    return float(max(auc, 1 - auc))


def _folds(n: int, groups: np.ndarray | None, seed: int) -> np.ndarray:
    """A fold number per row; rows of one group (customer) share a fold."""
    rng = np.random.default_rng(seed)
    if groups is None:
        return rng.permutation(n) % PROBE_FOLDS
    codes, uniques = pd.factorize(pd.Series(groups), use_na_sentinel=False)
    return (rng.permutation(len(uniques)) % PROBE_FOLDS)[codes]


def _category_rates(s: pd.Series, y: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """Each row's category churn rate from the other folds (missing is a category; a category
    unseen there gets the overall rate of the other folds)."""
    cat = pd.Series(s.astype("object").where(s.notna(), "<missing>").astype("str").to_numpy())
    out = np.empty(len(y))
    for k in np.unique(fold):
        held = fold == k
        rest = pd.DataFrame({"c": cat[~held].to_numpy(), "y": y[~held]})
        rates = rest.groupby("c")["y"].mean()
        prior = float(rest["y"].mean()) if len(rest) else float(y.mean())
        out[held] = cat[held].map(rates).fillna(prior).to_numpy(dtype=float)
    return out


def _value_auc(s: pd.Series, y: np.ndarray) -> float:
    """A numeric column's AUC, missing values at whichever end ranks best."""
    v = pd.to_numeric(s, errors="coerce").astype(float).to_numpy()
    present = ~np.isnan(v)
    if not present.any():
        return float("nan")
    lo, hi = np.nanmin(v) - 1, np.nanmax(v) + 1
    return max(_auc(np.where(present, v, lo), y), _auc(np.where(present, v, hi), y))


def single_feature_auc(
    X: pd.DataFrame, y: np.ndarray, *, groups: np.ndarray | None = None, seed: int = 0
) -> pd.DataFrame:
    """Every feature's ROC AUC alone, and its missingness indicator's (see the module doc).

    Parameters
    ----------
    X
        Feature columns of the rows the model is fitted on; numbers and booleans are ranked as
        they are, anything else (categories, text) by its out-of-fold churn rate.
    y
        0/1 labels of those rows (no missing labels).
    groups
        Customer of each row when rows repeat customers (snapshots): a customer's rows share a
        fold, so a category cannot learn a customer's own outcome. ``None``: rows are customers.
    seed
        Fold assignment.

    Returns
    -------
    pandas.DataFrame
        One row per feature, strongest first: ``feature``, ``kind`` (numeric, categorical),
        ``auc``, ``missing_share``, ``missing_auc`` (NaN when never or always missing),
        ``single_auc`` (the larger of the two) and ``name_hint`` (the suspect word, or "").
    """
    y = np.asarray(y, dtype=float)
    fold = _folds(len(y), groups, seed)
    hints = suspect_names(X.columns)
    records = []
    for col in X.columns:
        s = X[col]
        numeric = pd.api.types.is_numeric_dtype(s.dtype) and not isinstance(
            s.dtype, pd.CategoricalDtype
        )
        auc = _value_auc(s, y) if numeric else _auc(_category_rates(s, y, fold), y)
        missing = s.isna().to_numpy()
        share = float(missing.mean()) if len(missing) else 0.0
        miss_auc = _auc(missing.astype(float), y) if 0 < share < 1 else float("nan")
        records.append(
            {
                "feature": str(col),
                "kind": "numeric" if numeric else "categorical",
                "auc": auc,
                "missing_share": share,
                "missing_auc": miss_auc,
                "single_auc": float(np.nanmax([auc, miss_auc, 0.5])),
                "name_hint": hints.get(str(col), ""),
            }
        )
    table = pd.DataFrame.from_records(
        records,
        columns=["feature", "kind", "auc", "missing_share", "missing_auc", "single_auc"]
        + ["name_hint"],
    )
    return table.sort_values("single_auc", ascending=False, kind="stable").reset_index(drop=True)


def oracle_finding(ratio: float) -> str:
    """The words for a model that ranks better than the simulator's true probabilities."""
    return (
        f"too good to be true: the model beats the oracle (ROC AUC ratio {ratio:.3f} > "
        f"{ORACLE_LEAK_RATIO}), so a feature leaks the future"
    )


@dataclass(frozen=True)
class LeakProbe:
    """What the leak probe found in one run.

    Parameters
    ----------
    table
        ``single_feature_auc`` of every feature (logged as ``LEAK_PROBE_ARTIFACT``).
    threshold
        ``training.leak_single_feature_auc``.
    accepted
        Features the user accepted with ``--accept-leak-risk``: never named as a finding.
    model_finding
        "" or why the model itself is too good to be true (``check_model``).
    """

    table: pd.DataFrame
    threshold: float
    accepted: tuple[str, ...] = ()
    model_finding: str = ""

    @property
    def flagged(self) -> pd.DataFrame:
        """Features at or above the threshold alone, not accepted."""
        t = self.table
        return t.loc[(t["single_auc"] >= self.threshold) & ~t["feature"].isin(self.accepted)]

    @property
    def check_these(self) -> list[str]:
        """Features whose names look like the outcome (a warning, not a refusal)."""
        t = self.table
        return t.loc[t["name_hint"] != "", "feature"].tolist()

    @property
    def refused(self) -> bool:
        """Whether the model must not be registered or promoted."""
        return not self.flagged.empty or bool(self.model_finding)

    def _named(self, rows: pd.DataFrame) -> str:
        return ", ".join(f"{r.feature} (AUC {r.single_auc:.3f})" for r in rows.itertuples())

    def finding(self) -> str:
        """The finding in one line (the ``leak_probe`` tag)."""
        parts = []
        if not self.flagged.empty:
            parts.append(
                f"single feature at or above {self.threshold}: {self._named(self.flagged)}"
            )
        if self.model_finding:
            parts.append(self.model_finding)
        t = self.table
        waived = t.loc[t["feature"].isin(self.accepted) & (t["single_auc"] >= self.threshold)]
        note = f"; accepted (--accept-leak-risk): {self._named(waived)}" if len(waived) else ""
        if not parts:
            best = self._named(t.head(3)) or "no features"
            return f"clean: strongest single features {best}{note}"
        return "; ".join(parts) + note

    def tags(self) -> dict[str, str]:
        """Run tags: the finding, the accepted features and the names to check (<= 5000 chars)."""
        return {
            LEAK_PROBE_TAG: self.finding()[:5000],
            "leak_probe_refused": str(self.refused),
            "leak_probe_accepted": ", ".join(self.accepted) or "(none)",
            "leak_probe_check_these": ", ".join(self.check_these)[:5000] or "(none)",
        }

    def raise_if_refused(self, run_id: str | None, *, static: bool) -> None:
        """Raise ``LeakSuspected`` (exit code 3) with :meth:`message` if the run is refused."""
        if self.refused:
            raise LeakSuspected(self.message(static=static, run_id=run_id), run_id=run_id)

    def message(self, *, static: bool, run_id: str | None = None) -> str:
        """Why the run was refused and how to proceed, for the CLI."""
        where = f"MLflow run {run_id}" if run_id else "the MLflow run"
        lines = [f"leak suspected, so the model was NOT registered or promoted ({where}):"]
        lines += [f"  {self.finding()}", "How to proceed:"]
        names = self.flagged["feature"].tolist()
        ignore = (
            f"static.ignore: [{', '.join(names or ['<column>'])}]"
            if static
            else "tables.<table>.ignore: [<source column>] (e.g. a usage metric)"
        )
        if names:
            shown = " ".join(f"--accept-leak-risk {n!r}" for n in names)
            lines += [
                f"  - a column known only after the outcome: leave it out with {ignore} in the "
                "dataset config, then train again;",
                f"  - a column you know is legitimate: churn train ... {shown}.",
            ]
        else:
            lines.append(
                "  - no single column explains it (strongest alone: "
                f"{self._named(self.table.head(3))}); a leak can hide in several columns "
                "together: check the features at the top of features/importance.csv in the run "
                f"and leave a leaking one out with {ignore} in the dataset config;"
            )
            lines.append(
                "  - the simulator's truth cannot be beaten: a feature reads data from after "
                "as_of; --force does not override this."
                if "oracle" in self.model_finding
                else "  - a model that is really this accurate (ask someone who knows the data): "
                "set training.leak_model_auc higher (e.g. 0.99) in a settings file passed with "
                "--config; the run records the threshold."
            )
        if self.check_these:
            lines.append(
                f"Also check these (named like the outcome): {', '.join(self.check_these)}"
            )
        return "\n".join(lines)


def probe_features(
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    threshold: float,
    accepted: Iterable[str] = (),
    groups: np.ndarray | None = None,
    seed: int = 0,
) -> LeakProbe:
    """Check 1 and 3 of the module doc on the fit rows (``single_feature_auc``)."""
    table, accepted = single_feature_auc(X, y, groups=groups, seed=seed), tuple(accepted)
    unknown = sorted(set(accepted) - set(table["feature"]))
    if unknown:
        log.warning("--accept-leak-risk names no feature of this run: %s", ", ".join(unknown))
    probe = LeakProbe(table=table, threshold=threshold, accepted=accepted)
    if probe.check_these:
        log.warning(
            "check these features, named like the outcome or something recorded after it: %s",
            ", ".join(probe.check_these),
        )
    return probe


def probe_rows(
    rows: pd.DataFrame, training: TrainingSettings, accepted: Iterable[str] = ()
) -> LeakProbe:
    """``probe_features`` on a training frame's labelled rows (the fit window): its feature
    columns (``churn.modeling.feature_columns``), its label, customers as groups."""
    return probe_features(
        rows[feature_columns(rows)],
        rows["label"].to_numpy(dtype=float),
        threshold=training.leak_single_feature_auc,
        accepted=accepted,
        groups=rows["customer_id"].to_numpy(),
        seed=training.seed,
    )


def check_model(
    probe: LeakProbe, model_auc: float, threshold: float, oracle_ratio: float | None = None
) -> LeakProbe:
    """Check 2 of the module doc: the probe with the model's finding added ("" when none).

    With an oracle only the oracle ratio counts: simulated data may be truly this predictable.
    Without one, an AUC at or above ``threshold`` is refused, unless the user accepted a feature
    that alone passed the single-feature threshold: that feature explains the model's AUC, and
    the user has said it is legitimate.
    """
    if oracle_ratio is not None:
        bad = oracle_ratio > ORACLE_LEAK_RATIO
        return dataclasses.replace(probe, model_finding=oracle_finding(oracle_ratio) if bad else "")
    t = probe.table
    waived = bool(t.loc[t["feature"].isin(probe.accepted), "single_auc"].ge(probe.threshold).any())
    if not (np.isfinite(model_auc) and model_auc >= threshold) or waived:
        return probe
    finding = (
        f"too good to be true: model ROC AUC {model_auc:.3f} >= {threshold} "
        "(training.leak_model_auc); real churn data rarely allows it, a leak usually does"
    )
    return dataclasses.replace(probe, model_finding=finding)


def check_comparison(probe: LeakProbe, comparison: Comparison, threshold: float) -> LeakProbe:
    """``check_model`` on a test-window comparison: the model's ROC AUC, and its ratio to the
    oracle's when the comparison has one."""
    auc = comparison.results[MODEL]["roc_auc"]
    return check_model(probe, auc, threshold, comparison.oracle_ratio)
