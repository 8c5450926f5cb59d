"""Where the engine gets the strategy's signals for the last closed bar.

Rolling (live): the strategy's own vectorized signals() on the last `window_bars` candles, reading
the last row. Precomputed (fast replay): signals() once over the whole replay, read bar by bar; valid
because strategies pass the look-ahead check (past signals do not change when data is added). A test
checks both give the same trades.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import pandas as pd

from lab.core.contract import Signals, Strategy
from lab.strategy.checks import compute_signals
from lab.trading.types import Bar, Pending


class SignalSource(Protocol):
    def update(
        self, time: pd.Timestamp, bars: dict[str, Bar | None]
    ) -> dict[str, tuple[Pending, dict[str, Any]]]:
        """Feed one closed bar per symbol; returns per symbol the pending orders and indicator values."""
        ...


def _fraction(value: Any, i: int) -> float | None:
    if value is None:
        return None
    v = float(value.iloc[i]) if isinstance(value, pd.Series) else float(value)
    return None if np.isnan(v) else v


def pending_at(sig: Signals, i: int) -> Pending:
    entry, exit_ = bool(sig.entries.iloc[i]), bool(sig.exits.iloc[i])
    if entry and exit_:  # the same conflict rule as the backtest: both cancel
        entry = exit_ = False
    return Pending(entry, exit_, _fraction(sig.stop_loss, i), _fraction(sig.take_profit, i), sig.trailing)


def _indicators(sig: Signals, i: int) -> dict[str, Any]:
    if sig.info is None or not len(sig.info):
        return {}
    row = sig.info.iloc[i]
    return {
        k: (
            None
            if isinstance(v, float) and np.isnan(v)
            else (float(v) if isinstance(v, int | float | np.number) else str(v))
        )
        for k, v in row.items()
    }


class PrecomputedSignals:
    """Signals computed once over the replay (the backtester's own), read per bar from arrays."""

    def __init__(self, signals: dict[str, Signals]) -> None:
        self.position = {s: {t: i for i, t in enumerate(sig.entries.index)} for s, sig in signals.items()}
        self.pending = {
            s: [pending_at(sig, i) for i in range(len(sig.entries))] for s, sig in signals.items()
        }
        self.info = {}
        for s, sig in signals.items():
            info = (
                sig.info.reindex(sig.entries.index)
                if sig.info is not None
                else pd.DataFrame(index=sig.entries.index)
            )
            numeric = info.select_dtypes("number")
            self.info[s] = (list(numeric.columns), numeric.to_numpy(dtype=float))

    def update(
        self, time: pd.Timestamp, bars: dict[str, Bar | None]
    ) -> dict[str, tuple[Pending, dict[str, Any]]]:
        out = {}
        for symbol, bar in bars.items():
            i = self.position[symbol].get(time)
            if bar is None or i is None:
                continue
            names, values = self.info[symbol]
            row = values[i]
            out[symbol] = (
                self.pending[symbol][i],
                {n: (None if v != v else float(v)) for n, v in zip(names, row, strict=True)},
            )
        return out


class RollingSignals:
    """Keeps the last `window` candles per symbol and runs the strategy on them at every bar."""

    def __init__(
        self,
        strategy: Strategy,
        symbols: list[str],
        window: int,
        where: str,
        history: dict[str, pd.DataFrame] | None = None,
        history_until: Callable[[str, pd.Timestamp, int], pd.DataFrame] | None = None,
    ) -> None:
        """`history_until(symbol, t, n)`: the last n candles up to and including t, for resuming."""
        self.strategy, self.where, self.window = strategy, where, window
        self.history_until = history_until
        self.rows: dict[str, deque] = {s: deque(maxlen=window) for s in symbols}
        for symbol, frame in (history or {}).items():
            self._fill(symbol, frame)

    def _fill(self, symbol: str, frame: pd.DataFrame) -> None:
        rows = self.rows[symbol]
        rows.clear()
        frame = frame.dropna(subset=["open"]).tail(self.window)
        for t, o, h, lo, c, v in zip(
            frame.index,
            frame["open"],
            frame["high"],
            frame["low"],
            frame["close"],
            frame["volume"],
            strict=True,
        ):
            rows.append((t, float(o), float(h), float(lo), float(c), float(v)))

    def resume(self, last_bar: pd.Timestamp | None) -> None:
        """After a restart at `last_bar`: the window an uninterrupted run would hold there (its last
        `window` candles up to and including that bar). Without it the strategy would restart on an
        empty window, its indicators would warm up again and it would decide differently."""
        if last_bar is None or self.history_until is None:
            return
        for symbol in self.rows:
            self._fill(symbol, self.history_until(symbol, last_bar, self.window))

    def update(
        self, time: pd.Timestamp, bars: dict[str, Bar | None]
    ) -> dict[str, tuple[Pending, dict[str, Any]]]:
        out = {}
        for symbol, bar in bars.items():
            if bar is None:
                continue
            rows = self.rows[symbol]
            if rows and rows[-1][0] >= time:  # replayed after a restart: already seen
                continue
            rows.append((time, bar.open, bar.high, bar.low, bar.close, bar.volume))
            frame = pd.DataFrame(list(rows), columns=["timestamp", "open", "high", "low", "close", "volume"])
            frame = frame.set_index(pd.DatetimeIndex(frame.pop("timestamp"), name="timestamp"))
            sig = compute_signals(self.strategy, frame, f"{self.where} on {symbol}")
            out[symbol] = (pending_at(sig, -1), _indicators(sig, -1))
        return out
