"""The common bar grid: every symbol reindexed to one regular timeline, missing candles filled as flat
bars. The backtester and the trading engine both see candles through this."""

from __future__ import annotations

import pandas as pd

from lab.core.timeframes import pandas_freq


def fill_gaps(candles: pd.DataFrame, timeframe: str, index: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    """Reindex to a regular grid; missing candles become flat bars at the previous close, volume 0.
    Rows before the first candle stay NaN (the symbol did not trade yet)."""
    grid = (
        index
        if index is not None
        else pd.date_range(
            candles.index[0], candles.index[-1], freq=pandas_freq(timeframe), name=candles.index.name
        )
    )
    if candles.index.equals(grid) and not (candles["open"].isna().any() or candles["close"].isna().any()):
        # Already complete: nothing to fill (copy-on-write keeps the caller's frame safe).
        return candles.copy(deep=False).rename_axis(grid.name)
    out = candles.reindex(grid)
    close = out["close"].ffill()
    missing = out["open"].isna() & close.notna()
    for col in ("open", "high", "low"):
        out.loc[missing, col] = close[missing]
    out["close"] = close
    out.loc[missing, "volume"] = 0.0
    return out


def prepare_candles(raw: dict[str, pd.DataFrame], timeframe: str) -> dict[str, pd.DataFrame]:
    """Gap-fill every symbol onto one regular grid spanning all of them."""
    start = min(f.index[0] for f in raw.values())
    end = max(f.index[-1] for f in raw.values())
    grid = pd.date_range(start, end, freq=pandas_freq(timeframe), name="timestamp")
    return {s: fill_gaps(f, timeframe, grid) for s, f in raw.items()}
