"""``monitor.json`` and ``monitor.html`` from a report (pure: the same report gives the same
bytes; no timestamps inside)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from html import escape
from typing import Any

import numpy as np

_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2rem;max-width:75rem;color:#222}"
    "table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;"
    "padding:.25rem .5rem;text-align:right}th{background:#f4f4f4}td.l,th.l{text-align:left}"
    ".warn{color:#a40000;font-weight:600}.ok{color:#1a6b1a;font-weight:600}small{color:#666}"
)


def _clean(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def render_json(report: Mapping[str, Any]) -> bytes:
    """``monitor.json``: the whole report, sorted keys, NaN as null."""
    text = json.dumps(_clean(report), indent=2, sort_keys=True, allow_nan=False, default=str)
    return (text + "\n").encode("utf-8")


def _pct(value: Any, digits: int = 0) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}%}"


def _num(value: Any, digits: int = 3) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _ci(iv: Mapping[str, float] | None, fmt=_pct) -> str:
    if not iv:
        return "-"
    return f"{fmt(iv['estimate'])} <small>[{fmt(iv['low'])}, {fmt(iv['high'])}]</small>"


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(
        f"<th class='l'>{h}</th>" if i == 0 else f"<th>{h}</th>" for i, h in enumerate(head)
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td class='l'>{c}</td>" if i == 0 else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{th}</tr>{body}</table>"


def _quality(weeks: list[Mapping[str, Any]]) -> str:
    rows = []
    for w in weeks:
        e, r = w["expected"], w.get("realised") or {}
        rows.append(
            [
                w["as_of"],
                escape(str(w.get("model_version"))),
                "yes" if w["matured"] else "not yet",
                _pct(e["list_precision"]),
                _ci(r.get("list_precision")),
                _pct(e["precision_at_k"]),
                _ci(r.get("precision_at_k")),
                _num(e["roc_auc"]),
                _ci(r.get("roc_auc"), _num),
                _pct(e["churn_rate"], 1),
                _ci(r.get("churn_rate"), lambda v: _pct(v, 1)),
                _ci(r.get("list_recall")),
                _ci(r.get("arr_lost_listed_share")),
            ]
        )
    head = [
        "as_of", "model", "matured", "list precision: expected", "realised",
        "precision@K: expected", "realised", "ROC AUC: expected", "realised",
        "churn rate: predicted", "realised", "recall of churners (list)",
        "share of lost ARR on the list",
    ]  # fmt: skip
    return _table(head, rows)


def _tiers(weeks: list[Mapping[str, Any]]) -> str:
    rows = []
    for w in weeks:
        for t in (w.get("realised") or {}).get("tiers", []):
            rows.append(
                [w["as_of"], escape(t["tier"]), str(t["n"]), _pct(t["predicted"], 1),
                 _ci(t["realised"], lambda v: _pct(v, 1))]
            )  # fmt: skip
    if not rows:
        return "<p>No week has matured yet.</p>"
    return _table(["as_of", "tier", "customers", "predicted churn", "realised churn"], rows)


def _drift(weeks: list[Mapping[str, Any]]) -> str:
    over_time = [
        [
            w["as_of"],
            _num((w.get("drift") or {}).get("max_psi"), 2),
            escape(
                ", ".join(f["feature"] for f in (w.get("drift") or {}).get("flagged", [])) or "none"
            ),
        ]
        for w in weeks
    ]
    html = _table(["as_of", "largest PSI", "drifted features"], over_time)
    latest = weeks[-1].get("drift") if weeks else None
    if latest:
        rows = [
            [escape(f["feature"]), _num(f["psi"], 2), _pct(f["missing_reference"]),
             _pct(f["missing_current"]), escape(f["description"])]
            for f in latest["top"]
        ]  # fmt: skip
        head = ["feature", "PSI", "missing (training)", "missing (week)", "what it is"]
        html += f"<h3>Largest moves in the week of {weeks[-1]['as_of']}</h3>" + _table(head, rows)
    return html


def _scores(weeks: list[Mapping[str, Any]]) -> str:
    tiers = list(weeks[0]["scores"]["tier_share"]) if weeks else []
    rows = [
        [w["as_of"], str(int(w["expected"]["scored"])), str(int(w["expected"]["listed"])),
         _pct(w["scores"]["mean"], 1), _pct(w["scores"]["p10"], 1), _pct(w["scores"]["p50"], 1),
         _pct(w["scores"]["p90"], 1), *(_pct(w["scores"]["tier_share"][t], 1) for t in tiers)]
        for w in weeks
    ]  # fmt: skip
    head = ["as_of", "scored", "listed", "mean", "10th pct", "median", "90th pct"]
    return _table(head + [f"tier {escape(t)}" for t in tiers], rows)


def render_page(report: Mapping[str, Any]) -> bytes:
    """``monitor.html``: one self-contained page (inline CSS, no scripts)."""
    weeks = list(report["weeks"])
    rec, stale, champ = report["recommendation"], report["staleness"], report["champion"]
    verdict = (
        "<p class='warn'>Retrain recommended:</p><ul>"
        + "".join(f"<li>{escape(r)}</li>" for r in rec["reasons"])
        + "</ul>"
        if rec["retrain"]
        else "<p class='ok'>No threshold crossed: no retrain needed.</p>"
    )
    age = stale.get("age_days")
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>churn monitoring</title>",
        f"<style>{_CSS}</style></head><body><h1>Monitoring: is the weekly list still good?</h1>",
        f"<p>Champion: model {escape(str(champ.get('version')))} (run "
        f"{escape(str(champ.get('run_id')))}), test ROC AUC {_num(champ.get('test_roc_auc'))}; "
        f"latest training snapshot {escape(str(stale.get('training_end')))}, "
        f"{'-' if age is None else age} days before the latest week.</p>",
        verdict,
        "<h2>Past lists against what happened</h2><p><small>Expected: from the calibrated "
        "probabilities the week it was scored (CBPE). Realised: once the horizon has passed; "
        "[95% customer-bootstrap interval]. K = "
        f"{escape(str(report.get('capacity_k')))}.</small></p>",
        _quality(weeks),
        "<h2>Predicted against realised churn per tier</h2>",
        _tiers(weeks),
        "<h2>Drift against the latest labelled window</h2><p><small>PSI per feature (reference: "
        f"{escape(', '.join(report.get('reference_dates', [])))}); flagged at PSI &ge; "
        f"{report['thresholds']['psi_threshold']} or a move of "
        f"{_pct(report['thresholds']['missing_threshold'])} in the share missing.</small></p>",
        _drift(weeks),
        "<h2>Scores over time</h2>",
        _scores(weeks),
        "</body></html>",
    ]
    return ("\n".join(parts) + "\n").encode("utf-8")
