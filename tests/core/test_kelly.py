"""The Kelly estimate from trade sums: formulas on known inputs, shrinkage, cap, skip, fallback."""

from __future__ import annotations

import numpy as np
import pytest

from lab.core.kelly import (
    FALLBACK_FEW_TRADES,
    SKIP_BELOW_MIN,
    SKIP_NO_EDGE,
    KellyRule,
    TradeSums,
    cumulative_sums,
    kelly_sizing,
    trade_return,
)

PLAIN = KellyRule(min_trades=2, shrink=False)


def sized(returns, rule=PLAIN):
    s = TradeSums()
    for r in returns:
        s.add(r)
    out = kelly_sizing(*(np.array([v]) for v in vars(s).values()), rule)
    return {k: v[0] for k, v in out.items()}


def test_asymmetric_and_binary_forms_on_known_inputs():
    # 60% wins of +10%, 40% losses of -5%: f* = p/a - q/b = 0.6/0.05 - 0.4/0.10 = 8; R = 2: p - q/R = 0.4
    out = sized([0.10] * 6 + [-0.05] * 4)
    assert (
        out["p"] == pytest.approx(0.6) and out["a"] == pytest.approx(0.05) and out["b"] == pytest.approx(0.10)
    )
    assert out["f_star"] == pytest.approx(8.0)
    assert out["f_binary_risked"] == pytest.approx(0.4)
    # the risked fraction is the allocated fraction times the average loss per unit allocated
    assert out["f_binary_risked"] == pytest.approx(out["f_star"] * out["a"])
    assert out["fraction"] == pytest.approx(0.15) and out["cap_bound"]  # 0.25 * 8 = 2, capped at 15%


def test_even_money_binary_bet_matches_p_minus_q():
    # a = b = 1 (lose or double the stake): f* = p - q
    out = sized([1.0] * 55 + [-1.0] * 45, KellyRule(min_trades=2, shrink=False, max_fraction=1.0))
    assert out["f_star"] == pytest.approx(0.10)
    assert out["fraction"] == pytest.approx(0.025)


def test_no_edge_is_skipped_and_small_edges_are_skipped_never_floored_up():
    assert sized([0.01] * 4 + [-0.02] * 6)["reason"] == SKIP_NO_EDGE
    # even-money bets won 51 times in 100: f* = p - q = 0.02, a quarter of it 0.005 < the 2% minimum
    out = sized([1.0] * 51 + [-1.0] * 49)
    assert out["f_star"] == pytest.approx(0.02)
    assert out["reason"] == SKIP_BELOW_MIN and out["fraction"] == 0.0  # 0.25*f* < 2%: skip, not 2%


def test_fallback_until_min_trades():
    out = sized([0.1, -0.05] * 5, KellyRule(min_trades=30, fallback_fraction=0.05))
    assert out["reason"] == FALLBACK_FEW_TRADES and out["fraction"] == 0.05


def test_shrinkage_grows_towards_one_with_evidence():
    rng = np.random.default_rng(0)
    rule = KellyRule(min_trades=2, shrink=True, max_fraction=1.0)
    shrinks = []
    for n in (40, 400, 4000):
        r = np.where(rng.random(n) < 0.55, 0.02, -0.015)
        shrinks.append(sized(r, rule)["shrink"])
    assert shrinks[0] < shrinks[1] < shrinks[2] <= 1
    assert shrinks[2] > 0.9


def test_cumulative_sums_equal_running_sums_bit_for_bit():
    r = np.random.default_rng(1).normal(0.001, 0.02, 500)
    cum = cumulative_sums(r)
    s = TradeSums()
    for k, x in enumerate(r):
        s.add(float(x))
        assert (cum["sum_win"][k + 1], cum["sum_loss2"][k + 1], cum["wins"][k + 1]) == (
            s.sum_win,
            s.sum_loss2,
            s.wins,
        )


def test_trade_return_pays_both_fees():
    assert trade_return(100.0, 110.0, 0.0) == pytest.approx(0.10)
    assert trade_return(100.0, 100.0, 0.004) == pytest.approx(0.996 / 1.004 - 1)
