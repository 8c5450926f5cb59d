"""The promoter's statistics: one real edge among 50 noise shadows over 20 seeds; the tests' values
against their formulas; too little data decides nothing."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lab.core.config import PromoterConfig
from lab.core.sharpe import min_track_record, probabilistic_sharpe
from lab.research.promoter import evaluate

DAYS = pd.date_range("2026-01-01", periods=250, freq="D", tz="UTC")


def books(seed: int, n_noise: int = 50, edge: float = 0.003):
    rng = np.random.default_rng(seed)
    active = pd.Series(rng.normal(0.0002, 0.01, len(DAYS)), index=DAYS)
    noise = {f"noise_{k}": pd.Series(rng.normal(0.0002, 0.01, len(DAYS)), index=DAYS) for k in range(n_noise)}
    real = pd.Series(rng.normal(edge, 0.01, len(DAYS)), index=DAYS)
    return active, noise, real


def test_over_20_seeds_the_real_edge_is_promoted_and_no_noise_shadow():
    cfg = PromoterConfig()
    real_promoted, noise_runs, naive_runs = 0, 0, 0
    for seed in range(20):
        active, noise, real = books(seed)
        n_trials = len(noise) + 1
        real_promoted += evaluate("real", real, active, n_trials, cfg).decision == "promote"
        noise_runs += any(
            evaluate(k, s, active, n_trials, cfg).decision == "promote" for k, s in noise.items()
        )
        naive_runs += any(
            e.passed.get("psr") and e.passed.get("paired")
            for e in (evaluate(k, s, active, 1, cfg) for k, s in noise.items())
        )
    print(
        f"\nreal edge promoted in {real_promoted}/20 runs, a noise shadow in {noise_runs}/20 "
        f"(without the deflation and the track record: {naive_runs}/20)"
    )
    assert real_promoted >= 18 and noise_runs <= 1
    assert naive_runs > noise_runs  # the deflated Sharpe with N = every candidate is what stops noise


def test_the_numbers_follow_their_formulas():
    active, _, real = books(3, n_noise=0)
    e = evaluate("real", real, active, 10, PromoterConfig())
    r = real.to_numpy()
    z = (r - r.mean()) / r.std()
    skew, kurt = float((z**3).mean()), float((z**4).mean())
    sr = r.mean() / r.std(ddof=1)
    sr_a = active.mean() / active.std(ddof=1)
    assert e.sharpe_shadow == pytest.approx(sr) and e.sharpe_active == pytest.approx(sr_a)
    assert e.psr == pytest.approx(probabilistic_sharpe(sr, len(r), skew, kurt, sr_a))
    assert e.min_track_days == pytest.approx(
        1 + (1 - skew * sr + (kurt - 1) / 4 * sr**2) * (1.6448536269514722 / (sr - sr_a)) ** 2
    )
    assert e.decision == "promote" and all(e.passed.values()) and "every test passed" in e.reason
    assert min_track_record(0.1, 0, 3, 0.2) == math.inf


def test_too_few_days_or_a_worse_shadow_are_not_promoted_and_say_why():
    active, noise, _ = books(1)
    short = evaluate("x", noise["noise_0"].iloc[:10], active, 5, PromoterConfig())
    assert short.decision == "insufficient" and "10 common days" in short.reason
    worse = evaluate("worse", active - 0.002, active, 5, PromoterConfig())
    assert worse.decision == "hold" and "PSR" in worse.reason and "paired t-test" in worse.reason


# --- through the staged rollout -----------------------------------------------------------------
def roll(state, candidate, previous, cfg):
    from lab.trading.rollout import advance

    events = []
    for day, rc, rp in zip(candidate.index, candidate, previous, strict=True):
        state, ev = advance(state, f"{day:%Y-%m-%d}", float(rc), float(rp), cfg)
        events += ev
        if state.status != "running":
            break
    return state, events


def promote_and_roll(seed: int, after_edge: float, n_noise: int = 50):
    """The promoter on 250 days, then the rollout of what it promoted on the next 60 days."""
    from lab.trading.rollout import start

    cfg = PromoterConfig()
    rng = np.random.default_rng(seed)
    days = pd.date_range("2026-01-01", periods=310, freq="D", tz="UTC")
    active = pd.Series(rng.normal(0.0002, 0.01, len(days)), index=days)
    shadows = {
        f"noise_{k}": pd.Series(rng.normal(0.0002, 0.01, len(days)), index=days) for k in range(n_noise)
    }
    real = rng.normal(0.003, 0.01, len(days))
    real[250:] = rng.normal(after_edge, 0.01, 60)
    shadows["real"] = pd.Series(real, index=days)
    track, later = slice(0, 250), slice(250, None)
    outcomes = {}
    for name, r in shadows.items():
        e = evaluate(name, r.iloc[track], active.iloc[track], len(shadows), cfg)
        if e.decision != "promote":
            continue
        sigma = float((r.iloc[track] - active.iloc[track]).std())
        state = start(name, "paper", "s", {}, None, sigma, "2026-09-08")
        outcomes[name] = roll(state, r.iloc[later], active.iloc[later], cfg)
    return outcomes


def test_over_20_seeds_the_real_edge_completes_every_stage_and_no_noise_is_rolled_out():
    completed, noise = 0, 0
    for seed in range(20):
        outcomes = promote_and_roll(seed, after_edge=0.003)
        noise += any(k != "real" for k in outcomes)
        if "real" in outcomes:
            state, events = outcomes["real"]
            completed += state.status == "completed"
            if state.status == "completed":
                assert [e.kind for e in events] == ["stage", "stage", "completed"]
    print(f"\nreal edge through every stage in {completed}/20 runs; noise rolled out in {noise}/20")
    assert completed >= 18 and noise <= 1


def test_an_edge_that_disappears_mid_rollout_is_rolled_back():
    rolled_back = 0
    for seed in range(20):
        outcomes = promote_and_roll(seed, after_edge=-0.012, n_noise=0)
        if "real" in outcomes:
            state, events = outcomes["real"]
            rolled_back += state.status == "rolled_back"
            if state.status == "rolled_back":
                assert events[-1].kind == "rolled_back" and (
                    "CUSUM" in state.reason or "drawdown" in state.reason
                )
    print(f"\nrolled back in {rolled_back}/20 runs when the edge turned to a loss")
    assert rolled_back >= 19
