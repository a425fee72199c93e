"""Point-in-time features: every value as it was known at the snapshot instant ``as_of``.

``build_features(spine, tables)`` is the one feature function. Training calls it on a spine of
many weekly snapshots; weekly scoring calls it on a spine of one date (``churn.spine``). The
only difference between the two is the spine, so training and scoring cannot drift apart.

The visibility rule, written down once
--------------------------------------
A record is visible at ``as_of`` only if it happened strictly before ``as_of`` **and** reached
the data strictly before ``as_of`` (``recorded_at < as_of``). Windowed features see
``as_of - window <= t < as_of``. A usage row covers ``[date, end)``, ``end = date + period``, and
aggregates events that all lie before its exclusive end: it is known at its end, so it is
visible once its whole period has ended (``end <= as_of``; a monthly row seen earlier would leak
the weeks after ``as_of``), and the week ending exactly at a Monday ``as_of`` is visible that
Monday. A ``recorded_at`` given in the data is when the row arrived and, like every record's,
must be strictly before ``as_of``; without one the row is known at its end
(``usage_visible_from``). Usage windows are placed on the period end
(``as_of - window < end <= as_of``).

Values filled in later follow the same rule: anything that became known at or after ``as_of``
never changes a feature for ``as_of``, whether a new record or a value written into an old one.

* A ticket's resolution is known once it happened and its record reached the data
  (``max(resolved_at, recorded_at) < as_of``); until then the ticket is open. Its CSAT and
  sentiment are filled in at resolution, so only tickets resolved (and recorded) before
  ``as_of`` contribute them; without ``resolved_at`` in the data they are left out.
* A survey's send and its answer are known separately: the send once sent, the answer once
  given and recorded. A survey sent before ``as_of`` and answered (or its answer recorded) at
  or after it is pending at ``as_of``: it counts as sent and unanswered.
* Days to renewal comes from the contract term (``contract_months``) and the signup date,
  both known at any ``as_of``; ``contract_end_date`` (the term's end as extracted, for a
  customer who left the renewal they left at) is never read.

``tests/leakage`` checks this by property: appending records stamped at/after ``as_of``, or
redrawing and blanking every value that became known at/after it, leaves every feature equal.

Engine
------
Event aggregation runs as Ibis expressions on one backend (``churn.features.backend``:
in-memory DuckDB by default, or Spark); nothing loops over rows in Python. Only operations every
SQL engine has: range joins, ``GROUP BY`` with conditional aggregates and window functions (no
ASOF join, no temporary table, no UDF). Two query shapes, both avoiding one rescan per snapshot:

* windowed features: a range join of the spine to the events on ``customer_id`` and
  ``as_of - max_window <= t < as_of``, then one ``GROUP BY`` snapshot row with conditional
  aggregates (``FILTER (WHERE ...)``) per window;
* unbounded "last"/"count so far" features: the events are pre-aggregated into running totals
  per customer, ordered by the instant each became visible, and for each snapshot the last
  running total visible before ``as_of`` is looked up with a window function (``_Engine._asof``:
  what an ASOF join does, which Spark SQL lacks).

The spine is processed in chunks of customers (a fixed hash of the id), each with all of its
snapshot dates and only its customers' events, so that the joined frame stays bounded and every
event is read once for all snapshots.
Timestamps are floored to microseconds (DuckDB's precision) before they reach the engine; flooring
both sides never makes a later record visible. No SQL strings are written by hand.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from churn.contract import NPS_DETRACTOR_MAX, NPS_PROMOTER_MIN, USAGE_PERIODS, Tables
from churn.errors import ChurnError
from churn.features.activity import (
    PERCENTILES,
    activity_spec,
    cohort_percentiles,
    lifetime_activity,
)
from churn.features.backend import Backend, connect
from churn.features.registry import (
    ACTIVE_METRICS,
    INTERACTION_WINDOWS,
    OLD_COMPLAINT_DAYS,
    SEAT_METRICS,
    FeatureColumn,
    select,
    slug,
)
from churn.features.registry import seat_pair as _seat_pair

if TYPE_CHECKING:
    from churn.settings import EngineSettings

log = logging.getLogger(__name__)

#: At most this many channels and categories get their own count columns (the most frequent).
MAX_LEVELS = 8
#: At most this many usage metrics get utilisation features (in the dataset's order).
MAX_METRICS = 8
#: Experience balance: half-life of a credit or debit, in days. After 60 days an event counts
#: half, after 180 days an eighth: recent experience dominates, old grudges fade.
BALANCE_HALF_LIFE_DAYS = 60.0
#: A ticket resolved within this many days earns a credit ...
FAST_RESOLUTION_DAYS = 2
#: ... and one still unresolved after this many days a debit, dated when it crossed the line.
LEFT_OPEN_DAYS = 7
#: Credits (+) and debits (-) of the experience balance.
BALANCE_WEIGHTS: dict[str, float] = {
    "fast_resolution": 1.0,
    "complaint": -2.0,
    "left_open": -1.0,
    "detractor": -2.0,
    "promoter": 1.0,
}
#: Rough cap on joined rows per customer chunk of the spine (memory, not correctness).
CHUNK_PAIRS = 5_000_000
NPS_CATEGORIES = ("detractor", "passive", "promoter")
#: The fixed origin of the experience-balance exponentials (see ``_balance_features``). Fixed,
#: not data-dependent, so that adding records after as_of cannot change a value even by rounding.
_BALANCE_ORIGIN = pd.Timestamp("2000-01-01")
_US = "datetime64[us]"


@dataclass(frozen=True)
class FeatureSpec:
    """Which data-dependent feature columns exist. Part of a trained model.

    The columns generated per channel, category and usage metric, and the category lists of the
    account columns, depend on the data. Training derives them once (``from_tables``) and stores
    them with the model; scoring passes the same spec so that both produce identical columns.

    Parameters
    ----------
    channels, categories
        Interaction channel / category values that get their own count columns.
    usage_metrics
        Usage metric columns that get utilisation features.
    plans, segments, regions
        Category lists of ``acct_plan``, ``acct_segment`` and ``acct_region``.
    has_resolution
        Whether interactions carry ``resolved_at`` values.
    has_csat, has_sentiment
        Whether interactions carry ``csat`` / ``sentiment`` values **and** resolutions: both are
        filled in once a ticket is resolved, so without ``resolved_at`` no instant tells when a
        value became known, and the feature is left out.
    has_contract_term
        Whether customers (or the account history) carry ``contract_months``, the term that
        dates renewals. Without it days to renewal is left out: ``contract_end_date`` is never
        a feature (for a customer who left it is the renewal they left at).
    history
        The attributes the dataset's ``account_history`` dates (plan, arr, seats_licensed,
        segment, region, contract_months): these take the value in force at ``as_of``, and the
        change features (seats, ARR, downgrades) exist. Empty: today's extract is used.
    plan_order
        The plans from lowest to highest, by median ARR (ties by name), for downgrades and
        upgrades; empty when the history does not date the plan or no ARR ranks them.
    activity_history, activity_windows
        Lifetime-activity features (``act_*``, ``churn.features.activity``): on for churn by
        inactivity with usage activity (a purchase log); their count windows are those of
        ``ACTIVITY_WINDOWS`` shorter than the usage history.
    """

    channels: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    usage_metrics: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    has_resolution: bool = False
    has_csat: bool = False
    has_sentiment: bool = False
    has_contract_term: bool = False
    windows: tuple[int, ...] = field(default=INTERACTION_WINDOWS)
    history: tuple[str, ...] = ()
    plan_order: tuple[str, ...] = ()
    activity_history: bool = False
    activity_windows: tuple[int, ...] = ()

    @classmethod
    def from_tables(cls, tables: Tables) -> FeatureSpec:
        """Derive the spec from a dataset (most frequent channels/categories, its metrics)."""
        inter = tables.interactions
        cust = tables.customers

        def top(frame: pd.DataFrame, col: str) -> tuple[str, ...]:
            if col not in frame or frame.empty:
                return ()
            counts = frame[col].dropna().astype(str).value_counts()
            # Ties broken by name so the spec does not depend on row order.
            counts = counts.sort_index().sort_values(ascending=False, kind="stable")
            return tuple(counts.index[:MAX_LEVELS])

        hist = tables.account_history
        history = tables.history_attributes

        def levels(col: str) -> tuple[str, ...]:
            # A plan on record only in the history (since left behind) is a level too.
            values = [f[col].dropna().astype(str) for f in (cust, hist) if col in f]
            if col not in cust and col not in history:
                return ()
            return tuple(sorted(set().union(*(v.unique() for v in values))))

        def present(col: str) -> bool:
            return col in inter and bool(inter[col].notna().any())

        metrics = tuple(m for m in tables.usage_metrics if m in tables.usage)[:MAX_METRICS]
        resolved = present("resolved_at")
        spec = cls(
            channels=top(inter, "channel"),
            categories=top(inter, "category"),
            usage_metrics=metrics,
            plans=levels("plan"),
            segments=levels("segment"),
            regions=levels("region"),
            has_resolution=resolved,
            has_csat=present("csat") and resolved,
            has_sentiment=present("sentiment") and resolved,
            has_contract_term=_has_term(cust) or _has_term(hist),
            history=history,
            plan_order=_plan_order(tables) if "plan" in history else (),
            **activity_spec(tables),
        )
        _say_what_is_left_out(tables, spec)
        return spec

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, to store next to a model."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FeatureSpec:
        """Inverse of ``to_dict``."""
        # A spec stored before has_contract_term existed always built days to renewal.
        raw = {"has_contract_term": True, **raw}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})


def _has_term(customers: pd.DataFrame) -> bool:
    """Whether any customer has a usable contract term (``contract_months`` > 0)."""
    return bool((_num(customers, "contract_months") > 0).any())


def _plan_order(tables: Tables) -> tuple[str, ...]:
    """Plans from lowest to highest by the median ARR of the rows that carry both (the account
    history's, else the customers'); ties by name. Empty when no row has both."""
    for frame in (tables.account_history, tables.customers):
        if "plan" not in frame or "arr" not in frame:
            continue
        both = pd.DataFrame({"plan": frame["plan"], "arr": _num(frame, "arr")}).dropna()
        if len(both):
            median = both.groupby(both["plan"].astype(str))["arr"].median().sort_index()
            return tuple(median.sort_values(kind="stable").index)
    return ()


def _say_what_is_left_out(tables: Tables, spec: FeatureSpec) -> None:
    """Warn, once per spec, about features the data cannot support without a leak."""
    months = _num(tables.customers, "contract_months")
    if not spec.has_contract_term:
        log.warning(
            "customers have no contract_months: acct_days_to_renewal is left out "
            "(contract_end_date is never used as a feature: for a customer who left it is the "
            "renewal they left at). Map the contract term in months to contract_months under "
            "tables.customers.columns in the dataset config to get renewal features."
        )
    elif "contract_months" not in spec.history and not (months > 0).all():
        log.warning(
            "%d of %d customers have no contract_months: their acct_days_to_renewal is missing "
            "(never derived from contract_end_date)",
            int((~(months > 0)).sum()),
            len(months),
        )
    inter = tables.interactions
    late = [c for c in ("csat", "sentiment") if c in inter and inter[c].notna().any()]
    if late and not spec.has_resolution:
        log.warning(
            "interactions carry %s but no resolved_at: these are filled in when a ticket is "
            "resolved, so without resolved_at their features are left out. Map resolved_at "
            "under tables.interactions.columns in the dataset config to use them.",
            " and ".join(late),
        )


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------


def _checked_spine(spine: pd.DataFrame) -> pd.DataFrame:
    """``customer_id`` (text) and ``as_of`` (datetime) of ``spine``; clear errors if unusable."""
    missing = {"customer_id", "as_of"} - set(spine.columns)
    if missing:
        raise ChurnError(
            f"the spine lacks column(s) {sorted(missing)}; build it with churn.spine.build_spine"
        )
    out = spine[["customer_id", "as_of"]].copy()
    out["customer_id"] = out["customer_id"].astype("str")
    out["as_of"] = pd.to_datetime(out["as_of"])
    if out["as_of"].isna().any():
        raise ChurnError("the spine has rows with an empty as_of; every snapshot needs a date")
    return out


def build_features(
    spine: pd.DataFrame,
    tables: Tables,
    spec: FeatureSpec | None = None,
    progress: bool = False,
    engine: EngineSettings | None = None,
    only: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Point-in-time features for every (customer_id, as_of) row of ``spine``.

    Parameters
    ----------
    spine
        Frame with ``customer_id`` and ``as_of`` (other columns are ignored). Not modified.
    tables
        The validated dataset.
    spec
        Which data-dependent columns to build; ``None`` derives it from ``tables``. Pass the
        model's spec when scoring so the columns match the ones it was trained on.
    progress
        Show a rich progress bar (per customer chunk and feature family).
    engine
        Where the event families run (the settings' ``engine`` section; ``None``: in-memory
        DuckDB). DuckDB and Spark give the same values (``tests/spark``, ``docs/spark.md``).
    only
        Build only these features (``churn.features.registry.select``: names of a
        ``FEATURE_SETS`` set such as ``"common"``, registry entries or generated columns);
        ``None``: all. Families and aggregates nobody asked for are not computed, and every
        value equals the same column of the full build.

    Returns
    -------
    pandas.DataFrame
        Exactly one row per spine row, in the same order and with the same index: columns
        ``customer_id``, ``as_of`` and then ``feature_names(spec)`` (those ``only`` selects).
    """
    out, spec, columns, need = _plan(spine, tables, spec, only)
    if out.empty:
        return _finish(out, pd.DataFrame(index=pd.RangeIndex(0)), spec, columns)
    work = _work(out)
    store = _Store(len(out), columns, hidden=need - {c.name for c in columns}, spec=spec)
    for _, parts in _each_chunk(work, tables, spec, need, (progress, engine)):
        for part in parts:
            store.put(part)
    if spec.activity_history and need & set(PERCENTILES):
        # Across chunks: a percentile ranks every spine row of the same as_of.
        store.put(cohort_percentiles(store.numeric(PERCENTILES.values()), work["as_of"]))
    return store.finish(out, spec)


