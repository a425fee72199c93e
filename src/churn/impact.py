"""The measured effect of retention work: treated vs control customers, once the horizon passed.

Each week the list is split into the customers sent to their owners (treated: ``at_risk.csv``) and
the control group held out (``control.csv``, ``churn.control``). Once a week's horizon has passed
(``as_of + horizon <= extraction date``) its outcome is known: did the customer churn in
``[as_of, as_of + horizon)``?

Units and arms. A customer listed in several weeks counts once, at the first matured week they
were listed, in the arm of that week (intention to treat: whatever the owner did with them). This
keeps the units independent, so the intervals below are honest; a control customer who is sent
in a later week dilutes the difference towards zero, never away from it.

Figures, for all customers and by play (the recommended play), risk tier and segment, each with
the number of customers behind it:

- churn rate of each arm with its Wilson 95% interval;
- difference (treated - control) with Newcombe's hybrid-score 95% interval (method 10 of
  Newcombe 1998), built from the two Wilson intervals;
- relative risk (treated / control) with the Katz log interval (0.5 added to every cell when one
  is empty);
- ARR retained (share of the arm's ARR at listing still a customer at the horizon) and its
  difference, with a customer-level bootstrap 95% interval (resampling customers within arms).

Below ``min_customers`` in either arm the verdict says plainly that there is too little data.
Pure: frames in, a JSON-able dict out; :func:`render_page` makes the HTML.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

Z = 1.959963984540054
GROUPS = ("recommended_play", "risk_tier", "segment")


def wilson(k: int, n: int, z: float = Z) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n`` (NaN, NaN for n = 0)."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float, float]:
    """Difference p1 - p2 and its Newcombe hybrid-score 95% interval."""
    if n1 == 0 or n2 == 0:
        return math.nan, math.nan, math.nan
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1)
    l2, u2 = wilson(k2, n2)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, low, high


def relative_risk(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float, float]:
    """p1 / p2 with the Katz log 95% interval; 0.5 added to each cell if any is empty."""
    if n1 == 0 or n2 == 0:
        return math.nan, math.nan, math.nan
    a, b, c, d = k1, n1 - k1, k2, n2 - k2
    if min(a, b, c, d) == 0:
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
    rr = (a / (a + b)) / (c / (c + d))
    se = math.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
    return rr, rr * math.exp(-Z * se), rr * math.exp(Z * se)


def listed_units(
    weeks: Sequence[Mapping[str, Any]], customers: pd.DataFrame, extraction
) -> pd.DataFrame:
    """One row per customer: first matured week listed, arm, ARR at listing, churned or not.

    ``weeks``: ``{"as_of", "horizon_days", "sent", "control"}`` per week folder.
    """
    rows = []
    for w in weeks:
        as_of = pd.Timestamp(w["as_of"])
        end = as_of + pd.Timedelta(days=int(w["horizon_days"]))
        if end > pd.Timestamp(extraction):
            continue  # the horizon has not passed: the outcome is not known yet
        for arm, frame in (("treated", w["sent"]), ("control", w["control"])):
            if frame is None or not len(frame):
                continue
            part = frame.reindex(columns=["customer_id", "arr", *GROUPS]).copy()
            part["customer_id"] = part["customer_id"].astype(str)
            part = part.assign(as_of=as_of, end=end, arm=arm)
            rows.append(part)
    if not rows:
        cols = ["customer_id", "arr", *GROUPS, "as_of", "end", "arm", "churned"]
        return pd.DataFrame(columns=cols)
    units = pd.concat(rows, ignore_index=True).sort_values(["as_of", "customer_id"], kind="stable")
    units = units.drop_duplicates("customer_id", keep="first").reset_index(drop=True)
    known = customers.drop_duplicates("customer_id")[["customer_id", "churn_date"]]
    known = known.assign(customer_id=known["customer_id"].astype(str))
    churn = pd.to_datetime(
        units[["customer_id"]].merge(known, on="customer_id", how="left")["churn_date"]
    ).to_numpy()
    units["churned"] = ((churn >= units["as_of"]) & (churn < units["end"])).to_numpy()
    units["arr"] = pd.to_numeric(units["arr"], errors="coerce").fillna(0.0)
    return units


def _arr_retained(frame: pd.DataFrame) -> float:
    total = frame["arr"].sum()
    return float(frame.loc[~frame["churned"], "arr"].sum() / total) if total > 0 else math.nan


def _bootstrap_arr(
    t: pd.DataFrame, c: pd.DataFrame, resamples: int, seed: int
) -> tuple[float, float]:
    if resamples == 0 or not len(t) or not len(c):
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(resamples):
        bt = t.iloc[rng.integers(0, len(t), len(t))]
        bc = c.iloc[rng.integers(0, len(c), len(c))]
        diffs.append(_arr_retained(bt) - _arr_retained(bc))
    diffs = np.asarray(diffs, dtype=float)
    diffs = diffs[np.isfinite(diffs)]
    if not len(diffs):
        return math.nan, math.nan
    return float(np.quantile(diffs, 0.025)), float(np.quantile(diffs, 0.975))


def compare_arms(units: pd.DataFrame, min_customers: int, resamples: int, seed: int = 0) -> dict:
    """Treated vs control figures of a set of units (see the module docstring)."""
    t, c = units[units["arm"] == "treated"], units[units["arm"] == "control"]
    nt, nc = len(t), len(c)
    kt, kc = int(t["churned"].sum()), int(c["churned"].sum())
    d, dl, dh = newcombe(kt, nt, kc, nc)
    rr, rl, rh = relative_risk(kt, nt, kc, nc)
    at, ac = _arr_retained(t), _arr_retained(c)
    al, ah = _bootstrap_arr(t, c, resamples, seed)
    out = {
        "treated": {"customers": nt, "churned": kt, "churn_rate": kt / nt if nt else None},
        "control": {"customers": nc, "churned": kc, "churn_rate": kc / nc if nc else None},
        "difference": {"estimate": d, "low": dl, "high": dh},
        "relative_risk": {"estimate": rr, "low": rl, "high": rh},
        "arr_retained": {
            "treated": at,
            "control": ac,
            "difference": at - ac,
            "low": al,
            "high": ah,
        },
    }
    for arm, k, n in (("treated", kt, nt), ("control", kc, nc)):
        out[arm]["low"], out[arm]["high"] = wilson(k, n)
    out["verdict"] = verdict(out, min_customers)
    return _clean(out)


def verdict(fig: Mapping[str, Any], min_customers: int) -> str:
    """One plain sentence on what the figures allow to conclude."""
    nt, nc = fig["treated"]["customers"], fig["control"]["customers"]
    if min(nt, nc) < min_customers:
        return (
            f"Too little data to conclude: {nt} treated and {nc} control customers whose horizon "
            f"has passed; at least {min_customers} in each are needed."
        )
    d = fig["difference"]
    pts = f"{100 * abs(d['estimate']):.1f} points [{100 * d['low']:+.1f}, {100 * d['high']:+.1f}]"
    if d["high"] < 0:
        return f"The plays lowered churn by {pts}."
    if d["low"] > 0:
        return f"The plays RAISED churn by {pts}: review who is contacted and how."
    return f"No detectable effect: the difference is {100 * d['estimate']:+.1f} points, 95% interval [{100 * d['low']:+.1f}, {100 * d['high']:+.1f}] includes 0."


def _clean(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def measure_impact(
    weeks: Sequence[Mapping[str, Any]],
    customers: pd.DataFrame,
    extraction_date: pd.Timestamp,
    *,
    min_customers: int = 30,
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """The impact report: overall and by play, tier and segment (see the module docstring)."""
    units = listed_units(weeks, customers, extraction_date)
    matured = sorted({pd.Timestamp(a).date().isoformat() for a in units["as_of"]})
    report: dict[str, Any] = {
        "weeks": len(weeks),
        "matured_weeks": matured,
        "method": (
            "intention to treat, one unit per customer (first matured week listed); churn rates "
            "with Wilson, difference with Newcombe hybrid-score, relative risk with Katz log 95% "
            "intervals; ARR retained with a customer-level bootstrap"
        ),
        "overall": compare_arms(units, min_customers, resamples, seed),
        "by": {},
    }
    for group in GROUPS:
        report["by"][group] = {
            str(level): compare_arms(part, min_customers, resamples, seed)
            for level, part in units.groupby(
                units[group].astype(object).fillna("(none)").astype(str)
            )
        }
    return report


def render_json(report: Mapping[str, Any]) -> bytes:
    """impact.json: sorted, no NaN."""
    return (json.dumps(report, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _row(label: str, f: Mapping[str, Any], truth_column: bool = False) -> str:
    d, rr, arr = f["difference"], f["relative_risk"], f["arr_retained"]
    cells = [
        label,
        f"{f['treated']['customers']} / {f['control']['customers']}",
        f"{_pct(f['treated']['churn_rate'])} vs {_pct(f['control']['churn_rate'])}",
        "-"
        if d["estimate"] is None
        else f"{100 * d['estimate']:+.1f} [{_pct(d['low'])}, {_pct(d['high'])}]",
        "-"
        if rr["estimate"] is None
        else f"{rr['estimate']:.2f} [{rr['low']:.2f}, {rr['high']:.2f}]",
        f"{_pct(arr['treated'])} vs {_pct(arr['control'])}",
        f["verdict"],
    ]
    if truth_column:
        # The simulator's true mean effect of the treated customers of this group.
        t = f.get("truth")
        cells.insert(4, "-" if not t else f"{100 * t['mean_effect_on_churn']:+.1f}")
    return "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"


def render_page(report: Mapping[str, Any]) -> bytes:
    """impact.html: one self-contained page, the overall verdict first, then every breakdown."""
    head = (
        "<tr><th>group</th><th>customers treated / control</th><th>churn treated vs control</th>"
        "<th>difference (points) [95%]</th><th>relative risk [95%]</th>"
        "<th>ARR retained treated vs control</th><th>verdict</th></tr>"
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Impact of retention plays</title>",
        "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;padding:4px 8px;"
        "font-size:13px}table{border-collapse:collapse;margin-bottom:1.5em}</style></head><body>",
        "<h1>Impact of retention plays: treated vs control</h1>",
        f"<p><b>{html.escape(report['overall']['verdict'])}</b></p>",
        f"<p>{len(report['matured_weeks'])} of {report['weeks']} weeks have passed their horizon. "
        f"Method: {html.escape(report['method'])}.</p>",
        f"<table>{head}{_row('all listed customers', report['overall'])}</table>",
    ]
    truth = bool(report.get("truth"))
    if truth:
        parts.append(f"<p>Simulator's true effect: {html.escape(str(report['truth']))}</p>")
        # By group, the true effect sits beside the estimate (points of churn probability).
        head = head.replace(
            "<th>relative risk", "<th>simulator's true effect (points)</th><th>relative risk"
        )
    for group, levels in report["by"].items():
        rows = "".join(_row(level, f, truth) for level, f in levels.items())
        parts.append(
            f"<h2>By {html.escape(group.replace('_', ' '))}</h2><table>{head}{rows}</table>"
        )
    parts.append("</body></html>\n")
    return "".join(parts).encode("utf-8")
