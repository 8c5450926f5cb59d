"""Checking what a strategy returns, and the look-ahead check (signals must not change when the
future is cut off)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lab.core.contract import Signals, Strategy
from lab.core.errors import StrategyError


def _check_bool_series(name: str, values: object, index: pd.Index, where: str) -> pd.Series:
    if not isinstance(values, pd.Series):
        raise StrategyError(f"{where}: {name} must be a pandas Series, got {type(values).__name__}")
    if len(values) != len(index) or not values.index.equals(index):
        raise StrategyError(
            f"{where}: {name} has {len(values)} rows on a different index; expected {len(index)} "
            f"rows aligned to the candles"
        )
    if values.dtype != bool and values.isna().any():  # a bool column cannot hold NaN
        first = values.index[values.isna().to_numpy()][0]
        raise StrategyError(f"{where}: {name} has {int(values.isna().sum())} NaN value(s), first at {first}")
    if values.dtype != bool:
        raise StrategyError(f"{where}: {name} must be boolean, got dtype {values.dtype}")
    return values


def _check_fraction(name: str, values: pd.Series | float | None, index: pd.Index, where: str) -> None:
    if values is None:
        return
    arr = np.asarray(values.reindex(index) if isinstance(values, pd.Series) else [values], dtype=float)
    finite = arr[np.isfinite(arr)]
    if (finite <= 0).any() or (finite >= 1).any():
        raise StrategyError(f"{where}: {name} must be a fraction of the entry price in (0, 1)")


# How long strategy code may run before the watchdog stops it (seconds): loading the file, and one
# signals() call. Tests lower them.
IMPORT_TIMEOUT_S = 60.0
SIGNALS_TIMEOUT_S = 300.0


class StrategyTimeout(StrategyError):
    pass


@contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    """Abort the block after `seconds` with a StrategyTimeout naming `what` (SIGALRM: on the main
    thread of a POSIX process; elsewhere the block runs unguarded)."""
    if (
        seconds <= 0
        or threading.current_thread() is not threading.main_thread()
        or not hasattr(signal, "setitimer")
    ):
        yield
        return

    def expired(_signum: int, _frame: object) -> None:
        raise StrategyTimeout(f"{what}: still running after {seconds:g} s; stopped (an endless loop?)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def compute_signals(strategy: Strategy, candles: pd.DataFrame, where: str) -> Signals:
    """Run strategy.signals and check its output; every problem is a StrategyError naming `where`.
    SystemExit and KeyboardInterrupt raised by strategy code are its failure, not the lab's exit."""
    try:
        with time_limit(SIGNALS_TIMEOUT_S, f"{where}: signals()"):
            out = strategy.signals(candles)
    except StrategyTimeout:
        raise
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        raise StrategyError(f"{where}: signals() raised {type(exc).__name__}: {exc}") from None
    if not isinstance(out, Signals):
        raise StrategyError(
            f"{where}: signals() must return lab.core.contract.Signals, got {type(out).__name__}"
        )
    _check_bool_series("entries", out.entries, candles.index, where)
    _check_bool_series("exits", out.exits, candles.index, where)
    _check_fraction("stop_loss", out.stop_loss, candles.index, where)
    _check_fraction("take_profit", out.take_profit, candles.index, where)
    return out


@dataclass(frozen=True)
class LookaheadResult:
    ok: bool
    checked_cuts: int
    first_difference: pd.Timestamp | None = None
    detail: str = ""


def lookahead_check(strategy: Strategy, candles: pd.DataFrame, where: str, cuts: int = 12) -> LookaheadResult:
    """Recompute signals on data truncated at `cuts` points; any past signal that changes means the
    strategy used bars it could not have seen."""
    full = compute_signals(strategy, candles, where)
    n, warm = len(candles), min(strategy.warmup(), len(candles) // 2)
    points = np.unique(np.linspace(warm + 1, n - 1, cuts).astype(int))
    for cut in points:
        part = compute_signals(strategy, candles.iloc[:cut], where)
        for name in ("entries", "exits"):
            a = getattr(full, name).iloc[warm:cut].to_numpy()
            b = getattr(part, name).iloc[warm:cut].to_numpy()
            diff = np.flatnonzero(a != b)
            if len(diff):
                ts = candles.index[warm + diff[0]]
                return LookaheadResult(
                    False,
                    len(points),
                    ts,
                    f"{where}: look-ahead: {name} at {ts} is {bool(a[diff[0]])} with the full "
                    f"data but {bool(b[diff[0]])} when data ends at {candles.index[cut - 1]}",
                )
    return LookaheadResult(True, len(points))


_CHECKED: dict[tuple[str, str], LookaheadResult] = {}
LOOKAHEAD_BARS = 3000  # the look-ahead gate runs on (at most) this many recent bars


def require_no_lookahead(strategy: Strategy, code_hash: str, candles: pd.DataFrame, where: str) -> None:
    """The gate every backtest, sweep, notebook and engine passes on load: refuse a strategy whose past
    signals change when later bars are removed. Cached per code hash and parameters (it costs once
    per process)."""
    panel = getattr(strategy, "panel", None)
    if panel is not None:  # a voting strategy: each of its agents passes the same gate first
        panel.require_no_lookahead(candles)
    key = (code_hash, strategy.params.model_dump_json())
    result = _CHECKED.get(key)
    if result is None:
        frame = candles.dropna(subset=["close"]).tail(LOOKAHEAD_BARS)
        if len(frame) < 20:
            return  # too little data to judge; the next run with more data checks it
        result = _CHECKED[key] = lookahead_check(strategy, frame, where)
    if not result.ok:
        raise StrategyError(f"refused: {result.detail} (signals must use only bars up to their own)")
