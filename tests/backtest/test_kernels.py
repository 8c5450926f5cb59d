"""The lab's array path to equity, trades and exposure gives vectorbt's own numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lab.backtest.kernels import exit_trades, portfolio_value
from lab.backtest.run import backtest, bars_in_market
from lab.backtest.simulate import ExecutionModel, simulate_columns
from lab.market.sample import generate
from lab.strategy.loader import load_strategy

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("max_open", [3, 1])
def test_shared_cash_value_and_exposure_match_vectorbt(max_open):
    start = pd.Timestamp("2025-01-01", tz="UTC")
    raw = {s: generate(s, "5m", start, start + pd.Timedelta(days=5), seed=3) for s in ("BTC/USD", "ETH/USD")}
    # A third symbol lists two days later: its close is NaN before that (vectorbt back-fills it).
    raw["SOL/USD"] = generate(
        "SOL/USD", "5m", start + pd.Timedelta(days=2), start + pd.Timedelta(days=5), seed=4
    )
    loaded = load_strategy("bollinger_rsi_reversion", ROOT / "strategies")
    model = ExecutionModel({s: 0.004 for s in raw}, 0.0005, 10_000.0, 0.3, max_open)
    res = backtest(loaded, loaded.create().params, raw, model)
    pf = res.portfolio
    assert len(res.trades) >= 5
    assert np.isnan(np.asarray(pf.close)[:, 2]).any()
    np.testing.assert_allclose(res.equity.to_numpy(), pf.value().to_numpy(), rtol=1e-12, atol=0)
    held = (pf.asset_value(group_by=False) > 0).any(axis=1).to_numpy()
    np.testing.assert_array_equal(exit_trades(pf), pf.trades.records_arr)
    np.testing.assert_array_equal(bars_in_market(exit_trades(pf), len(held)), held)
    assert 0 < held.mean() < 1


def test_independent_columns_value_matches_vectorbt():
    start = pd.Timestamp("2025-01-01", tz="UTC")
    candles = generate("BTC/USD", "5m", start, start + pd.Timedelta(days=4), seed=5, gap_rate=0)
    n, rng = len(candles), np.random.default_rng(0)
    entries, exits = rng.random((n, 4)) < 0.02, rng.random((n, 4)) < 0.02
    sl = np.array([[0.01, 0.02, np.nan, 0.05]])
    tp = np.array([[np.nan, 0.03, 0.02, 0.1]])
    model = ExecutionModel({"BTC/USD": 0.004}, 0.0005, 1_000.0, 0.5)
    pf = simulate_columns(candles, entries, exits, sl, tp, False, model, 0.004, "5min")
    values = portfolio_value(pf)
    assert values.shape == (n, 4)
    np.testing.assert_allclose(values, pf.value().to_numpy(), rtol=1e-12, atol=0)
    np.testing.assert_array_equal(exit_trades(pf), pf.trades.records_arr)
    assert len(set(np.round(values[-1], 6))) == 4  # the columns really differ
