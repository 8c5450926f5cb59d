"""Indicator helpers over OHLCV frames. Every number comes from TA-Lib; these only adapt types."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import talib

_CACHE: ContextVar[dict[tuple, Any] | None] = ContextVar("indicator_cache", default=None)
F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def indicator_cache() -> Iterator[None]:
    """Within this block, an indicator computed on the same data with the same arguments is computed
    once: a sweep of 1,000 combinations typically needs only a few dozen distinct EMAs."""
    token = _CACHE.set({})
    try:
        yield
    finally:
        _CACHE.reset(token)


def _data_key(obj: Any) -> tuple:
    # The same data is the same memory: a cache lives only within one block over unchanged frames.
    arrays = [obj[c].to_numpy() for c in obj.columns] if isinstance(obj, pd.DataFrame) else [obj.to_numpy()]
    return (
        len(obj),
        obj.index[0] if len(obj) else None,
        obj.index[-1] if len(obj) else None,
        tuple(a.__array_interface__["data"][0] for a in arrays),
    )


def _cached(func: F) -> F:
    @functools.wraps(func)
    def wrapper(data: Any, *args: Any, **kwargs: Any) -> Any:
        cache = _CACHE.get()
        if cache is None:
            return func(data, *args, **kwargs)
        key = (func.__name__, _data_key(data), args, tuple(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = func(data, *args, **kwargs)
        return cache[key]

    return wrapper  # type: ignore[return-value]


def _arr(series: pd.Series) -> np.ndarray:
    return series.to_numpy(dtype="float64")


def _series(values: np.ndarray, like: pd.Series | pd.DataFrame, name: str) -> pd.Series:
    return pd.Series(values, index=like.index, name=name, copy=False)  # TA-Lib's fresh array: no copy


@_cached
def ema(close: pd.Series, period: int) -> pd.Series:
    return _series(talib.EMA(_arr(close), timeperiod=period), close, f"ema_{period}")


@_cached
def sma(series: pd.Series, period: int) -> pd.Series:
    return _series(talib.SMA(_arr(series), timeperiod=period), series, f"sma_{period}")


@_cached
def rsi(close: pd.Series, period: int = 14) -> pd.Series:
    return _series(talib.RSI(_arr(close), timeperiod=period), close, f"rsi_{period}")


@_cached
def bollinger(close: pd.Series, period: int = 20, width: float = 2.0) -> pd.DataFrame:
    upper, middle, lower = talib.BBANDS(_arr(close), timeperiod=period, nbdevup=width, nbdevdn=width)
    return pd.DataFrame({"bb_upper": upper, "bb_middle": middle, "bb_lower": lower}, index=close.index)


@_cached
def macd(close: pd.Series, fast: int = 12, slow: int = 26, signal: int = 9) -> pd.DataFrame:
    line, sig, hist = talib.MACD(_arr(close), fastperiod=fast, slowperiod=slow, signalperiod=signal)
    return pd.DataFrame({"macd": line, "macd_signal": sig, "macd_hist": hist}, index=close.index)


@_cached
def atr(candles: pd.DataFrame, period: int = 14) -> pd.Series:
    values = talib.ATR(_arr(candles["high"]), _arr(candles["low"]), _arr(candles["close"]), timeperiod=period)
    return _series(values, candles, f"atr_{period}")


@_cached
def donchian(candles: pd.DataFrame, period: int = 20) -> pd.DataFrame:
    """Highest high / lowest low of the previous `period` bars (excluding the current bar)."""
    upper = talib.MAX(_arr(candles["high"]), timeperiod=period)
    lower = talib.MIN(_arr(candles["low"]), timeperiod=period)
    frame = pd.DataFrame({"dc_upper": upper, "dc_lower": lower}, index=candles.index)
    return frame.shift(1)


@_cached
def volume_ratio(volume: pd.Series, period: int = 20) -> pd.Series:
    """Volume relative to its simple moving average over `period` bars (1.0 = average)."""
    avg = talib.SMA(_arr(volume), timeperiod=period)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _series(_arr(volume) / avg, volume, f"volume_ratio_{period}")


def _crossed(a: pd.Series, b: pd.Series, above: bool) -> pd.Series:
    x, y = (_arr(a), _arr(b)) if above else (_arr(b), _arr(a))
    before = np.zeros(len(x), dtype=bool)
    before[1:] = x[:-1] <= y[:-1]
    return pd.Series((x > y) & before, index=a.index, copy=False)


def crossed_above(a: pd.Series, b: pd.Series) -> pd.Series:
    """True on the bar where a moves from <= b to > b (False where either side is NaN)."""
    return _crossed(a, b, above=True)


def crossed_below(a: pd.Series, b: pd.Series) -> pd.Series:
    """True on the bar where a moves from >= b to < b (False where either side is NaN)."""
    return _crossed(a, b, above=False)
