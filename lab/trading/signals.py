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

from lab.core.agents import VoteArrays
from lab.core.contract import Signals, Strategy
from lab.strategy.checks import compute_signals
from lab.strategy.regime import regime_labels
from lab.trading.types import Bar, Pending, ScanUpdate


class SignalSource(Protocol):
    def update(self, time: pd.Timestamp, bars: dict[str, Bar | None]) -> dict[str, ScanUpdate]:
        """Feed one closed bar per symbol; returns per symbol the pending orders, indicator values,
        regime and (on a voting strategy's decision bars) its agents' votes."""
        ...


def _enabled(strategy: Any) -> set[str]:
    panel = getattr(strategy, "panel", None)
    return set(panel.enabled) if panel is not None else set()


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
    """Signals computed once over the replay (the backtester's own), read per bar from arrays. With
    `recompute` (how they were computed), refresh() recomputes them, e.g. after an agent was disabled:
    a voting strategy's votes are cached, so only the blend runs again."""

    def __init__(
        self,
        signals: dict[str, Signals],
        regimes: dict[str, pd.Series] | None = None,
        recompute: Callable[[], dict[str, Signals]] | None = None,
        strategy: Any = None,
    ) -> None:
        self.recompute, self.strategy = recompute, strategy
        self.all_scans = True  # False for a shadow book: indicator values only on the bars that can act
        self.holding: set[str] | dict = {}  # a shadow's open positions (its trader keeps this current)
        self.regimes = {
            s: r.reindex(sig.entries.index).to_numpy(dtype=object)
            for s, r in (regimes or {}).items()
            for sig in [signals[s]]
        }
        self._build(signals)

    def refresh(self) -> None:
        if self.recompute is not None:
            self._build(self.recompute())

    def _build(self, signals: dict[str, Signals]) -> None:
        self.votes = {s: VoteArrays(sig.votes) for s, sig in signals.items() if sig.votes}
        self.position = {s: {t: i for i, t in enumerate(sig.entries.index)} for s, sig in signals.items()}
        self.pending = {
            s: [pending_at(sig, i) for i in range(len(sig.entries))] for s, sig in signals.items()
        }
        self.loud = {  # bars on which some symbol's signals enter or exit (the others are quiet)
            sig.entries.index[i]
            for s, sig in signals.items()
            for i, p in enumerate(self.pending[s])
            if p.entry or p.exit
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

    def quiet(self, time: pd.Timestamp) -> dict[str, Pending] | None:
        """Each symbol's pending signal when none enters or exits at this bar (and every symbol has the
        bar); else None."""
        if time in self.loud:
            return None
        out = {}
        for symbol, where in self.position.items():
            i = where.get(time)
            if i is None:
                return None
            out[symbol] = self.pending[symbol][i]
        return out

    def update(self, time: pd.Timestamp, bars: dict[str, Bar | None]) -> dict[str, ScanUpdate]:
        out = {}
        enabled = _enabled(self.strategy)
        for symbol, bar in bars.items():
            i = self.position[symbol].get(time)
            if bar is None or i is None:
                continue
            names, values = self.info[symbol]
            row = values[i]
            pending = self.pending[symbol][i]
            votes = self.votes.get(symbol)
            regime = self.regimes.get(symbol)
            out[symbol] = ScanUpdate(
                pending,
                # a shadow writes only the scans that can act: the others need no indicator values
                {n: (None if v != v else float(v)) for n, v in zip(names, row, strict=True)}
                if self.all_scans
                or pending.entry
                or (pending.exit and (votes is not None or symbol in self.holding))
                else {},
                None if regime is None else regime[i],
                votes.at(i, enabled) if votes is not None and (pending.entry or pending.exit) else None,
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

    def update(self, time: pd.Timestamp, bars: dict[str, Bar | None]) -> dict[str, ScanUpdate]:
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
            frame.attrs["symbol"] = symbol
            sig = compute_signals(self.strategy, frame, f"{self.where} on {symbol}")
            pending = pending_at(sig, -1)
            votes = None
            if sig.votes and (pending.entry or pending.exit):
                votes = VoteArrays(sig.votes).at(-1, _enabled(self.strategy))
            out[symbol] = ScanUpdate(pending, _indicators(sig, -1), str(regime_labels(frame).iloc[-1]), votes)
        return out
