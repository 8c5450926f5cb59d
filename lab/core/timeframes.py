"""ccxt-style timeframes ('5m', '1h', '1d') as milliseconds and pandas offsets."""

from __future__ import annotations

import re

import pandas as pd

from lab.core.errors import ConfigError

_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_PANDAS_UNIT = {"m": "min", "h": "h", "d": "D", "w": "W"}
_PATTERN = re.compile(r"^(\d+)([mhdw])$")


def _parse(timeframe: str) -> tuple[int, str]:
    match = _PATTERN.match(timeframe)
    if not match or int(match.group(1)) == 0:
        raise ConfigError(
            f"timeframe {timeframe!r} is not valid: use a count and m/h/d/w, e.g. '5m', '1h', '1d'"
        )
    return int(match.group(1)), match.group(2)


def timeframe_ms(timeframe: str) -> int:
    """Length of one candle in milliseconds."""
    count, unit = _parse(timeframe)
    return count * _UNIT_MS[unit]


def timeframe_delta(timeframe: str) -> pd.Timedelta:
    """Length of one candle as a pandas Timedelta."""
    return pd.Timedelta(milliseconds=timeframe_ms(timeframe))


def pandas_freq(timeframe: str) -> str:
    """The pandas frequency string for a timeframe ('5m' -> '5min')."""
    count, unit = _parse(timeframe)
    return f"{count}{_PANDAS_UNIT[unit]}"


def bars_per_day(timeframe: str) -> float:
    """How many candles of this timeframe fit in a day."""
    return 86_400_000 / timeframe_ms(timeframe)
