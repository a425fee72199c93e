"""Simulated plays: heterogeneous true effects, only the future changes, and impact recovers them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.impact import measure_impact
from churn.simulate.plays import apply_plays, play_effects

AS_OF = pd.Timestamp("2024-03-04")
H = 90


def _base(n: int, seed: int):
    rng = np.random.default_rng(seed)
    p0 = rng.uniform(0.02, 0.6, n)
    ids = np.array([f"c{i}" for i in range(n)])
    # Outcomes without plays: churn inside the horizon with probability p0; some left earlier.
    churn = np.where(
        rng.random(n) < p0,
        AS_OF + pd.to_timedelta(rng.integers(0, H, n), unit="D"),
        pd.NaT,
    )
    customers = pd.DataFrame({"customer_id": ids, "churn_date": pd.to_datetime(churn)})
    units = pd.DataFrame(
        {
            "customer_id": ids,
            "as_of": AS_OF,
            "main_driver": rng.choice(["product adoption", "sentiment", "none"], n),
            "segment": rng.choice(["SMB", "Enterprise"], n),
        }
    )
    return customers, units, p0, rng


def test_effects_are_heterogeneous_and_follow_the_formula():
    _, units, p0, rng = _base(2000, 0)
    effects = play_effects(units, p0, rng, compliance=0.7)
    assert abs(effects["complied"].mean() - 0.7) < 0.04
    expected = effects["complied"] * (effects["backfire_prob"] * (1 - p0) - effects["save"] * p0)
    np.testing.assert_allclose(effects["true_effect"], expected)
    # Helps some (negative), nothing for others, backfires for some low-risk customers.
    assert (effects["true_effect"] < 0).any() and (effects["true_effect"] > 0).any()
    assert (effects.loc[~effects["complied"], "true_effect"] == 0).all()
    none = units["main_driver"] == "none"
    assert (effects.loc[none, "save"] == 0).all()


def test_only_churn_inside_the_horizon_of_treated_customers_changes():
    customers, units, p0, rng = _base(500, 1)
    earlier = pd.DataFrame({"customer_id": ["old"], "churn_date": [pd.Timestamp("2023-01-01")]})
    customers = pd.concat([customers, earlier], ignore_index=True)
    treated = units.iloc[:250]
    effects = play_effects(treated, p0[:250], rng, compliance=1.0, backfire=0.5)
    after = apply_plays(customers, effects, H, rng)
    changed = ~(
        (after["churn_date"] == customers["churn_date"])
        | (after["churn_date"].isna() & customers["churn_date"].isna())
    )
    assert changed.any()
    assert not changed.iloc[250:].any()  # untreated customers and the one who left long ago
    new = after.loc[changed, "churn_date"].dropna()
    assert ((new >= AS_OF) & (new < AS_OF + pd.Timedelta(days=H))).all()


def test_impact_interval_covers_the_true_effect():
    customers, units, p0, rng = _base(6000, 2)
    control = rng.random(len(units)) < 0.3
    effects = play_effects(units[~control], p0[~control], rng, compliance=0.7)
    after = apply_plays(customers, effects, H, rng)
    frame = units.assign(arr=1000.0, recommended_play="p", risk_tier="high")
    week = {"as_of": AS_OF, "horizon_days": H, "sent": frame[~control], "control": frame[control]}
    report = measure_impact([week], after, AS_OF + pd.Timedelta(days=200), resamples=20)
    d = report["overall"]["difference"]
    truth = effects["true_effect"].mean()
    assert d["low"] <= truth <= d["high"], (d, truth)


def test_by_group_figures_show_the_true_effect_beside_the_estimate(tmp_path):
    from churn.impact import render_page
    from churn.pipelines.impact import true_effect, with_truth

    customers, units, p0, rng = _base(600, 3)
    control = rng.random(len(units)) < 0.3
    effects = play_effects(units[~control], p0[~control], rng, compliance=0.7)
    (tmp_path / "ground_truth").mkdir()
    effects.to_parquet(tmp_path / "ground_truth" / "plays.parquet", index=False)
    after = apply_plays(customers, effects, H, rng)
    frame = units.assign(arr=1000.0, recommended_play="p", risk_tier="high")
    week = {"as_of": AS_OF, "horizon_days": H, "sent": frame[~control], "control": frame[control]}
    end = AS_OF + pd.Timedelta(days=200)
    report = with_truth(
        measure_impact([week], after, end, resamples=0), true_effect(tmp_path, [week], end)
    )
    smb = effects.loc[units.loc[~control, "segment"].to_numpy() == "SMB", "true_effect"].mean()
    got = report["by"]["segment"]["SMB"]["truth"]
    assert got["mean_effect_on_churn"] == pytest.approx(smb)
    assert got["customers"] == report["by"]["segment"]["SMB"]["treated"]["customers"]
    assert report["truth"]["mean_effect_on_churn"] == pytest.approx(effects["true_effect"].mean())
    page = render_page(report).decode()
    assert "simulator's true effect (points)" in page and f"{100 * smb:+.1f}" in page