def iter_features(
    spine: pd.DataFrame,
    tables: Tables,
    spec: FeatureSpec | None = None,
    progress: bool = False,
    engine: EngineSettings | None = None,
    only: str | Sequence[str] | None = None,
) -> Iterator[pd.DataFrame]:
    """:func:`build_features`, one customer chunk at a time, so that the whole frame never
    exists: each frame holds every spine row of the chunk's customers (all their dates), in
    spine order and with the spine's index; together they are ``build_features``' rows, each
    once, grouped by chunk (``pd.concat(...).sort_index()`` on a unique index equals it).

    With the cross-sectional percentiles (``act_*_pct``, which rank every customer of a date)
    asked for, the chunks cannot be ranked apart: the whole frame comes as one.
    """
    out, spec, columns, need = _plan(spine, tables, spec, only)
    if out.empty or (spec.activity_history and need & set(PERCENTILES)):
        yield build_features(spine, tables, spec, progress, engine, only)
        return
    work = _work(out)
    for chunk, parts in _each_chunk(work, tables, spec, need, (progress, engine)):
        rows = chunk["_row"].to_numpy()
        store = _Store(len(rows), columns, hidden=need - {c.name for c in columns}, spec=spec)
        for part in parts:
            # Every part is indexed by the chunk's rows in chunk order: renumbered from 0.
            store.put(part.reindex(rows).set_axis(np.arange(len(rows))))
        yield store.finish(out.iloc[rows], spec)


#: The event families and the feature-name prefixes each computes.
_FAMILIES: dict[str, tuple[str, ...]] = {
    "interactions": ("int_",),
    "nps": ("nps_",),
    "utilisation": ("util_",),
    "experience balance": ("exp_",),
    "lifetime activity": ("act_",),
}
#: Columns another column is computed from (kept hidden when only the other is asked for).
_DEPENDS: dict[str, tuple[str, ...]] = {
    "nps_last_category": ("nps_last",),
    **{pct: (days,) for pct, days in PERCENTILES.items()},
}


def _plan(
    spine: pd.DataFrame, tables: Tables, spec: FeatureSpec | None, only: str | Sequence[str] | None
) -> tuple[pd.DataFrame, FeatureSpec, list[FeatureColumn], frozenset[str]]:
    """The checked spine, the spec, the columns ``only`` selects and every column they need."""
    out = _checked_spine(spine)
    spec = spec if spec is not None else FeatureSpec.from_tables(tables)
    try:
        columns = select(spec, only)
    except KeyError as exc:
        raise ChurnError(str(exc.args[0])) from None
    return out, spec, columns, _needed(columns)


def _needed(columns: Sequence[FeatureColumn]) -> frozenset[str]:
    """The names of ``columns`` and of the columns they are derived from."""
    names = {c.name for c in columns}
    return frozenset(names.union(*(_DEPENDS.get(n, ()) for n in names)))


def _work(out: pd.DataFrame) -> pd.DataFrame:
    """The spine with an internal row key: spine rows may repeat (customer, as_of) and carry
    any index."""
    return pd.DataFrame(
        {
            "customer_id": out["customer_id"].to_numpy(),
            "as_of": out["as_of"].to_numpy().astype(_US),
            "_row": np.arange(len(out), dtype="int64"),
        }
    )


