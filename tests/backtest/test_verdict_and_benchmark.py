"""Buy-and-hold beside every strategy, and a verdict that reads what the numbers say."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lab.backtest.benchmark import buy_and_hold, buy_and_hold_metrics
from lab.backtest.simulate import ExecutionModel
from lab.backtest.verdict import SharpeEvidence, metrics_table, sharpe_evidence, verdict
from tests.conftest import make_candles


def test_buy_and_hold_splits_cash_equally_and_pays_the_entry_costs():
    a, b = make_candles(300, seed=1), make_candles(300, seed=2, price=50.0)
    model = ExecutionModel({"A/USD": 0.004, "B/USD": 0.0}, 0.001, 10_000.0, 0.25)
    eq = buy_and_hold({"A/USD": a, "B/USD": b}, model)
    units_a = 5_000 / 1.004 / (a["open"].iloc[0] * 1.001)
    units_b = 5_000 / (b["open"].iloc[0] * 1.001)
    assert eq.iloc[-1] == pytest.approx(units_a * a["close"].iloc[-1] + units_b * b["close"].iloc[-1])
    late = b.copy()
    late.iloc[:100] = np.nan  # listed later: its share waits in cash
    eq2 = buy_and_hold({"A/USD": a, "B/USD": late}, model)
    assert eq2.iloc[50] == pytest.approx(units_a * a["close"].iloc[50] + 5_000)


def test_verdict_for_a_doubling_strategy_against_flat_buy_and_hold():
    text = verdict(
        {"total_return": 1.0, "sharpe_daily": 3.1, "max_drawdown": -0.05, "fee_share_of_gross_profit": 0.1},
        {"total_return": 0.0, "max_drawdown": -0.3},
        SharpeEvidence(0.4, 0.999, 60),
        symbols=["BTC/USD"],
        days=60,
        per_day=0.5,
        deflated_sharpe=0.2,
        n_trials=100,
    )
    assert "returned +100.0% against +0.0%" in text and "beating by 100.0 points" in text
    assert "at the 95% level" in text and "more likely than not real skill" in text
    assert "it does not pass the 95% bar" in text and "100 swept combinations" in text


def test_verdict_is_never_more_confident_than_the_psr():
    text = verdict(
        {
            "total_return": 0.08,
            "sharpe_daily": 1.5,
            "max_drawdown": -0.1,
            "fee_share_of_gross_profit": float("nan"),
        },
        {"total_return": 0.02, "max_drawdown": -0.2},
        SharpeEvidence(0.05, 0.71, 20),
        symbols=["BTC/USD", "ETH/USD"],
        days=20,
        per_day=2.0,
    )
    assert "not distinguishable from no skill" in text and "real skill" not in text
    assert "There was no gross profit for fees to take" in text


def test_psr_of_a_steady_riser_is_high_and_of_noise_is_middling():
    idx = pd.date_range("2025-01-01", periods=60 * 288, freq="5min", tz="UTC")
    rng = np.random.default_rng(0)
    riser = pd.Series(np.exp(np.cumsum(rng.normal(0.0004, 0.002, len(idx)))), idx)
    noise = pd.Series(np.exp(np.cumsum(rng.normal(0.0, 0.002, len(idx)))), idx)
    assert sharpe_evidence(riser).psr > 0.99
    assert 0.02 < sharpe_evidence(noise).psr < 0.98


def test_metrics_table_puts_buy_and_hold_and_the_difference_beside_the_strategy():
    idx = pd.date_range("2025-01-01", periods=4 * 288, freq="5min", tz="UTC")
    bh = buy_and_hold_metrics(pd.Series(np.linspace(100, 110, len(idx)), idx))
    table = metrics_table({"total_return": 0.2, "trades": 12.0}, bh, "USD").set_index("metric")
    assert table.loc["total return"].tolist() == ["+20.0%", "+10.0%", "+10.0 pts"]
    assert table.loc["closed trades"].tolist() == ["12", "", ""]
