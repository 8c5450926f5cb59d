"""Checking what a strategy returns, and the look-ahead check (signals must not change when the
future is cut off)."""

from __future__ import annotations

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


def compute_signals(strategy: Strategy, candles: pd.DataFrame, where: str) -> Signals:
    """Run strategy.signals and check its output; every problem is a StrategyError naming `where`."""
    try:
        out = strategy.signals(candles)
    except Exception as exc:
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