def _each_chunk(
    work: pd.DataFrame,
    tables: Tables,
    spec: FeatureSpec,
    need: frozenset[str],
    how: tuple[bool, EngineSettings | None],
) -> Iterator[tuple[pd.DataFrame, list[pd.DataFrame]]]:
    """Per customer chunk of the spine: its rows of ``work`` and the frames of the columns
    ``need`` names (account, then event families), each indexed by the chunk's ``_row``.

    Only one chunk's tables, events and features exist at a time; the customers table is
    validated once and the account history cut by chunk like the events.
    """
    progress, engine = how
    families = [f for f, prefixes in _FAMILIES.items() if any(n.startswith(prefixes) for n in need)]
    account = any(n.startswith("acct_") for n in need)
    cust = _customer_frame(tables.customers) if account else None
    history = tables.account_history
    names = _tables_for(families)
    if account and history is not None and "customer_id" in history and len(history):
        names += ("account_history",)
    n_parts = _n_parts(work, tables, spec)
    dates = work["as_of"].unique()
    backend = connect(engine) if families else None
    try:
        with _progress_bar(progress, n_parts * max(len(families), 1)) as advance:
            for chunk, part in _chunks(work, tables, n_parts, names):
                parts = []
                if account:
                    hist = part.account_history
                    parts.append(_account_features(chunk, cust, spec, hist, need))
                if backend is not None:
                    # Prepared per chunk: only one chunk's copy of the events exists at a time.
                    events = _prepare_events(part, spec, families)
                    coded, events = _coded(chunk, events)
                    frame = _chunk_features(
                        coded, events, spec, advance, backend, families, need, dates
                    )
                    backend.release()
                    parts.append(frame)
                elif account:
                    advance("account")
                yield chunk, parts
    finally:
        if backend is not None:
            backend.release()


def _coded(chunk: pd.DataFrame, events: _Events) -> tuple[pd.DataFrame, _Events]:
    """The chunk and its events with ``customer_id`` as integer codes of the chunk's customers,
    without the events of customers the chunk does not hold (they never join a spine row).

    Every join, partition and sort of the engine is on ``customer_id``: on integers they cost
    a fraction of what they do on strings. No value depends on the code itself.
    """
    ids = pd.Index(pd.unique(chunk["customer_id"]))

    def coded(frame: pd.DataFrame) -> pd.DataFrame:
        if "customer_id" not in frame:
            return frame
        code = ids.get_indexer(frame["customer_id"])
        keep = code >= 0
        return frame[keep].assign(customer_id=code[keep]).reset_index(drop=True)

    tables = {k: coded(getattr(events, k)) for k in ("interactions", "nps", "usage", "balance")}
    return coded(chunk), replace(events, **tables)


def _tables_for(families: Sequence[str]) -> tuple[str, ...]:
    """The event tables the families read."""
    reads = {
        "interactions": ("interactions",),
        "nps": ("nps",),
        "utilisation": ("usage",),
        "experience balance": ("interactions", "nps"),
        "lifetime activity": ("usage",),
    }
    return tuple(
        t for t in ("interactions", "nps", "usage") if any(t in reads[f] for f in families)
    )


# --------------------------------------------------------------------------------------------
# Preparation (vectorised pandas: fill contract defaults, floor timestamps to microseconds)
# --------------------------------------------------------------------------------------------


@dataclass
class _Events:
    interactions: pd.DataFrame
    nps: pd.DataFrame
    usage: pd.DataFrame
    balance: pd.DataFrame
    max_lookback: pd.Timedelta


def _ts(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame:
        return pd.Series(pd.NaT, index=frame.index, dtype=_US)
    return pd.to_datetime(frame[col]).astype(_US)


def _num(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    return pd.to_numeric(frame[col], errors="coerce").astype("float64")


def _require(frame: pd.DataFrame, table: str, cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in frame]
    if missing:
        raise ChurnError(
            f"table {table!r} lacks required column(s) {missing}; map them in the dataset "
            "config or load the data with churn.loading.load_dataset"
        )


def _prepare_events(
    tables: Tables, spec: FeatureSpec, families: Sequence[str] = tuple(_FAMILIES)
) -> _Events:
    """The event tables the engine queries, each with the instant a record became visible;
    those no family of ``families`` reads are left empty (never prepared)."""
    reads = set(_tables_for(families))
    none = pd.DataFrame()
    inter = _prepare_interactions(tables.interactions) if "interactions" in reads else none
    nps = _prepare_nps(tables.nps) if "nps" in reads else none
    usage = _prepare_usage(tables, spec) if "usage" in reads else none
    balance = _balance_events(inter, nps, spec) if "experience balance" in families else none
    lookback = pd.Timedelta(days=max((*spec.windows, 120, 365)))
    return _Events(inter, nps, usage, balance, lookback)


def _prepare_interactions(raw: pd.DataFrame) -> pd.DataFrame:
    """Interactions with the visibility instant ``avail`` and a complaint flag."""
    _require(raw, "interactions", ["customer_id", "timestamp", "channel", "category"])
    t = _ts(raw, "timestamp")
    rec = _ts(raw, "recorded_at").fillna(t)
    inter = pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype("str"),
            "t": t,
            # A record is visible once it has happened AND reached the data.
            "avail": np.maximum(t, rec),
            "rec": rec,
            "resolved_at": _ts(raw, "resolved_at"),
            "channel": raw["channel"].astype("str"),
            "category": raw["category"].astype("str"),
            "is_complaint": raw["category"]
            .astype("str")
            .str.lower()
            .str.contains("complain")
            .astype(bool),
            "csat": _num(raw, "csat"),
            "sentiment": _num(raw, "sentiment"),
        }
    )
    return inter[inter["t"].notna()].reset_index(drop=True)


def _prepare_nps(raw: pd.DataFrame) -> pd.DataFrame:
    """NPS surveys: the send (``sent``, known at ``send_avail``) and, when answered, the answer
    (``t`` and ``score``, known at ``avail``; both empty for an unanswered survey).

    The two parts of a row become known separately. The contract's ``recorded_at`` is when the
    *response* reached the data (for an unanswered row, the send): so an answer is known once
    given and recorded, a send once sent (and recorded, when it is all the row holds). A
    survey sent before as_of whose answer was given or recorded at/after as_of is therefore a
    pending survey at as_of, sent and unanswered, whatever the answer turns out to be.
    """
    _require(raw, "nps", ["customer_id", "timestamp", "score"])
    t = _ts(raw, "timestamp")
    score = _num(raw, "score")
    sent = _ts(raw, "sent_at").fillna(t)
    answered = t.notna() & score.notna()
    rec = _ts(raw, "recorded_at")
    nps = pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype("str"),
            "t": t.where(answered),
            "sent": sent,
            "happened": t.where(answered, sent),
            "avail": np.maximum(t, rec.fillna(t)).where(answered),
            "send_avail": sent.where(answered, np.maximum(sent, rec.fillna(sent))),
            "score": score.where(answered),
            "answered": answered,
        }
    )
    return nps[nps["sent"].notna()].reset_index(drop=True)


def _prepare_usage(tables: Tables, spec: FeatureSpec) -> pd.DataFrame:
    """Usage periods with their end, the spec's metrics and whether the period had activity."""
    raw = tables.usage
    metrics = list(spec.usage_metrics)
    _require(raw, "usage", ["customer_id", "date", *metrics])
    date = _ts(raw, "date")
    period = USAGE_PERIODS.get(tables.usage_period)
    if period is None:
        raise ChurnError(
            f"usage_period {tables.usage_period!r} is not one of {sorted(USAGE_PERIODS)}; "
            "set usage.period in the dataset config"
        )
    end = (date + period).astype(_US) if len(date) else date
    usage = pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype("str"),
            "end": end,
            "avail": usage_visible_from(end, _ts(raw, "recorded_at")),
        },
    )
    for m in metrics:
        usage[f"m_{slug(m)}"] = _num(raw, m)
    active_cols = activity_columns([m for m in tables.usage_metrics if m in raw])
    if active_cols:
        usage["active"] = (raw[active_cols].apply(pd.to_numeric, errors="coerce") > 0).any(axis=1)
    else:
        usage["active"] = False
    return usage[usage["end"].notna()].reset_index(drop=True)


def usage_visible_from(end: pd.Series, recorded_at: pd.Series) -> pd.Series:
    """The usage freshness rule, written once: a row is visible at ``as_of`` iff this < ``as_of``.

    A period ``[date, end)`` holds only events before its exclusive end, so the row is known at
    its end: visible iff ``end <= as_of`` (the week ending at a Monday ``as_of`` is visible that
    Monday). A ``recorded_at`` in the data (validation leaves it empty when the source has none)
    is when the row arrived: it must be strictly before ``as_of``. As one strict key, at
    microsecond precision: ``end <= as_of  <=>  end - 1us < as_of``.
    """
    known_at_end = end - pd.Timedelta(microseconds=1)
    return pd.Series(np.maximum(known_at_end, recorded_at.fillna(known_at_end)), index=end.index)


