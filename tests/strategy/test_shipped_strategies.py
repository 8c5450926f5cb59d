"""Shipped strategies on hand-made frames where the right signals are known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lab.strategy.loader import load_strategy

ROOT = Path(__file__).resolve().parents[2]


def frame(close, volume=None):
    close = np.asarray(close, float)
    idx = pd.date_range("2024-01-01", periods=len(close), freq="5min", tz="UTC")
    vol = np.ones(len(close)) if volume is None else np.asarray(volume, float)
    return pd.DataFrame(
        {"open": close, "high": close * 1.001, "low": close * 0.999, "close": close, "volume": vol}, index=idx
    )


def test_ema_rsi_volume_enters_on_a_volume_backed_cross_only():
    # A steady fall, then a rise: the fast EMA crosses above the slow one exactly once, a few bars in.
    close = np.r_[np.linspace(110, 100, 80), np.linspace(100.2, 101, 5)]
    s = load_strategy("ema_rsi_volume", ROOT / "strategies").create({"fast": 3, "slow": 10, "rsi_max": 80.0})
    quiet = s.signals(frame(close, np.ones(85)))
    above = (quiet.info["ema_fast"] > quiet.info["ema_slow"]).to_numpy()
    cross = int(np.flatnonzero(above[1:] & ~above[:-1])[0]) + 1
    assert 80 < cross < 85 and above[cross:].all()
    assert quiet.entries.sum() == 0  # the cross on average volume is not enough
    volume = np.ones(85)
    volume[cross] = 2.0  # 2x the 20-bar average (≥ 1.2 required)
    sig = s.signals(frame(close, volume))
    assert sig.entries.sum() == 1 and sig.entries.iloc[cross]
    assert sig.stop_loss == 0.03 and sig.take_profit == 0.06


def test_bollinger_reversion_buys_the_crash_and_sells_the_recovery():
    close = np.r_[np.full(60, 100.0) + np.sin(np.arange(60)) * 0.2, [97.0, 96.5], np.full(10, 100.5)]
    s = load_strategy("bollinger_rsi_reversion", ROOT / "strategies").create()
    sig = s.signals(frame(close))
    assert sig.entries.iloc[60] and sig.entries.sum() <= 2
    assert sig.exits.iloc[62]


def test_donchian_breakout_enters_above_the_previous_high_with_atr_stop():
    close = np.r_[100 + np.sin(np.arange(100)) * 0.5, [103.0]]
    s = load_strategy("donchian_atr_breakout", ROOT / "strategies").create(
        {"entry_period": 48, "exit_period": 24}
    )
    sig = s.signals(frame(close))
    assert sig.entries.iloc[100] and sig.entries.iloc[:100].sum() == 0
    assert sig.trailing and 0 < sig.stop_loss.iloc[100] < 0.5
