"""Weekly alerts: events that need a follow-up within days, whatever the model's rank.

The list ranks who is likely to leave; an alert is a fact the account team must act on now,
before the next survey shows the damage (what the contact centre heard must reach the owner):

- ``detractor``: an NPS answer of 0-6 given in the last ``detractor_days`` days, with its verbatim
  when the nps table has a ``comment``;
- ``open_ticket``: a ticket of ``open_categories`` (complaint, incident) still open
  ``open_days`` or more after it was opened;
- ``usage_drop``: usage per period in the last ``usage_recent_days`` fell by at least
  ``usage_drop_share`` from the ``usage_baseline_days`` before;
- ``renewal``: a renewal within ``renewal_days`` for a customer in ``renewal_tiers`` (from the
  week's scores; the only alert that reads the model).

TIME IS SACRED here as in the features: for a week ``as_of`` only what was known strictly before
``as_of`` is used. An answer counts once given and recorded (``max(timestamp, recorded_at) <
as_of``); a ticket is open at as_of unless its resolution was known before it (``max(resolved_at,
recorded_at) < as_of``), so a resolution filled in later does not hide the alert; a usage row
counts once its period ended and it was recorded (``date + period <= as_of``, ``recorded_at <
as_of``). Only customers active at as_of (signed up before it, not churned before it) get alerts.

Pure: frames in, one frame out (``ALERT_COLUMNS``), sorted by due date, kind and customer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn.contract import NPS_DETRACTOR_MAX, USAGE_PERIODS, Tables
from churn.settings import AlertSettings

ALERT_KINDS = ("detractor", "open_ticket", "usage_drop", "renewal")
ALERT_COLUMNS = [
    "customer_id",
    "name",
    "account_owner",
    "kind",
    "detail",
    "event_date",
    "due_date",
]


def _ts(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    return pd.to_datetime(frame[col], errors="coerce")


def active_ids(customers: pd.DataFrame, as_of: pd.Timestamp) -> pd.Index:
    """Customers active at ``as_of``: signed up before it and not churned before it."""
    signup = _ts(customers, "signup_date")
    churn = _ts(customers, "churn_date")
    active = (signup < as_of) & ~(churn < as_of)
    return pd.Index(customers.loc[active, "customer_id"].astype(str).unique())


def detractor_alerts(nps: pd.DataFrame, as_of: pd.Timestamp, days: int) -> pd.DataFrame:
    """Detractor answers given and recorded in ``[as_of - days, as_of)``, with the verbatim."""
    t = _ts(nps, "timestamp")
    known = np.maximum(t, _ts(nps, "recorded_at").fillna(t))
    score = pd.to_numeric(nps.get("score", pd.Series(np.nan, index=nps.index)), errors="coerce")
    hit = (t >= as_of - pd.Timedelta(days=days)) & (known < as_of) & (score <= NPS_DETRACTOR_MAX)
    rows = nps[hit.to_numpy()]
    comment = rows["comment"] if "comment" in rows.columns else pd.Series(None, index=rows.index)
    detail = [
        f"Answered {int(s)}/10 to the NPS survey on {d.date()}"
        + (f': "{str(c).strip()}"' if isinstance(c, str) and c.strip() else " (no comment).")
        for s, d, c in zip(score[hit], t[hit], comment, strict=True)
    ]
    return _frame(rows["customer_id"], "detractor", detail, t[hit])


def open_ticket_alerts(
    interactions: pd.DataFrame, as_of: pd.Timestamp, days: int, categories: tuple[str, ...]
) -> pd.DataFrame:
    """Tickets of ``categories`` opened ``days``+ before as_of and not known resolved by then."""
    t = _ts(interactions, "timestamp")
    rec = _ts(interactions, "recorded_at").fillna(t)
    resolved = _ts(interactions, "resolved_at")
    # The resolution is known only once it happened AND reached the data before as_of.
    closed = resolved.notna() & (np.maximum(resolved, rec) < as_of)
    wanted = interactions.get("category", pd.Series("", index=interactions.index))
    wanted = wanted.astype(str).str.lower().isin([c.lower() for c in categories])
    hit = wanted & (rec < as_of) & (t <= as_of - pd.Timedelta(days=days)) & ~closed
    rows = interactions[hit.to_numpy()]
    age = (as_of - t[hit]).dt.days
    detail = [
        f"{str(cat).capitalize()} opened on {d.date()} by {ch} still open after {a} days."
        for cat, d, ch, a in zip(
            rows["category"], t[hit], rows.get("channel", [""] * len(rows)), age, strict=True
        )
    ]
    return _frame(rows["customer_id"], "open_ticket", detail, t[hit])


def usage_drop_alerts(tables: Tables, as_of: pd.Timestamp, settings: AlertSettings) -> pd.DataFrame:
    """Customers whose usage per period fell by ``usage_drop_share`` or more (see module)."""
    usage = tables.usage
    metric = settings.usage_metric or (tables.usage_metrics[0] if tables.usage_metrics else None)
    if metric is None or metric not in usage.columns or not len(usage):
        return _frame(pd.Series(dtype=str), "usage_drop", [], pd.Series(dtype="datetime64[ns]"))
    end = _ts(usage, "date") + USAGE_PERIODS[tables.usage_period]
    rec = _ts(usage, "recorded_at").fillna(end)
    split = as_of - pd.Timedelta(days=settings.usage_recent_days)
    start = split - pd.Timedelta(days=settings.usage_baseline_days)
    known = (end <= as_of) & (rec < as_of) & (end > start)
    rows = pd.DataFrame(
        {
            "customer_id": usage["customer_id"].astype(str),
            "value": pd.to_numeric(usage[metric], errors="coerce"),
            "recent": end > split,
        }
    )[known.to_numpy()]
    means = rows.groupby(["customer_id", "recent"])["value"].mean().unstack("recent")
    means = means.reindex(columns=[False, True])
    base, now = means[False], means[True]
    drop = (base >= settings.usage_min_baseline) & (now <= base * (1 - settings.usage_drop_share))
    hit = means[drop.fillna(False)]
    detail = [
        f"{metric} per period fell {100 * (1 - n / b):.0f}% "
        f"(last {settings.usage_recent_days} days {n:,.1f} vs {b:,.1f} before)."
        for b, n in zip(hit[False], hit[True], strict=True)
    ]
    when = pd.Series(split, index=hit.index, dtype="datetime64[ns]")
    return _frame(pd.Series(hit.index, dtype=str), "usage_drop", detail, when)


def renewal_alerts(
    scores: pd.DataFrame | None, as_of: pd.Timestamp, days: int, tiers: tuple[str, ...]
) -> pd.DataFrame:
    """At-risk customers (tier in ``tiers``) whose renewal falls within ``days`` of as_of."""
    if scores is None or not len(scores) or "days_to_renewal" not in scores.columns:
        return _frame(pd.Series(dtype=str), "renewal", [], pd.Series(dtype="datetime64[ns]"))
    left = pd.to_numeric(scores["days_to_renewal"], errors="coerce")
    hit = (left >= 0) & (left <= days) & scores["risk_tier"].astype(str).isin(tiers)
    rows, left = scores[hit], left[hit]
    when = as_of + pd.to_timedelta(left, unit="D")
    detail = [
        f"Renews in {int(n)} days ({w.date()}) with a {t} churn risk ({100 * p:.0f}%)."
        for n, w, t, p in zip(left, when, rows["risk_tier"], rows["churn_probability"], strict=True)
    ]
    return _frame(rows["customer_id"], "renewal", detail, when)


def _frame(ids: pd.Series, kind: str, detail: list[str], when: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": np.asarray(ids, dtype=object).astype(str),
            "kind": kind,
            "detail": detail,
            "event_date": pd.to_datetime(np.asarray(when)).normalize(),
        }
    )


def week_alerts(
    tables: Tables,
    as_of: pd.Timestamp,
    settings: AlertSettings,
    scores: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every alert of the week ``as_of`` (columns ``ALERT_COLUMNS``), see the module docstring.

    ``scores`` (the week's scores, with ``risk_tier``, ``churn_probability`` and
    ``days_to_renewal``) feeds the renewal alert; without it there is none.
    """
    as_of = pd.Timestamp(as_of)
    parts = [
        detractor_alerts(tables.nps, as_of, settings.detractor_days),
        open_ticket_alerts(
            tables.interactions, as_of, settings.open_days, tuple(settings.open_categories)
        ),
        usage_drop_alerts(tables, as_of, settings),
        renewal_alerts(scores, as_of, settings.renewal_days, tuple(settings.renewal_tiers)),
    ]
    alerts = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    alerts = alerts[alerts["customer_id"].isin(active_ids(tables.customers, as_of))]
    accounts = tables.customers.drop_duplicates("customer_id")
    accounts = accounts.reindex(columns=["customer_id", "name", "account_owner"])
    accounts = accounts.assign(customer_id=accounts["customer_id"].astype(str))
    alerts = alerts.merge(accounts, on="customer_id", how="left")
    alerts["due_date"] = (as_of + pd.Timedelta(days=settings.due_days)).normalize()
    alerts["kind"] = pd.Categorical(alerts["kind"], categories=ALERT_KINDS, ordered=True)
    alerts = alerts.sort_values(["due_date", "kind", "customer_id", "event_date"], kind="stable")
    alerts["kind"] = alerts["kind"].astype(str)
    return alerts[ALERT_COLUMNS].reset_index(drop=True)


def alert_counts(alerts: pd.DataFrame) -> dict[str, int]:
    """Alerts per kind (every kind, 0 included), for the manifest."""
    counts = alerts["kind"].value_counts() if len(alerts) else pd.Series(dtype=int)
    return {kind: int(counts.get(kind, 0)) for kind in ALERT_KINDS}