def _balance_events(inter: pd.DataFrame, nps: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Credits and debits of the experience balance, each with the instant it happened (``t``)
    and the instant it became visible (``avail``)."""
    frames = []

    def add(cid: pd.Series, t: pd.Series, avail: pd.Series, weight: float) -> None:
        frames.append(
            pd.DataFrame({"customer_id": cid, "t": t, "avail": avail, "w": weight}).dropna(
                subset=["t", "avail"]
            )
        )

    complaints = inter[inter["is_complaint"]]
    add(
        complaints["customer_id"],
        complaints["t"],
        complaints["avail"],
        BALANCE_WEIGHTS["complaint"],
    )
    if spec.has_resolution:
        took = inter["resolved_at"] - inter["t"]
        fast = inter[took.notna() & (took <= pd.Timedelta(days=FAST_RESOLUTION_DAYS))]
        # The credit is earned at resolution, so it is invisible until then.
        add(
            fast["customer_id"],
            fast["resolved_at"],
            np.maximum(fast["resolved_at"], fast["rec"]),
            BALANCE_WEIGHTS["fast_resolution"],
        )
        slow = inter[took.isna() | (took > pd.Timedelta(days=LEFT_OPEN_DAYS))]
        # The debit happens when the ticket crosses LEFT_OPEN_DAYS unresolved: at that instant
        # "not resolved yet" is already a fact, whatever happens to the ticket later.
        crossed = slow["t"] + pd.Timedelta(days=LEFT_OPEN_DAYS)
        add(
            slow["customer_id"],
            crossed,
            np.maximum(crossed, slow["rec"]),
            BALANCE_WEIGHTS["left_open"],
        )
    ans = nps[nps["answered"]]
    det = ans[ans["score"] <= NPS_DETRACTOR_MAX]
    add(det["customer_id"], det["t"], det["avail"], BALANCE_WEIGHTS["detractor"])
    pro = ans[ans["score"] >= NPS_PROMOTER_MIN]
    add(pro["customer_id"], pro["t"], pro["avail"], BALANCE_WEIGHTS["promoter"])
    out = pd.concat(frames, ignore_index=True)
    out["customer_id"] = out["customer_id"].astype("str")
    out["w"] = out["w"].astype("float64")
    for col in ("t", "avail"):
        out[col] = out[col].astype(_US)
    return out


def _chunk_features(
    chunk: pd.DataFrame,
    events: _Events,
    spec: FeatureSpec,
    advance: Callable[[str], None],
    backend: Backend,
    families: Sequence[str] = tuple(_FAMILIES),
    need: frozenset[str] | None = None,
    dates: np.ndarray | None = None,
) -> pd.DataFrame:
    """The event features ``need`` names (``None``: all) of one chunk of the spine, from the
    ``families`` that compute them, on an engine holding only the chunk's events; ``dates``:
    the whole spine's snapshot dates (every chunk then runs the same queries)."""
    engine = _Engine(events, spec, materialise=False, backend=backend, need=need, dates=dates)
    run: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
        "interactions": engine.interactions,
        "nps": engine.nps,
        "utilisation": engine.usage,
        "experience balance": engine.balance,
        "lifetime activity": lambda c: lifetime_activity(engine, c),
    }
    chunk_parts = []
    for label in families:
        if label == "lifetime activity" and not spec.activity_history:
            continue
        advance(label)
        chunk_parts.append(run[label](chunk))
    return pd.concat(chunk_parts, axis=1)


def _n_parts(work: pd.DataFrame, tables: Tables, spec: FeatureSpec) -> int:
    """How many customer chunks keep each chunk's joined rows under ``CHUNK_PAIRS``.

    Each snapshot row joins to about (events per customer in the lookback window) rows.
    """
    events = (tables.interactions, tables.usage, tables.nps)
    n_events = max(sum(len(f) for f in events), 1)
    n_customers = max(work["customer_id"].nunique(), 1)
    stamps = [
        pd.to_datetime(f[col])
        for f, col in zip(events, ("timestamp", "date", "sent_at"), strict=True)
        if col in f and len(f)
    ]
    span = pd.Series([x.max() for x in stamps] + [x.min() for x in stamps]).dropna()
    span_days = (span.max() - span.min()).days if len(span) else 0
    lookback = max((*spec.windows, 120, 365))
    share = min(1.0, lookback / max(span_days, 1))
    pairs = len(work) * max(n_events / n_customers * share, 1.0)
    return int(min(n_customers, max(1, math.ceil(pairs / CHUNK_PAIRS))))


def _bucket(ids: pd.Series, n_parts: int) -> np.ndarray:
    """A customer's chunk: a fixed hash of the id, the same in every table and every run."""
    codes, uniques = pd.factorize(ids, sort=False)
    hashed = pd.util.hash_array(np.asarray(uniques, dtype=object)) % np.uint64(n_parts)
    return hashed.astype("int64")[codes] if len(codes) else np.zeros(0, dtype="int64")


def _split(frame: pd.DataFrame, n_parts: int) -> Callable[[int], pd.DataFrame]:
    """``part(b)``: ``frame``'s rows of customer chunk ``b`` (order within a chunk kept), cut
    when asked so that only one chunk's copy exists at a time."""
    bucket = _bucket(frame["customer_id"], n_parts)
    order = np.argsort(bucket, kind="stable")
    bounds = np.searchsorted(bucket[order], np.arange(n_parts + 1))

    def part(b: int) -> pd.DataFrame:
        return frame.iloc[order[bounds[b] : bounds[b + 1]]].reset_index(drop=True)

    return part


def _chunks(
    work: pd.DataFrame,
    tables: Tables,
    n_parts: int,
    names: Sequence[str] = ("interactions", "nps", "usage"),
) -> Iterator[tuple[pd.DataFrame, Tables]]:
    """The spine split by a hash of the customer, each part with every one of its snapshot
    dates and only its customers' rows of the event tables ``names`` (the others are not
    read): every event is read once, for all snapshots at once, and the joined frame of a
    part stays bounded. Features of a (customer, as_of) depend only on that customer's
    records, so the split cannot change a value."""
    if n_parts <= 1:
        yield work, tables
        return
    split = {name: _split(getattr(tables, name), n_parts) for name in names}
    spine = _split(work, n_parts)
    for b in range(n_parts):
        chunk = spine(b)
        if chunk.empty:
            continue
        yield chunk, replace(tables, **{name: split[name](b) for name in names})


