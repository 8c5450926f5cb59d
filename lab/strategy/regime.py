"""The market regime per bar, from ADX (trend strength and direction), ATR as a share of price and
Bollinger band width (volatility against their own recent level): trend_up, trend_down, range or
high_vol ("unknown" while the indicators warm up). The regime agent votes from it, and the engine and
the backtester store it with every scan and trade, whatever the strategy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import talib

LABELS = ("trend_up", "trend_down", "range", "high_vol", "unknown")


def regime_frame(
    candles: pd.DataFrame,
    period: int = 14,
    trend_adx: float = 25.0,
    vol_lookback: int = 96,
    vol_ratio: float = 1.6,
) -> pd.DataFrame:
    """Per bar: adx, di_spread (+DI - -DI), atr_rel and bbw_rel (ATR% and band width over their rolling
    median of the last `vol_lookback` bars, this bar included: nothing later), and the label.
    high_vol takes precedence over a trend, a trend over range."""
    h = candles["high"].to_numpy(dtype=float)
    lo = candles["low"].to_numpy(dtype=float)
    c = candles["close"].to_numpy(dtype=float)
    adx = talib.ADX(h, lo, c, timeperiod=period)
    spread = talib.PLUS_DI(h, lo, c, timeperiod=period) - talib.MINUS_DI(h, lo, c, timeperiod=period)
    with np.errstate(divide="ignore", invalid="ignore"):
        atr_pct = talib.ATR(h, lo, c, timeperiod=period) / c
        upper, middle, lower = talib.BBANDS(c, timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
        bbw = (upper - lower) / middle
    frame = pd.DataFrame(
        {"adx": adx, "di_spread": spread, "atr_pct": atr_pct, "bbw": bbw}, index=candles.index
    )
    minp = max(10, vol_lookback // 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["atr_rel"] = (
            frame["atr_pct"] / frame["atr_pct"].rolling(vol_lookback, min_periods=minp).median()
        )
        frame["bbw_rel"] = frame["bbw"] / frame["bbw"].rolling(vol_lookback, min_periods=minp).median()
    high_vol = (frame["atr_rel"] > vol_ratio) | (frame["bbw_rel"] > vol_ratio)
    trend = frame["adx"] > trend_adx
    label = np.select(
        [high_vol.to_numpy(), (trend & (frame["di_spread"] >= 0)).to_numpy(), trend.to_numpy()],
        ["high_vol", "trend_up", "trend_down"],
        "range",
    )
    unknown = frame[["adx", "atr_rel", "bbw_rel"]].isna().any(axis=1).to_numpy()
    frame["regime"] = np.where(unknown, "unknown", label)
    return frame


def regime_labels(candles: pd.DataFrame) -> pd.Series:
    """The label alone, with the default settings (what scans and trades store)."""
    if len(candles) == 0:
        return pd.Series([], index=candles.index, dtype=object, name="regime")
    return regime_frame(candles)["regime"].rename("regime")


def regimes_for(candles: dict[str, pd.DataFrame]) -> dict[str, pd.Series]:
    """The label per symbol on its listed rows (a symbol's rows before it listed have none)."""
    out = {}
    for symbol, frame in candles.items():
        listed = frame.dropna(subset=["close"])
        out[symbol] = regime_labels(listed).reindex(frame.index)
    return out
