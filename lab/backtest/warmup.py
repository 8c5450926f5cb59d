"""Compile vectorbt's and the lab's numba functions into the on-disk cache (once per install)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd


def warm() -> float:
    """Run a tiny multi-symbol backtest and a tiny sweep through every compiled path; returns seconds."""
    from lab.backtest.run import extract_trades
    from lab.backtest.simulate import ExecutionModel, simulate, simulate_columns
    from lab.core.contract import TRADE_COLUMNS, Signals
    from lab.market.grid import prepare_candles
    from lab.market.sample import generate

    started = time.perf_counter()
    start = pd.Timestamp("2024-01-01", tz="UTC")
    raw = {s: generate(s, "5m", start, start + pd.Timedelta(days=2), seed=1) for s in ("BTC/USD", "ETH/USD")}
    candles = prepare_candles(raw, "5m")
    signals = {}
    for symbol, frame in candles.items():
        up = frame["close"] > frame["close"].rolling(12).mean()
        signals[symbol] = Signals(
            entries=up & ~up.shift(1, fill_value=False), exits=~up, stop_loss=0.02, take_profit=0.04
        )
    # max_open = 2 with two symbols: the cached path (the limited one cannot be cached, see simulate.py)
    model = ExecutionModel({s: 0.004 for s in candles}, 0.0005, 10_000.0, 0.25, 2)
    pf = simulate(candles, signals, model, "5min")
    assert list(extract_trades(pf, candles, signals, model).columns) == TRADE_COLUMNS
    pf.value()
    # Kelly sizing passes a per-bar size array: another compiled specialization
    size = np.full((len(frame_index := candles["BTC/USD"].index), len(candles)), 0.05)
    assert len(frame_index) == len(size)
    simulate(candles, signals, model, "5min", size=size).value()
    frame = candles["BTC/USD"]
    entries = signals["BTC/USD"].entries.to_numpy()[:, None].repeat(2, axis=1)
    pfc = simulate_columns(
        frame, entries, ~entries, [[0.02, 0.03]], [[0.04, 0.05]], True, model, 0.004, "5min"
    )
    pfc.value()
    pfc.trades.records_arr  # noqa: B018
    return time.perf_counter() - started
