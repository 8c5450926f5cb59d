"""Kelly theory (FIELD_NOTES §3) on known inputs, and the Monte Carlo against it within its error."""

from __future__ import annotations

import numpy as np
import pytest

from lab.research import kelly as k


def test_closed_forms_match_the_field_notes():
    assert k.growth_share(0.5) == pytest.approx(0.75)
    assert k.prob_ever_below(0.5, 1.0) == pytest.approx(1 / 2)
    assert k.prob_ever_below(0.5, 0.5) == pytest.approx(1 / 8)
    assert k.prob_ever_below(0.5, 0.25) == pytest.approx(1 / 128)
    assert k.prob_down_before_up(0.5, 2.0, 1.0) == pytest.approx(1 / 3)
    assert k.prob_down_before_up(0.5, 2.0, 0.5) == pytest.approx(1 / 9)
    # the finite-horizon first passage tends to the infinite-horizon value
    assert k.prob_below_by(0.5, 1.0, 0.5, 1e4) == pytest.approx(0.5, abs=1e-6)


def test_growth_curve_peaks_at_the_kelly_formulas():
    p, a, b = 0.55, 1.0, 1.0
    f = np.linspace(0.0, 0.5, 50_001)
    assert f[np.argmax(k.binary_growth(f, p, a, b))] == pytest.approx(p - (1 - p) / b, abs=1e-4)
    p, a, b = 0.6, 0.05, 0.10
    f = np.linspace(0.0, 19.0, 190_001)
    assert f[np.argmax(k.binary_growth(f, p, a, b))] == pytest.approx(p / a - (1 - p) / b, abs=1e-3)
    # the empirical optimum on a two-point sample is the same f*
    r = np.array([0.10] * 6 + [-0.05] * 4)
    assert k.empirical_kelly(r) == pytest.approx(8.0, rel=1e-4)
    assert k.asymmetric_kelly(r)[0] == pytest.approx(8.0)
    assert k.empirical_kelly(np.array([0.01, -0.02])) == 0.0  # no edge


@pytest.mark.parametrize("c", [1.0, 0.5])
def test_monte_carlo_agrees_with_theory_within_its_standard_error(c):
    g_star, horizon = 0.5, 20.0
    mc = k.simulate_fraction(c, g_star, horizon=horizon, steps=2000, n_paths=6000, seed=11)
    assert abs(mc.growth - k.growth_share(c) * g_star) < 4 * mc.growth_se
    expected = k.prob_below_by(0.5, c, g_star, horizon)
    assert abs(mc.p_below - expected) < 4 * mc.p_below_se + 0.005
    assert mc.unresolved < 0.001
    assert abs(mc.p_down_first - k.prob_down_before_up(0.5, 2.0, c)) < 4 * mc.p_down_first_se + 0.005


def test_without_the_barrier_correction_the_estimate_reads_low():
    """The correction matters: on a coarse grid the uncorrected barrier misses crossings."""
    g_star, c, horizon = 0.5, 1.0, 20.0
    coarse = k.simulate_fraction(c, g_star, horizon=horizon, steps=200, n_paths=6000, seed=3)
    saved = k.BGK_BETA
    try:
        k.BGK_BETA = 0.0
        raw = k.simulate_fraction(c, g_star, horizon=horizon, steps=200, n_paths=6000, seed=3)
    finally:
        k.BGK_BETA = saved
    truth = k.prob_below_by(0.5, c, g_star, horizon)
    assert raw.p_below < truth - 3 * raw.p_below_se  # uncorrected: low
    assert abs(coarse.p_below - truth) < 4 * coarse.p_below_se + 0.005  # corrected: on target


def test_bootstrap_band_covers_the_true_fraction_and_trade_paths_match_prediction():
    rng = np.random.default_rng(5)
    r = np.where(rng.random(400) < 0.55, 0.03, -0.025)  # true f* = 0.55/0.025 - 0.45/0.03 = 7
    band = k.bootstrap_kelly(r, 500, seed=1)
    assert band["low"] < 7.0 < band["high"]
    paths = k.trade_paths(r, 2.0, 2000, seed=2)
    assert abs(paths["simulated"] - paths["predicted"]) < 4 * paths["simulated_se"]
    table = k.estimation_error_table(r, (0.25, 0.5, 1.0, 2.0), 100, seed=3)
    shares = [row["mean growth share"] for row in table]
    # over-betting an estimate is punished far more than under-betting it
    assert shares[3] < shares[0] < shares[1]