class _progress_bar:
    """A rich progress bar when enabled, a no-op otherwise; yields an ``advance(label)``."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total = enabled, total

    def __enter__(self) -> Callable[[str], None]:
        if not self.enabled:
            return lambda label: None
        from rich.progress import Progress

        self._bar = Progress()
        self._bar.__enter__()
        task = self._bar.add_task("features", total=self.total)

        def advance(label: str) -> None:
            self._bar.update(task, advance=1, description=f"features: {label}")

        return advance

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._bar.__exit__(*exc)


# --------------------------------------------------------------------------------------------
# Account (static attributes: pandas, no events)
# --------------------------------------------------------------------------------------------


def _customer_frame(customers: pd.DataFrame) -> pd.DataFrame:
    """The customers' static attributes, validated, indexed by ``customer_id`` (built once;
    every chunk of the spine reads its rows)."""
    _require(customers, "customers", ["customer_id", "signup_date"])
    ids = customers["customer_id"].astype("str")
    dup = ids[ids.duplicated()]
    if len(dup):
        raise ChurnError(
            f"table 'customers' has {len(dup)} duplicated customer_id value(s), e.g. "
            f"{list(dup.unique()[:3])}; keep one row per customer"
        )
    cust = pd.DataFrame(
        {
            "signup_date": _ts(customers, "signup_date").to_numpy(),
            "contract_months": _num(customers, "contract_months").to_numpy(),
            "plan": customers["plan"].astype("str").to_numpy() if "plan" in customers else None,
            "segment": customers["segment"].astype("str").to_numpy()
            if "segment" in customers
            else None,
            "region": customers["region"].astype("str").to_numpy()
            if "region" in customers
            else None,
            "arr": _num(customers, "arr").to_numpy(),
        },
        index=pd.Index(ids.to_numpy(), name="customer_id"),
    )
    return cust


def _account_features(
    work: pd.DataFrame,
    cust: pd.DataFrame,
    spec: FeatureSpec,
    history: pd.DataFrame | None = None,
    need: frozenset[str] | None = None,
) -> pd.DataFrame:
    """The account columns of the spine rows ``work`` (``cust``: ``_customer_frame``)."""
    m = cust.reindex(work["customer_id"].to_numpy())
    # An attribute the account history dates takes the value in force at as_of (see _in_force);
    # the customers table's value is today's extract and is then never used for it.
    lookup = _InForce(history, work)
    uses = {"contract_months": "acct_days_to_renewal"}
    for attr in ("plan", "segment", "region", "arr", "contract_months"):
        if attr in spec.history and (need is None or uses.get(attr, f"acct_{attr}") in need):
            m[attr] = lookup(attr)
    as_of = work["as_of"].to_numpy()
    day = np.timedelta64(1, "D")
    tenure = (as_of - m["signup_date"].to_numpy()) / day
    # Renewals fall on the signup anniversaries of the term, which is known at any as_of.
    # contract_end_date is never read: it is the term's end as extracted, and for a customer
    # who left it is the renewal they left at, so any value derived from it (even rolled back
    # by whole terms) puts "renewal soon" on churners only, a label leak. Without a term the
    # renewal is unknown (NaN).
    term_days = pd.to_numeric(m["contract_months"]).to_numpy(dtype="float64") * (365.25 / 12)
    with np.errstate(invalid="ignore", divide="ignore"):
        by_term = (np.floor(tenure / term_days) + 1) * term_days - tenure
    renewal = np.where(np.isfinite(by_term) & (term_days > 0), by_term, np.nan)
    feats = pd.DataFrame(
        {
            "acct_tenure_days": tenure,
            "acct_days_to_renewal": renewal,
            "acct_plan": m["plan"].to_numpy(),
            "acct_segment": m["segment"].to_numpy(),
            "acct_region": m["region"].to_numpy(),
            "acct_arr": pd.to_numeric(m["arr"]).to_numpy(dtype="float64"),
        },
        index=work["_row"].to_numpy(),
    )
    changed = ("acct_seats_change_90d", "acct_arr_change_90d", "acct_downgraded_90d",
               "acct_downgraded_180d", "acct_upgraded_180d")  # fmt: skip
    if spec.history and (need is None or need & set(changed)):
        changes = _change_features(lookup, spec)
        for name, values in changes.items():
            feats[name] = values
    return feats


class _InForce:
    """Values of the account history in force at each spine row's ``as_of`` (or earlier).

    A history row is known once it took effect and reached the data
    (``max(valid_from, recorded_at) < at``, strict); among the rows known at ``at`` that carry
    the attribute, the one with the latest ``valid_from`` holds the value in force. Before a
    customer's first such row the value is missing: the history is read as the complete
    record, and the extract (a later value) is never used for a past date.

    No ASOF join: the rows are ordered by when they became known, a running maximum of
    ``valid_from`` marks the rows that took over (a late-recorded backdated row does not
    override a later one), their values are carried forward, and a binary search on sorted
    keys (customer, then instant; strictly before) picks the latest for each row, the last of
    rows known at the same instant (the one with the latest ``valid_from``), as
    ``pandas.merge_asof`` would; in SQL or Spark the same is a range join ``avail < at`` with
    a ``row_number`` per snapshot row. Customers are integer codes shared by the spine and the
    history, so no lookup compares strings.
    """

    def __init__(self, history: pd.DataFrame | None, work: pd.DataFrame) -> None:
        self.history = history if history is not None else pd.DataFrame()
        self.work = work
        self._rows: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        ids = work["customer_id"].to_numpy()
        theirs = self.history["customer_id"].astype("str").to_numpy() if len(self.history) else []
        codes, _ = pd.factorize(np.concatenate([ids, np.asarray(theirs, dtype=object)]))
        self._codes, self._history_codes = codes[: len(ids)], codes[len(ids) :]

    def __call__(self, attr: str, days_before: int = 0) -> np.ndarray:
        at = (self.work["as_of"] - pd.Timedelta(days=days_before)).to_numpy().astype(_US)
        if attr not in self._rows:
            self._rows[attr] = self._known(attr)
        code, avail, value = self._rows[attr]
        text = attr in _TEXT_ATTRS
        out = np.full(len(at), np.nan, dtype=object if text else "float64")
        if not len(code):
            return out
        # One sortable integer key per (customer, instant): instants replaced by their rank
        # among the history's instants and the snapshot instants (exact, and small).
        at_us, avail_us = at.astype("int64"), avail.astype("int64")
        instants = np.unique(np.concatenate([avail_us, np.unique(at_us)]))
        width = np.int64(len(instants) + 1)
        key = code * width + np.searchsorted(instants, avail_us)
        want = self._codes.astype("int64") * width + np.searchsorted(instants, at_us)
        # The last row whose key is strictly below: same customer and known strictly before.
        pos = np.searchsorted(key, want, side="left") - 1
        hit = pos >= 0
        hit[hit] = code[pos[hit]] == self._codes[hit]
        out[hit] = value[pos[hit]]
        return out

    def _known(self, attr: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows carrying ``attr``: customer codes, when each became known (``avail``) and
        the value in force from then on, sorted by customer, ``avail`` and ``valid_from``."""
        h = self.history
        if attr not in h or h.empty:
            return np.zeros(0, "int64"), np.zeros(0, _US), np.zeros(0)
        valid = _ts(h, "valid_from")
        rec = _ts(h, "recorded_at").fillna(valid)
        value = h[attr].astype("str") if attr in _TEXT_ATTRS else _num(h, attr)
        rows = pd.DataFrame(
            {
                "code": self._history_codes.astype("int64"),
                "avail": np.maximum(valid, rec),
                "valid": valid,
                "value": value.where(h[attr].notna()),
            }
        )
        rows = rows.dropna(subset=["avail", "value"])
        rows = rows.sort_values(["code", "avail", "valid"], kind="stable")
        # The row with the latest valid_from so far (per customer, in the order rows became
        # known) holds the value; the first row of a customer always leads, so ffill stays inside
        # each customer.
        lead = rows["valid"] >= rows.groupby("code")["valid"].cummax()
        held = rows["value"].where(lead).ffill()
        dtype = object if attr in _TEXT_ATTRS else "float64"
        return (
            rows["code"].to_numpy(),
            rows["avail"].to_numpy().astype(_US),
            held.to_numpy(dtype=dtype),
        )


_TEXT_ATTRS = ("plan", "segment", "region")


def _change_features(lookup: _InForce, spec: FeatureSpec) -> dict[str, np.ndarray]:
    """Seats and ARR change over 90 days, downgrades and upgrades, from values in force."""
    out: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for attr, name in (
            ("seats_licensed", "acct_seats_change_90d"),
            ("arr", "acct_arr_change_90d"),
        ):
            if attr in spec.history:
                now, then = lookup(attr), lookup(attr, 90)
                out[name] = np.where(then > 0, now / then - 1.0, np.nan)
    rank = {p: i for i, p in enumerate(spec.plan_order)}

    def plan_rank(days: int) -> np.ndarray:
        if not rank:
            return np.full(len(lookup.work), np.nan)
        return pd.Series(lookup("plan", days)).map(rank).to_numpy(dtype="float64")

    def seats(days: int) -> np.ndarray:
        if "seats_licensed" not in spec.history:
            return np.full(len(lookup.work), np.nan)
        return lookup("seats_licensed", days)

    plan_now, seats_now = plan_rank(0), seats(0)
    for days in (90, 180):
        plan_then, seats_then = plan_rank(days), seats(days)
        down = (plan_now < plan_then) | (seats_now < seats_then)
        out[f"acct_downgraded_{days}d"] = down.astype("float64")
        if days == 180:
            up = (plan_now > plan_then) | (seats_now > seats_then)
            out["acct_upgraded_180d"] = up.astype("float64")
    return out


# --------------------------------------------------------------------------------------------
# Event families (Ibis, on the backend of churn.features.backend)
# --------------------------------------------------------------------------------------------


def _days(later: Any, earlier: Any) -> Any:
    """Elapsed days (float) between two timestamp expressions."""
    return later.delta(earlier, unit="microsecond").cast("float64") / 86_400e6


def _numbered(cum: Any) -> Any:
    """``cum`` (one row per customer and ``key``) with ``_n``: 1, 2, ... in ``key`` order per
    customer, the number ``_Engine._asof`` looks a row up by. Rows without a key are never
    visible (an ASOF join never matches them) and are left out."""
    import ibis

    cum = cum.filter(cum.key.notnull())
    return cum.mutate(_n=ibis.row_number().over(group_by="customer_id", order_by="key") + 1)


