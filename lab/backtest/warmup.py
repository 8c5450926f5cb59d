"""Compile vectorbt's numba functions into the on-disk cache (run once per install)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd


def warm() -> float:
    """Run a tiny backtest through every code path the lab uses; returns seconds spent."""
    import vectorbt as vbt

    started = time.perf_counter()
    idx = pd.date_range("2024-01-01", periods=64, freq="5min", tz="UTC")
    close = pd.Series(np.linspace(100, 110, 64), index=idx)
    entries = pd.Series(np.arange(64) % 8 == 0, index=idx)
    exits = pd.Series(np.arange(64) % 8 == 4, index=idx)
    pf = vbt.Portfolio.from_signals(
        close,
        entries,
        exits,
        price=close,
        open=close,
        high=close,
        low=close,
        fees=0.001,
        slippage=0.001,
        sl_stop=0.05,
        tp_stop=0.1,
        freq="5min",
    )
    pf.trades.records_readable  # noqa: B018  (forces trade records to compile)
    return time.perf_counter() - started
