"""Seeded synthetic candles: regime-switching trend and volatility, fat tails, intraday volume
seasonality and occasional gaps. Stored under exchange "synthetic" and labelled so in metadata."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lab.core.timeframes import bars_per_day, timeframe_delta

SYNTHETIC_EXCHANGE = "synthetic"
_START_PRICES = {"BTC": 42_000.0, "ETH": 2_300.0, "SOL": 95.0, "ADA": 0.55, "XRP": 0.6, "LTC": 70.0}


@dataclass(frozen=True)
class Regime:
    name: str
    daily_drift: float  # expected log return per day
    daily_vol: float  # standard deviation of log returns per day


# Calm and volatile markets, trending both ways; each lasts a random number of days (mean ~1.5).
REGIMES = (
    Regime("calm", 0.000, 0.015),
    Regime("bull", 0.030, 0.030),
    Regime("bear", -0.030, 0.035),
    Regime("volatile", 0.000, 0.070),
)


def _rng(seed: int, symbol: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(symbol.encode())])


def _regime_path(rng: np.random.Generator, n: int, per_day: float) -> np.ndarray:
    """Regime id per bar: geometric run lengths, next regime drawn uniformly among the others."""
    out = np.empty(n, dtype=np.int64)
    pos, current = 0, int(rng.integers(len(REGIMES)))
    while pos < n:
        length = int(rng.geometric(1.0 / (1.5 * per_day)))
        out[pos : pos + length] = current
        pos += length
        current = int((current + rng.integers(1, len(REGIMES))) % len(REGIMES))
    return out


def generate(
    symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp, seed: int, gap_rate: float = 0.0005
) -> pd.DataFrame:
    """Synthetic OHLCV candles in [start, end) for one symbol; deterministic for (seed, symbol)."""
    rng = _rng(seed, symbol)
    index = pd.date_range(
        start, end, freq=timeframe_delta(timeframe), inclusive="left", tz="UTC", name="timestamp"
    )
    n, per_day = len(index), bars_per_day(timeframe)
    regime = _regime_path(rng, n, per_day)
    drift = np.array([r.daily_drift for r in REGIMES])[regime] / per_day
    vol = np.array([r.daily_vol for r in REGIMES])[regime] / np.sqrt(per_day)
    # Student-t (4 d.o.f.) scaled to unit variance: fat tails like real crypto returns.
    shocks = rng.standard_t(4, n) / np.sqrt(2.0)
    log_ret = drift + vol * shocks
    base = symbol.split("/")[0]
    close = _START_PRICES.get(base, 100.0) * np.exp(np.cumsum(log_ret))
    open_ = np.empty(n)
    open_[0] = close[0] / np.exp(log_ret[0])
    open_[1:] = close[:-1] * np.exp(rng.normal(0, vol[1:] * 0.05))  # tiny open gaps
    wick = np.abs(rng.normal(0, vol * 0.6, (2, n)))
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    hours = index.hour.to_numpy() + index.minute.to_numpy() / 60
    # Volume peaks in the US/EU overlap (~15:00 UTC) and rises with the size of the move.
    seasonality = 1.0 + 0.6 * np.cos(2 * np.pi * (hours - 15) / 24)
    activity = 1.0 + 3.0 * np.abs(log_ret) / vol
    volume = 50.0 * seasonality * activity * rng.lognormal(0, 0.35, n)
    frame = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )
    # Occasional outages: short runs of missing candles, as real exchanges have.
    starts = np.flatnonzero(rng.random(n) < gap_rate / 3)
    drop = (
        np.unique(np.concatenate([s + np.arange(int(rng.integers(1, 6))) for s in starts]))
        if len(starts)
        else []
    )
    drop = [i for i in drop if 0 < i < n - 1]
    return frame.drop(index[drop])