class _Engine:
    """Runs the event families as Ibis expressions on one backend (``churn.features.backend``).

    Portable by construction: range joins on ``customer_id`` and time, ``GROUP BY`` with
    conditional aggregates and window functions only (no ASOF join, no temporary table, no
    UDF), so DuckDB and Spark run the same expressions and return the same values.
    """

    def __init__(
        self,
        events: _Events,
        spec: FeatureSpec,
        materialise: bool = True,
        backend: Backend | None = None,
        need: frozenset[str] | None = None,
        dates: np.ndarray | None = None,
    ) -> None:
        import ibis

        self.ibis = ibis
        self.spec = spec
        self.events = events
        self.backend = backend if backend is not None else connect()
        # The columns asked for; None: every column (see build_features' ``only``).
        self.need = need
        # With one chunk every table is read once, so keeping a copy buys nothing.
        self.materialise = materialise
        self.dates = dates
        self.inter = self._table(events.interactions, "interactions")
        self.nps_t = self._table(events.nps, "nps")
        self.usage_t = self._table(events.usage, "usage")
        self.balance_t = self._table(events.balance, "balance")

        self._cache: dict[str, Any] = {}
        self._spine_of: pd.DataFrame | None = None
        self._spine_t: Any = None

    def wants(self, *names: str) -> bool:
        """Whether any of the columns ``names`` is asked for."""
        return self.need is None or any(n in self.need for n in names)

    def _table(self, frame: pd.DataFrame, role: str) -> Any:
        # A table no asked-for family reads is never prepared (no columns) nor registered.
        if not len(frame.columns):
            return None
        return self.backend.table(frame, keep=True if self.materialise else None, role=role)

    def _cached(self, name: str, build: Callable[[], Any]) -> Any:
        """Keep a running-total table once (numbered, see ``_asof``); every chunk reuses it."""
        if name not in self._cache:
            numbered = _numbered(build())
            self._cache[name] = self.backend.keep(numbered) if self.materialise else numbered
        return self._cache[name]

    def _run(self, expr: Any) -> pd.DataFrame:
        return self.backend.execute(expr)

    def close(self) -> None:
        self.backend.release()

    def _spine(self, chunk: pd.DataFrame) -> Any:
        # One table per chunk (an engine serves one chunk), shared by every family's queries.
        if self._spine_of is not chunk:
            self._spine_t = self.backend.table(
                chunk[["customer_id", "as_of", "_row"]], role="spine"
            )
            self._spine_of = chunk
        return self._spine_t

    def _dates(self, chunk: pd.DataFrame) -> np.ndarray:
        """The snapshot dates the queries are written for: the whole spine's when known (so
        every chunk runs the same SQL), else the chunk's."""
        return self.dates if self.dates is not None else chunk["as_of"].unique()

    def _bounds(self, chunk: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
        # Only prunes events no snapshot can see: the spine's bounds serve every chunk.
        dates = self._dates(chunk)
        return pd.Timestamp(dates.min()), pd.Timestamp(dates.max())

    def _asof(self, spine: Any, cum: Any, cols: Sequence[str]) -> Any:
        """For each spine row, the values of the last ``cum`` row with ``key < as_of``.

        What an ASOF join does, in window functions every backend has: the spine rows and the
        ``cum`` rows (one per customer and ``key``, numbered ``_n`` = 1, 2, ... in key order by
        ``_numbered``) are put in one order per customer, by instant, a spine row before a
        ``cum`` row of the same instant (the cut-off is strict). A running count of the ``cum``
        rows then is, at each spine row, the number of the last ``cum`` row before its as_of,
        and an equi-join on that number fetches its values (none before the first: NULL).
        """
        ibis = self.ibis
        ts = "timestamp(6)"
        marks = ibis.union(
            spine.select(
                "customer_id",
                _key=spine.as_of.cast(ts),
                _is_cum=ibis.literal(0, "int64"),
                _at=spine._row.cast("int64"),
            ),
            cum.select(
                "customer_id",
                _key=cum.key.cast(ts),
                _is_cum=ibis.literal(1, "int64"),
                _at=ibis.null("int64"),
            ),
            distinct=False,
        )
        marks = marks.mutate(
            _upto=marks._is_cum.cumsum(group_by="customer_id", order_by=["_key", "_is_cum"])
        )
        at = marks.filter(marks._is_cum == 0)
        j = at.left_join(cum, [at.customer_id == cum.customer_id, at._upto == cum._n])
        return j.select(_row=j._at, as_of=j._key, **{c: j[c] for c in cols})

    def _running_at(
        self,
        name: str,
        chunk: pd.DataFrame,
        stream: Callable[[], Any],
        ops: dict[str, str],
    ) -> Any:
        """Per spine row: the totals (``"sum"``) or maxima (``"max"``) of ``ops``' columns over
        the rows of ``stream()`` (``customer_id``, ``key``, values) with ``key < as_of``.

        Many dates: running totals ordered by ``key``, kept once, and an as-of lookup
        (``_asof``). One date (weekly scoring): the same totals as one filtered ``GROUP BY``,
        which reads the history once instead of sorting it; both give identical sums of
        integers and maxima, and float sums that differ only by summation order (training vs
        scoring is tested).
        """
        ibis = self.ibis
        s = self._spine(chunk)
        cols = list(ops)
        dates = self._dates(chunk)
        if len(dates) == 1:
            raw = stream()
            cut = ibis.literal(pd.Timestamp(dates[0]).to_pydatetime())
            kept = raw.filter(raw.key < cut)
            agg = kept.group_by("customer_id").aggregate(
                **{c: kept[c].sum() if op == "sum" else kept[c].max() for c, op in ops.items()}
            )
            j = s.left_join(agg, s.customer_id == agg.customer_id)
            return j.select("_row", "as_of", *cols)

        def build() -> Any:
            raw = stream()
            g = raw.group_by(["customer_id", "key"]).aggregate(
                **{c: raw[c].sum() if op == "sum" else raw[c].max() for c, op in ops.items()}
            )
            w = {"group_by": "customer_id", "order_by": "key"}
            return g.mutate(
                **{
                    c: g[c].cumsum(**w) if op == "sum" else g[c].cummax(**w)
                    for c, op in ops.items()
                }
            )

        return self._asof(s, self._cached(name, build), cols)

    def _frame(self, result: pd.DataFrame, chunk: pd.DataFrame) -> pd.DataFrame:
        return result.set_index("_row").reindex(chunk["_row"].to_numpy())

    # ---- interactions ----------------------------------------------------------------------

    def interactions(self, chunk: pd.DataFrame) -> pd.DataFrame:
        windowed = self._interactions_windowed(chunk)
        out = windowed
        # Unbounded lookback: last contact, open tickets, old open complaints, all from ONE
        # running-total table and one as-of join (see _interaction_stream).
        old = f"int_open_complaints_{OLD_COMPLAINT_DAYS}d"
        resolution = self.spec.has_resolution and self.wants("int_open_tickets", old)
        ops = {"last_t": "max"} if self.wants("int_days_since_contact") else {}
        if resolution:
            ops |= {"n_open": "sum", "n_old": "sum"}
        if ops:
            stream = lambda: self._interaction_stream(resolution, list(ops))  # noqa: E731
            at = self._running_at(f"cum_interactions_{len(ops)}", chunk, stream, ops)
            if "last_t" in ops:
                at = at.mutate(days_since=lambda x: _days(x.as_of, x.last_t))
            res = self._frame(self._run(at), chunk)
            if "last_t" in ops:
                out["int_days_since_contact"] = res["days_since"]
            if resolution:
                out["int_open_tickets"] = res["n_open"].fillna(0)
                out[old] = res["n_old"].fillna(0)
        if "_n30" in out:
            n30, nprev = out.pop("_n30").fillna(0), out.pop("_nprev90").fillna(0)
            # Contact rate last 30 days vs the 90 days before, with add-one smoothing so that
            # a first contact after a quiet spell gives a finite, large ratio instead of inf.
            out["int_trend_30d_90d"] = (n30 + 1.0) / (nprev / 3.0 + 1.0)
        return out

    def _interactions_windowed(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """The windowed interaction columns asked for, from one range join and ``GROUP BY``."""
        ibis, spec, i = self.ibis, self.spec, self.inter
        lo, hi = self._bounds(chunk)
        s = self._spine(chunk)
        # The join window is the same whatever is asked for: the resolution means read the
        # tickets opened within it.
        max_w = max((*spec.windows, 120))
        # Only events that can fall inside some snapshot's window of this chunk.
        ev = i.filter(i.t >= lo - pd.Timedelta(days=max_w), i.avail < hi)
        # Range join: t in [as_of - max_w, as_of) and recorded before as_of (via avail).
        j = s.join(
            ev,
            [
                s.customer_id == ev.customer_id,
                ev.avail < s.as_of,
                ev.t >= s.as_of - ibis.interval(days=max_w),
            ],
        )

        def since(days: int) -> Any:
            return j.t >= j.as_of - ibis.interval(days=days)

        counts: dict[str, Any] = {}
        for w in spec.windows:
            counts[f"int_tickets_{w}d"] = since(w)
            for c in spec.channels:
                counts[f"int_ch_{slug(c)}_{w}d"] = since(w) & (j.channel == c)
            for c in spec.categories:
                counts[f"int_cat_{slug(c)}_{w}d"] = since(w) & (j.category == c)
        aggs = {k: j.t.count(where=cond) for k, cond in counts.items() if self.wants(k)}
        if self.wants("int_trend_30d_90d"):
            aggs["_n30"] = j.t.count(where=since(30))
            aggs["_nprev90"] = j.t.count(where=~since(30) & since(120))
        # Resolved in the last 90 days, and the resolution known then: the ticket was recorded
        # before as_of (join) and resolved before it. A resolution at/after as_of is unknown.
        done = (
            j.resolved_at.notnull()
            & (j.resolved_at < j.as_of)
            & (j.resolved_at >= j.as_of - ibis.interval(days=90))
        )
        took = _days(j.resolved_at, j.t)
        # CSAT is collected at resolution and sentiment is scored on the closed conversation
        # (in the simulator it reflects how slowly the ticket was resolved): on a ticket still
        # open at as_of either value was filled in later, so only resolved tickets count.
        late = {
            "int_resolution_days_mean_90d": (spec.has_resolution, lambda: took.mean(where=done)),
            "int_resolution_days_max_90d": (spec.has_resolution, lambda: took.max(where=done)),
            "int_csat_mean_90d": (spec.has_csat, lambda: j.csat.mean(where=done)),
            "int_sentiment_mean_90d": (spec.has_sentiment, lambda: j.sentiment.mean(where=done)),
        }
        aggs |= {k: agg() for k, (on, agg) in late.items() if on and self.wants(k)}
        if not aggs:
            return pd.DataFrame(index=chunk["_row"].to_numpy())
        return self._frame(self._run(j.group_by("_row").aggregate(**aggs)), chunk)

    def _interaction_stream(self, resolution: bool, cols: Sequence[str]) -> Any:
        """Changes per customer, keyed by the instant each became visible (see _running_at).

        Each ticket contributes +1 to ``n_open`` when it becomes visible (``avail``) and -1 when
        its resolution does (``max(resolved_at, avail)``): so at as_of, ``n_open`` counts the
        tickets opened and recorded before as_of and not resolved strictly before as_of (one
        resolved at or after as_of was open then). ``n_old`` does the same for complaints from
        the instant they are older than 14 days (``t + 14d < as_of``). ``last_t`` is the running
        max of the interaction time, i.e. the last contact known at as_of. Without
        ``resolution`` only the first part (tickets becoming visible) is streamed; ``cols``:
        the running columns asked for.
        """
        ibis, i = self.ibis, self.inter
        # Every branch of the union gets one explicit type: a materialised DuckDB table reports
        # TIMESTAMP where a memtable reports timestamp(6), and set operations refuse to mix them.
        ts = "timestamp(6)"
        ts_null = ibis.null(ts)
        parts = [i.select("customer_id", key=i.avail.cast(ts), d_open=1, d_old=0, t=i.t.cast(ts))]
        if resolution:
            done = i.filter(i.resolved_at.notnull())
            parts.append(
                done.select(
                    "customer_id",
                    key=ibis.greatest(done.resolved_at, done.avail).cast(ts),
                    d_open=-1,
                    d_old=0,
                    t=ts_null,
                )
            )
            c = i.filter(i.is_complaint)
            c = c.mutate(_old=ibis.greatest(c.t + ibis.interval(days=OLD_COMPLAINT_DAYS), c.rec))
            parts.append(c.select("customer_id", key=c._old.cast(ts), d_open=0, d_old=1, t=ts_null))
            cd = c.filter(c.resolved_at.notnull())
            parts.append(
                cd.select(
                    "customer_id",
                    key=ibis.greatest(cd.resolved_at, cd._old).cast(ts),
                    d_open=0,
                    d_old=-1,
                    t=ts_null,
                )
            )
        stream = ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
        stream = stream.rename(n_open="d_open", n_old="d_old", last_t="t")
        return stream.select("customer_id", "key", *cols)

    # ---- nps -------------------------------------------------------------------------------

    def _nps_windowed(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """Answers known at as_of and given in the last 365 days; surveys sent in the last 365
        days and known to be sent at as_of, and how many of those had an answer known then."""
        ibis, n = self.ibis, self.nps_t
        lo, hi = self._bounds(chunk)
        s = self._spine(chunk)
        year = ibis.interval(days=365)
        out = pd.DataFrame(index=chunk["_row"].to_numpy())
        if self.wants("nps_min_180d", "nps_responses_365d"):
            a = n.filter(n.answered, n.t >= lo - pd.Timedelta(days=365), n.avail < hi)
            ja = s.join(
                a, [s.customer_id == a.customer_id, a.avail < s.as_of, a.t >= s.as_of - year]
            )
            answers = ja.group_by("_row").aggregate(
                nps_min_180d=ja.score.min(where=ja.t >= ja.as_of - ibis.interval(days=180)),
                nps_responses_365d=ja.score.count(),
            )
            out = out.join(self._frame(self._run(answers), chunk))
        if self.wants("nps_response_rate_365d"):
            e = n.filter(n.sent >= lo - pd.Timedelta(days=365), n.send_avail < hi)
            js = s.join(
                e,
                [s.customer_id == e.customer_id, e.send_avail < s.as_of, e.sent >= s.as_of - year],
            )
            # An answer given, or recorded, at/after as_of was not known: the survey was pending.
            sends = js.group_by("_row").aggregate(
                _sent=js.sent.count(),
                _sent_answered=js.sent.count(where=js.answered & (js.avail < js.as_of)),
            )
            out = out.join(self._frame(self._run(sends), chunk))
        return out

    def _nps_last(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """Last and previous response, unbounded lookback, in the order they became known."""
        n = self.nps_t
        s = self._spine(chunk)

        def build_last() -> Any:
            ans = n.filter(n.answered)
            g = ans.group_by(["customer_id", "avail"]).aggregate(
                last=ans.score.argmax(ans.t), t_max=ans.t.max()
            )
            return g.mutate(
                previous=g["last"].lag().over(group_by="customer_id", order_by="avail"),
                last_t=g.t_max.cummax(group_by="customer_id", order_by="avail"),
            ).rename(key="avail")

        g = self._cached("cum_nps_last", build_last)
        expr = self._asof(s, g, ["last", "previous", "last_t"]).mutate(
            days_since=lambda x: _days(x.as_of, x.last_t)
        )
        return self._frame(self._run(expr), chunk)

    def nps(self, chunk: pd.DataFrame) -> pd.DataFrame:
        windowed = self._nps_windowed(chunk)
        out = pd.DataFrame(index=windowed.index)
        if self.wants("nps_last", "nps_previous", "nps_delta", "nps_days_since_response"):
            last = self._nps_last(chunk)
            out["nps_last"] = last["last"].astype("float64")
            out["nps_previous"] = last["previous"].astype("float64")
            out["nps_delta"] = out["nps_last"] - out["nps_previous"]
            out["nps_days_since_response"] = last["days_since"]
        if "nps_min_180d" in windowed:
            out["nps_min_180d"] = windowed["nps_min_180d"].astype("float64")
            out["nps_responses_365d"] = windowed["nps_responses_365d"].fillna(0)
        if "_sent" in windowed:
            sent = windowed["_sent"].fillna(0)
            # Silence is a signal: the share of surveys sent in the last year whose answer was
            # known at as_of (a survey still pending then counts as unanswered).
            answered = windowed["_sent_answered"].fillna(0)
            out["nps_response_rate_365d"] = (answered / sent).where(sent > 0)
        return out

    # ---- usage -----------------------------------------------------------------------------

    def usage(self, chunk: pd.DataFrame) -> pd.DataFrame:
        out = self._usage_windowed(chunk)
        if not self.wants("util_days_since_active"):
            return out
        u = self.usage_t

        # Unbounded: end of the last visible period with activity.
        def stream() -> Any:
            act = u.filter(u.active)
            return act.select("customer_id", key=act.avail, last_end=act.end)

        at = self._running_at("cum_last_active", chunk, stream, {"last_end": "max"})
        last = self._frame(self._run(at.mutate(days=lambda x: _days(x.as_of, x.last_end))), chunk)
        out["util_days_since_active"] = last["days"].to_numpy()
        return out

    def _usage_aggregates(self, j: Any) -> dict[str, Any]:
        """The windowed usage aggregates the asked-for columns are computed from."""
        ibis, metrics = self.ibis, list(self.spec.usage_metrics)
        in30 = j.end > j.as_of - ibis.interval(days=30)
        prev90 = ~in30
        in90 = j.end > j.as_of - ibis.interval(days=90)
        x = _days(j.end, j.as_of)  # days before as_of (<= 0), the regression's time axis
        aggs: dict[str, Any] = {}
        for m in metrics:
            c = j[f"m_{slug(m)}"]
            k = slug(m)
            level, ratio = f"util_{k}_30d", f"util_{k}_ratio_30d_90d"
            slope, cv = f"util_{k}_slope_90d", f"util_{k}_cv_90d"
            if self.wants(level, ratio):
                aggs[f"{k}__30"] = c.mean(where=in30)
            if self.wants(ratio):
                aggs[f"{k}__prev"] = c.mean(where=prev90)
            if self.wants(slope, cv):
                aggs[f"{k}__mean90"] = c.mean(where=in90)
            if self.wants(cv):
                aggs[f"{k}__std90"] = c.std(where=in90)
            if self.wants(slope):
                aggs[f"{k}__cov"] = x.cov(c, where=in90 & c.notnull())
                aggs[f"{k}__var"] = x.var(where=in90 & c.notnull())
        pair = _seat_pair(metrics)
        if pair and self.wants("util_seat_utilisation_30d"):
            act, seats = (j[f"m_{slug(p)}"] for p in pair)
            both = in30 & act.notnull() & seats.notnull()
            aggs["_act30"] = act.sum(where=both)
            aggs["_seats30"] = seats.sum(where=both)
        return aggs

    def _usage_windowed(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """Levels, ratios, slopes, spreads and seat use, from one range join and ``GROUP BY``."""
        ibis, u = self.ibis, self.usage_t
        out = pd.DataFrame(index=chunk["_row"].to_numpy())
        if not self.spec.usage_metrics:
            return out
        lo, hi = self._bounds(chunk)
        s = self._spine(chunk)
        ev = u.filter(u.end > lo - pd.Timedelta(days=120), u.avail < hi)
        # Visible: avail < as_of, the one rule of usage_visible_from.
        j = s.join(
            ev,
            [
                s.customer_id == ev.customer_id,
                ev.avail < s.as_of,
                ev.end > s.as_of - ibis.interval(days=120),
            ],
        )
        aggs = self._usage_aggregates(j)
        if not aggs:
            return out
        r = self._frame(self._run(j.group_by("_row").aggregate(**aggs)), chunk)
        for m in self.spec.usage_metrics:
            k = slug(m)
            if f"{k}__30" in r:
                lvl = r[f"{k}__30"]
                out[f"util_{k}_30d"] = lvl
            if f"{k}__prev" in r:
                prev = r[f"{k}__prev"]
                # Decline shows as a ratio below 1; undefined when there was nothing before.
                out[f"util_{k}_ratio_30d_90d"] = (lvl / prev).where(prev > 0)
            if f"{k}__cov" in r:
                # Least-squares slope per day, as a share of the 90-day mean per 30 days.
                mean90 = r[f"{k}__mean90"]
                slope = r[f"{k}__cov"] / r[f"{k}__var"].where(r[f"{k}__var"] > 0)
                out[f"util_{k}_slope_90d"] = (slope * 30.0 / mean90).where(mean90 > 0)
            if f"{k}__std90" in r:
                mean90 = r[f"{k}__mean90"]
                out[f"util_{k}_cv_90d"] = (r[f"{k}__std90"] / mean90).where(mean90 > 0)
        if "_seats30" in r:
            seats = r["_seats30"]
            out["util_seat_utilisation_30d"] = (r["_act30"] / seats).where(seats > 0)
        return out

    # ---- experience balance ----------------------------------------------------------------

    def balance(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """Exponentially decayed sum of experience credits and debits, unbounded lookback.

        sum_i w_i * exp(-lam * (as_of - t_i)) = exp(-lam * (as_of - T0)) * sum_i w_i * exp(lam *
        (t_i - T0)). The right-hand sum is a running total over events ordered by when they
        became visible, so one as-of join gives the exact value for every snapshot. T0 is a
        fixed origin; float64 holds exp(lam * days) for well over a century either side of it.
        """
        ibis = self.ibis
        b = self.balance_t
        lam = math.log(2.0) / BALANCE_HALF_LIFE_DAYS
        origin = ibis.literal(_BALANCE_ORIGIN.to_pydatetime())

        def stream() -> Any:
            return b.select("customer_id", key=b.avail, v=b.w * (_days(b.t, origin) * lam).exp())

        j = self._running_at("cum_balance", chunk, stream, {"v": "sum"})
        j = j.mutate(bal=j.v * (-_days(j.as_of, origin) * lam).exp())
        res = self._frame(self._run(j), chunk)
        return pd.DataFrame({"exp_balance": res["bal"].fillna(0.0).to_numpy()}, index=res.index)


def activity_columns(metrics: Sequence[str]) -> list[str]:
    """Usage metrics whose positive value means the customer used the product.

    The active-user metric when there is one, else every metric that is not a licence count
    (seats are paid for, not used, so they say nothing about activity).
    """
    activity = [m for m in metrics if m not in SEAT_METRICS]
    return [m for m in activity if m in ACTIVE_METRICS] or activity


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------


class _Store:
    """The output columns, filled chunk by chunk in place: one float64 block (column-major, so
    each column is contiguous and the final frame wraps it without a copy) for the numeric
    features and one object array per category feature. Rows are the spine's ``_row``.
    ``hidden``: numeric columns other columns are derived from, kept apart and not returned."""

    def __init__(
        self,
        n_rows: int,
        columns: list[FeatureColumn],
        hidden: Iterable[str] = (),
        spec: FeatureSpec | None = None,
    ) -> None:
        self.columns = columns
        numeric = [c.name for c in columns if c.feature.dtype != "category"]
        self.pos = {name: j for j, name in enumerate(numeric)}
        self.block = np.full((n_rows, len(numeric)), np.nan, dtype="float64", order="F")
        self.hidden = {name: np.full(n_rows, np.nan) for name in sorted(hidden)}
        # Category columns as codes into the spec's fixed list (-1: missing), not Python
        # strings: a chunk's values are new str objects, 0.3 GB per 2M rows and 3 columns.
        spec = spec if spec is not None else FeatureSpec()
        self.levels = {
            c.name: list(getattr(spec, c.feature.levels))
            for c in columns
            if c.feature.dtype == "category" and c.feature.levels is not None
        }
        self.other = {name: np.full(n_rows, -1, dtype="int32") for name in self.levels}

    def _numeric(self, name: str) -> np.ndarray:
        return self.block[:, self.pos[name]] if name in self.pos else self.hidden[name]

    def put(self, part: pd.DataFrame) -> None:
        """Write ``part``'s registry columns into the rows its index names."""
        rows = part.index.to_numpy()
        for name in part.columns:
            if name in self.pos or name in self.hidden:
                values = pd.to_numeric(part[name], errors="coerce")
                self._numeric(name)[rows] = values.to_numpy(dtype="float64", na_value=np.nan)
            elif name in self.other:
                values = part[name].to_numpy(dtype=object)
                self.other[name][rows] = pd.Categorical(values, self.levels[name]).codes

    def numeric(self, names: Iterable[str]) -> pd.DataFrame:
        """The numeric columns ``names`` as filled so far (no registry fill yet), by ``_row``."""
        return pd.DataFrame({n: self._numeric(n) for n in names})

    def finish(self, out: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
        """Fill, cast and order the columns as the registry declares them (in place)."""
        for column in self.columns:
            j = self.pos.get(column.name)
            # The registry's fill: what a customer with no records gets (0 for counts).
            if j is not None and not math.isnan(column.feature.fill):
                col = self.block[:, j]
                col[np.isnan(col)] = column.feature.fill
        body = pd.DataFrame(self.block, columns=list(self.pos), index=out.index, copy=False)
        del self.block
        body.insert(0, "customer_id", out["customer_id"])
        body.insert(1, "as_of", out["as_of"])
        # Categories inserted where the registry puts them: the float block is never copied.
        for at, column in enumerate(self.columns, start=2):
            if column.feature.dtype == "category":
                body.insert(at, column.name, self._categorical(column, body, spec))
        return body

    def _categorical(self, column: FeatureColumn, body: pd.DataFrame, spec: FeatureSpec) -> Any:
        if column.name in self.other:
            # A fixed category list (from the spec) keeps LightGBM's category codes identical
            # between training and scoring; unseen values become missing.
            return pd.Categorical.from_codes(self.other[column.name], self.levels[column.name])
        if column.name != "nps_last_category":
            raise ChurnError(f"feature {column.name!r} is a category without levels")
        last = body["nps_last"].to_numpy() if "nps_last" in body else self.hidden["nps_last"]
        band = np.where(
            np.isnan(last),
            None,
            np.where(
                last <= NPS_DETRACTOR_MAX,
                "detractor",
                np.where(last >= NPS_PROMOTER_MIN, "promoter", "passive"),
            ),
        )
        return pd.Categorical(band, categories=list(NPS_CATEGORIES))


def _finish(
    out: pd.DataFrame, feats: pd.DataFrame, spec: FeatureSpec, columns: list[FeatureColumn]
) -> pd.DataFrame:
    """Cast, fill and order the columns as the registry declares them (a frame of features)."""
    store = _Store(len(out), columns, spec=spec)
    store.put(feats.reindex(np.arange(len(out))))
    return store.finish(out, spec)
