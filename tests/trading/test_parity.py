"""Replaying candles through the engine gives exactly the trades of the vectorbt backtest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lab.backtest.run import run_backtest
from lab.core.metrics import trades_hash
from lab.market.importer import read_file
from lab.market.repository import store_candles
from lab.trading.setup import replay_engine
from tests.conftest import shared_candles_or_skip
from tests.trading.helpers import SYMBOLS, engine_trades, make_project


def assert_same_trades(backtest_trades: pd.DataFrame, engine: pd.DataFrame) -> None:
    a, b = backtest_trades.reset_index(drop=True), engine.reset_index(drop=True)
    assert len(a) == len(b) and len(a) > 0
    for col in ("symbol", "entry_time", "status", "exit_reason"):
        assert list(a[col]) == list(b[col]), col
    assert list(a["exit_time"].fillna(pd.Timestamp(0, tz="UTC"))) == list(
        b["exit_time"].fillna(pd.Timestamp(0, tz="UTC"))
    )
    for col in ("size", "entry_price", "exit_price", "entry_fees", "exit_fees"):
        np.testing.assert_allclose(a[col].to_numpy(float), b[col].to_numpy(float), rtol=1e-10, err_msg=col)
    closed = a["status"] == "closed"
    np.testing.assert_allclose(a.loc[closed, "pnl"], b.loc[closed, "pnl"], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    "strategy,max_open",
    [
        ("ema_rsi_volume", 3),
        ("ema_rsi_volume", 1),
        ("bollinger_rsi_reversion", 2),
        ("donchian_atr_breakout", 3),
    ],
)
def test_replay_equals_backtest_on_generated_data(lab_root, strategy, max_open):
    cfg = make_project(lab_root, env={"LAB_BACKTEST__MAX_OPEN_POSITIONS": str(max_open)})
    bt = run_backtest(cfg, strategy, SYMBOLS, exchange="synthetic", record=False)
    engine = replay_engine(cfg, strategy, SYMBOLS, exchange="synthetic")
    summary = engine.run()
    trades = engine_trades(cfg)
    assert_same_trades(bt.trades, trades)
    assert trades_hash(bt.trades[bt.trades["status"] == "closed"]) == trades_hash(
        trades[trades["status"] == "closed"]
    )
    assert summary.steps == len(bt.equity)
    assert engine.equity() == pytest.approx(float(bt.equity.iloc[-1]), rel=1e-10)


def test_rolling_window_signals_give_the_same_trades_as_precomputed(lab_root):
    cfg = make_project(lab_root, days=2, env={"LAB_ENGINE__WINDOW_BARS": "400"})
    bt = run_backtest(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", record=False)
    replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", signal_mode="rolling").run()
    assert_same_trades(bt.trades, engine_trades(cfg))


def test_replay_equals_backtest_on_real_binance_candles(lab_root):
    cfg = make_project(lab_root, days=0.1, symbols=[])
    symbols = []
    for name in ("binance_ETH_BTC_5m.csv", "binance_ADA_BTC_5m.csv", "binance_LTC_BTC_5m.csv"):
        path = shared_candles_or_skip(name)
        symbol = name.split("_")[1] + "/BTC"
        store_candles(cfg, "binance", symbol, "5m", read_file(path), source="t", action="import")
        symbols.append(symbol)
    params = {"volume_min": 1.0, "stop_loss": 0.02, "take_profit": 0.04}
    bt = run_backtest(cfg, "ema_rsi_volume", symbols, exchange="binance", params=params, record=False)
    replay_engine(cfg, "ema_rsi_volume", symbols, exchange="binance", params=params).run()
    assert_same_trades(bt.trades, engine_trades(cfg))
