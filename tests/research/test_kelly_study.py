"""The Kelly study: its tables agree with theory, the verdict reads what the numbers say."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lab.research.kelly_study import study

EMPTY_SIZING = pd.DataFrame(columns=["time", "symbol", "fraction", "skipped", "reason", "cap_bound"])


def test_study_of_an_edge_reports_f_star_its_band_and_theory():
    rng = np.random.default_rng(0)
    r = np.where(rng.random(600) < 0.55, 0.03, -0.025)  # f* = p/a - q/b = 7 with p = .55
    sizing = pd.DataFrame(
        {
            "time": pd.date_range("2025-01-01", periods=4, freq="h", tz="UTC"),
            "symbol": "BTC/USD",
            "fraction": [0.05, 0.15, 0.0, 0.15],
            "skipped": [False, False, True, False],
            "reason": ["fallback: fewer closed trades than sizing.min_trades", "", "skip: x", ""],
            "cap_bound": [False, True, False, True],
        }
    )
    k = study(r, sizing, fractions=(0.5, 1.0), n_sims=1500, seed=1)
    assert not k.illustrative and k.f_star == pytest.approx(k.f_star_formula, rel=0.02)
    assert k.band["low"] < k.f_star < k.band["high"]
    mc = k.monte_carlo_table.set_index("multiple of f*")
    for c in (0.5, 1.0):
        assert abs(mc.loc[c, "growth, simulated"] - mc.loc[c, "growth, theory"]) < 4 * mc.loc[c, "± s.e."]
    shares = k.fraction_table.set_index("multiple of f*")["share of optimum (trades)"]
    assert shares[1.0] == pytest.approx(1.0) and 0.6 < shares[0.5] < 0.85  # theory: 0.75
    assert "f* = " in k.verdict and "the band excludes zero" in k.verdict
    assert "above the 15% cap, which binds" in k.verdict  # 0.25 * 7 = 1.75 > 0.15
    assert "4 decisions: 50% Kelly-sized, 25% on the fixed fallback" in k.verdict
    assert len(k.trade_paths) == 2 and not k.estimation_error.empty


def test_study_without_an_edge_says_so_and_labels_the_simulation_illustrative():
    rng = np.random.default_rng(1)
    r = np.where(rng.random(300) < 0.3, 0.01, -0.012)
    k = study(r, EMPTY_SIZING, n_sims=300)
    assert k.f_star == 0.0 and k.illustrative
    assert k.verdict.startswith("The signal record's 300 trades show no edge after costs")
    assert "illustrative edge" in k.simulation_basis()
    assert k.trade_paths == [] and k.estimation_error.empty


def test_too_few_trades_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 10 closed trades"):
        study(np.array([0.01, -0.01]), EMPTY_SIZING)
