"""Kelly sizing in the backtest, vectorized: the strategy's signal record from vectorbt, then the
sizing decision of every entry signal at once (the engine takes the same decisions one at a time, in
lab.trading.sizing, from the same lab.core.kelly function).

The signal record is the trades the signals alone make, per symbol, with no cash or slot limit (a
vectorbt run with unlimited positions and a tiny fraction: returns per unit allocated do not depend
on the size). An entry executing on bar i is sized from the record's trades that exited on bars
before i, so a trade closing on the entry's bar or later can never change it (a test perturbs them).
Skipped entries are dropped from the signals before the real simulation, so they never take a slot.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from lab.backtest.kernels import exit_trades
from lab.backtest.simulate import NO_LIMIT, ExecutionModel, simulate
from lab.core.contract import Signals
from lab.core.kelly import KellyRule, cumulative_sums, is_skip, kelly_sizing, trade_return

SIZING_COLUMNS = ["time", "symbol", "method", "fraction", "skipped", "reason"]


@dataclass(frozen=True)
class KellyPlan:
    size: np.ndarray  # (bars, symbols) share of free cash per execution bar
    entries: np.ndarray  # execution-bar entries, skipped ones removed
    decisions: pd.DataFrame  # one row per entry signal (filter with `flat_at_entry` after simulating)
    record: pd.DataFrame  # the signal record: symbol, entry/exit bar index, return


def signal_record(
    candles: dict[str, pd.DataFrame],
    signals: dict[str, Signals],
    model: ExecutionModel,
    freq: str,
    arrays: dict[str, np.ndarray],
) -> pd.DataFrame:
    """Closed trades of the signals alone, ordered as the engine adds them (exit bar, then symbol)."""
    symbols = list(candles)
    reference = replace(model, position_fraction=0.01, max_open=NO_LIMIT, kelly=None)
    rec = exit_trades(simulate(candles, signals, reference, freq, arrays=arrays))
    rec = rec[rec["status"] == 1]
    fees = np.array([model.fees[s] for s in symbols])[rec["col"]]
    frame = pd.DataFrame(
        {
            "col": rec["col"],
            "symbol": np.array(symbols, dtype=object)[rec["col"]],
            "entry_idx": rec["entry_idx"],
            "exit_idx": rec["exit_idx"],
            "return": trade_return(rec["entry_price"], rec["exit_price"], fees),
        }
    )
    return frame.sort_values(["exit_idx", "col"], kind="stable", ignore_index=True)


def plan(
    candles: dict[str, pd.DataFrame],
    signals: dict[str, Signals],
    model: ExecutionModel,
    rule: KellyRule,
    freq: str,
    arrays: dict[str, np.ndarray],
) -> KellyPlan:
    symbols = list(candles)
    index = candles[symbols[0]].index
    record = signal_record(candles, signals, model, freq, arrays)
    sums = cumulative_sums(record["return"].to_numpy())
    entries = arrays["entries"].copy()
    rows, cols = np.nonzero(entries)
    # trades known before the entry's bar: exit_idx < row
    k = np.searchsorted(record["exit_idx"].to_numpy(), rows, side="left")
    out = kelly_sizing(
        *(sums[name][k] for name in ("n", "wins", "sum_win", "sum_win2", "sum_loss", "sum_loss2")), rule
    )
    skipped = np.array([is_skip(r) for r in out["reason"]], dtype=bool)
    entries[rows[skipped], cols[skipped]] = False
    size = np.zeros(entries.shape, dtype=np.float64)
    size[rows, cols] = out["fraction"]
    decisions = pd.DataFrame(
        {
            "time": index[rows],
            "symbol": np.array(symbols, dtype=object)[cols],
            "method": "kelly",
            "fraction": out["fraction"],
            "skipped": skipped,
            "reason": out["reason"],
        }
        | {name: out[name] for name in out if name not in ("fraction", "reason")}
        | {"row": rows, "col": cols}
    )
    return KellyPlan(size, entries, decisions, record)


def flat_at_entry(decisions: pd.DataFrame, trades: np.ndarray) -> pd.DataFrame:
    """Only the decisions taken while the symbol was flat at the bar's start (the engine asks the sizer
    only then): a position entered before the bar and not exited before it is held."""
    held = np.zeros(len(decisions), dtype=bool)
    rows, cols = decisions["row"].to_numpy(), decisions["col"].to_numpy()
    for col in np.unique(cols):
        mine = trades[trades["col"] == col]
        order = np.argsort(mine["entry_idx"], kind="stable")
        start = mine["entry_idx"][order]
        end = np.where(mine["status"] == 1, mine["exit_idx"], np.iinfo(np.int64).max)[order]
        at = cols == col
        j = np.searchsorted(start, rows[at], side="left") - 1  # the last trade entered before the bar
        held[at] = (j >= 0) & (rows[at] <= end[np.maximum(j, 0)])
    return decisions.loc[~held].drop(columns=["row", "col"]).reset_index(drop=True)
