"""Feeds of closed bars behind one protocol: replay over stored candles, and ccxt polling (live)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Protocol

import pandas as pd

from lab.core.clock import Clock, SystemClock
from lab.trading.types import Bar, Step


class Feed(Protocol):
    symbols: list[str]

    def steps(self, after: pd.Timestamp | None) -> Iterator[Step]:
        """Closed bars, one step per timestamp, strictly after `after` (resume point)."""
        ...


class ReplayFeed:
    """Stored candles, gap-filled on one grid exactly as the backtester sees them; `pace` seconds
    between steps (0: as fast as possible)."""

    def __init__(
        self, candles: dict[str, pd.DataFrame], pace: float = 0.0, clock: Clock | None = None
    ) -> None:
        self.candles = candles
        self.symbols = list(candles)
        self.pace = pace
        self.clock = clock or SystemClock()

    def steps(self, after: pd.Timestamp | None = None) -> Iterator[Step]:
        index = self.candles[self.symbols[0]].index
        start = 0 if after is None else int(index.searchsorted(after, side="right"))
        cols = {s: f[["open", "high", "low", "close", "volume"]].to_numpy() for s, f in self.candles.items()}
        for i in range(start, len(index)):
            bars: dict[str, Bar | None] = {}
            for s in self.symbols:
                o, h, lo, c, v = cols[s][i]
                bars[s] = None if math.isnan(o) else Bar(float(o), float(h), float(lo), float(c), float(v))
            yield Step(index[i], bars)
            if self.pace:
                self.clock.sleep(self.pace)


def bar_from_row(row: Any) -> Bar:
    """A bar from a ccxt OHLCV row [ms, o, h, l, c, v]; values are not trusted (Bar.problem checks them)."""

    def num(x: Any) -> float:
        try:
            return float(x)
        except (TypeError, ValueError):
            return math.nan

    return Bar(num(row[1]), num(row[2]), num(row[3]), num(row[4]), num(row[5]))
