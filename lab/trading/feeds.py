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


class CcxtFeed:
    """Closed candles polled through ccxt REST. After a restart or an outage, missed bars are back-filled
    in order (the engine takes no action on them if they are stale). A step is emitted once every symbol
    has the bar, or once the bar is older than the stale threshold (missing symbols are None)."""

    def __init__(
        self,
        exchange: Any,
        symbols: list[str],
        timeframe: str,
        poll_seconds: float,
        stale_after: float,
        call: Any,
        clock: Clock | None = None,
        page_limit: int = 720,
        max_polls: int | None = None,
    ) -> None:
        from lab.core.timeframes import timeframe_ms

        self.exchange, self.symbols, self.timeframe = exchange, list(symbols), timeframe
        self.step_ms = timeframe_ms(timeframe)
        self.poll_seconds, self.stale_ms = poll_seconds, stale_after * self.step_ms
        self.call = call  # wraps exchange calls: retries, circuit breaker, fault injection
        self.clock = clock or SystemClock()
        self.page_limit, self.max_polls = page_limit, max_polls
        self.last_poll_ok = True

    def _now_ms(self) -> int:
        return int(pd.Timestamp(self.clock.now()).value // 1_000_000)

    def steps(self, after: pd.Timestamp | None) -> Iterator[Step]:
        now = self._now_ms()
        start = (
            int(after.value // 1_000_000) + self.step_ms
            if after is not None
            else now - now % self.step_ms - self.step_ms
        )
        cursor = dict.fromkeys(self.symbols, start)
        buffer: dict[int, dict[str, Bar]] = {}
        emitted = start - self.step_ms
        polls = 0
        while self.max_polls is None or polls < self.max_polls:
            polls += 1
            now = self._now_ms()
            self.last_poll_ok = True
            for symbol in self.symbols:
                try:
                    rows = self.call(
                        lambda s=symbol: self.exchange.fetch_ohlcv(
                            s, self.timeframe, since=cursor[s], limit=self.page_limit
                        )
                    )
                except Exception:  # counted by the breaker; the next poll tries again
                    self.last_poll_ok = False
                    continue
                for row in rows or []:
                    try:
                        ts = int(row[0])
                    except (TypeError, ValueError, IndexError):
                        continue
                    if ts >= cursor[symbol] and ts + self.step_ms <= now:  # closed candles only
                        buffer.setdefault(ts, {})[symbol] = bar_from_row(row)
                if buffer:
                    have = [t for t, bars in buffer.items() if symbol in bars]
                    if have:
                        cursor[symbol] = max(cursor[symbol], max(have) + self.step_ms)
            # A bar is complete when every symbol has it or has data past it (a real gap at the exchange);
            # a stale bar goes out incomplete only after a round in which every poll succeeded, so a
            # failed request never turns into a missing candle.
            ready = sorted(
                t
                for t, bars in buffer.items()
                if t > emitted
                and (
                    all(s in bars or cursor[s] > t for s in self.symbols)
                    or (self.last_poll_ok and now - t > self.stale_ms)
                )
            )
            for ts in ready:
                bars = buffer.pop(ts)
                emitted = ts
                yield Step(pd.Timestamp(ts, unit="ms", tz="UTC"), {s: bars.get(s) for s in self.symbols})
            if not ready:
                self.clock.sleep(self.poll_seconds)
