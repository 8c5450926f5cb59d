"""Portfolio simulation on vectorbt: next-bar-open fills, per-pair taker fees, slippage, stops,
shared cash across symbols and a max-open-positions limit.

Execution model (the live engine's paper broker follows the same rules):
- A signal decided on bar t's close fills at bar t+1's open, adjusted by slippage (buy higher, sell lower).
- Entries spend `position_fraction` of the cash available at that moment, fees included
  (size = fraction·cash / (1 + fee) / fill price). Exits sell the whole position.
- Stop-loss / take-profit / trailing stop are fractions of the entry fill price, checked from the bar
  after the entry on its open/high/low; a bar opening beyond the stop exits at the open, otherwise at
  the stop price, each less slippage. When both could fire in one bar the stop-loss wins (conservative).
- Within a bar, symbols are handled in a fixed order: a firing stop exits; otherwise the signal is
  read. An entry is allowed while fewer than `max_open` positions are held, counting exits and entries
  already decided in this bar. Orders then execute in the same symbol order.
- An entry and an exit signal on the same bar cancel out.
- Missing candles are filled as flat bars at the previous close with zero volume (as freqtrade does),
  before signals are computed, so backtest and engine see the same bars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import njit

from lab.core.contract import Signals
from lab.core.kelly import KellyRule

NO_LIMIT = 1_000_000


@njit(cache=True)
def _signal_func_nb(c, entries, exits, held, max_open):  # type: ignore[no-untyped-def]
    is_entry = entries[c.i, c.col]
    is_exit = exits[c.i, c.col]
    if c.position_now > 0:
        held[c.col] = not is_exit
        return False, is_exit, False, False
    held[c.col] = False
    if is_entry:
        if held.sum() >= max_open:
            return False, False, False, False
        held[c.col] = True
    return is_entry, False, False, False


@njit(cache=True)
def _adjust_sl_nb(c, held, open_, low):  # type: ignore[no-untyped-def]
    # Called before vectorbt checks the stop on this bar: mirror its test so a firing stop frees the
    # slot for symbols handled after this one in the same bar (see the module docstring).
    if c.position_now > 0 and not np.isnan(c.curr_stop):
        level = c.curr_price * (1 - c.curr_stop)
        if open_[c.i, c.col] <= level or low[c.i, c.col] <= level:
            held[c.col] = False
    return c.curr_stop, c.curr_trail


@njit(cache=True)
def _adjust_tp_nb(c, held, open_, high):  # type: ignore[no-untyped-def]
    if c.position_now > 0 and not np.isnan(c.curr_stop):
        level = c.init_price * (1 + c.curr_stop)
        if open_[c.i, c.col] >= level or high[c.i, c.col] >= level:
            held[c.col] = False
    return c.curr_stop


@dataclass(frozen=True)
class ExecutionModel:
    fees: dict[str, float]  # taker fee per symbol
    slippage: float
    init_cash: float
    position_fraction: float
    max_open: int = NO_LIMIT
    kelly: KellyRule | None = (
        None  # size entries by Kelly (lab.backtest.kelly_sizing) instead of the fraction
    )


def next_bar(values: np.ndarray, fill: object) -> np.ndarray:
    """Values moved one bar later (a signal on bar t's close acts on bar t+1)."""
    out = np.empty_like(values)
    out[0] = fill
    out[1:] = values[:-1]
    return out


def execution_signals(
    entries: np.ndarray, exits: np.ndarray, tradable: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Entries and exits on the bar they execute on. An entry and an exit on the same bar cancel out
    (vectorbt's "ignore" conflict rule), resolved here so both simulation paths, sweeps and the live
    engine see the same signals."""
    e = next_bar(np.asarray(entries, dtype=bool), False) & tradable
    x = next_bar(np.asarray(exits, dtype=bool), False) & tradable
    both = e & x
    return e & ~both, x & ~both


def execution_level(value: pd.Series | float | None) -> np.ndarray:
    """A stop or target fraction on execution bars: a per-bar series moved one bar later, a constant
    (or None: NaN, no level) as a one-element array that broadcasts."""
    if isinstance(value, pd.Series):
        return next_bar(value.to_numpy(dtype=float), np.nan)
    return np.full(1, np.nan if value is None else float(value))


def stack_columns(columns: list[np.ndarray]) -> np.ndarray:
    """Columns side by side; constant columns (length 1) stay one row unless another column varies."""
    n = max(len(c) for c in columns)
    return np.column_stack([np.broadcast_to(c, n) if len(c) != n else c for c in columns])


def execution_arrays(candles: dict[str, pd.DataFrame], signals: dict[str, Signals]) -> dict[str, np.ndarray]:
    """Signals moved to the bar they execute on (the next bar of the same symbol), as (bars, symbols)
    arrays aligned on the shared grid. A constant stop or target stays a (1, symbols) row, which
    vectorbt broadcasts, instead of a million copies."""
    symbols = list(candles)
    n = len(candles[symbols[0]])
    entries = np.zeros((n, len(symbols)), dtype=bool)
    exits = np.zeros((n, len(symbols)), dtype=bool)
    levels: dict[str, list[np.ndarray]] = {"sl": [], "tp": []}
    for j, sym in enumerate(symbols):
        sig = signals[sym]
        entries[:, j], exits[:, j] = execution_signals(
            sig.entries.to_numpy(), sig.exits.to_numpy(), ~np.isnan(candles[sym]["open"].to_numpy())
        )
        levels["sl"].append(execution_level(sig.stop_loss))
        levels["tp"].append(execution_level(sig.take_profit))
    return {"entries": entries, "exits": exits} | {k: stack_columns(c) for k, c in levels.items()}


def order_bound(entries: np.ndarray) -> int:
    """Most orders a simulation can produce (vectorbt's max_orders, a total over columns): a buy per
    entry signal and at most one sell per buy, as positions never accumulate. vectorbt otherwise
    reserves a record per bar and column (72 MB per million bars, 720 MB per 100-column sweep chunk of
    100,000 bars) and frees it again; a simulation that needed more would stop with an IndexError."""
    return int(2 * np.count_nonzero(entries)) + 1


def price_matrix(candles: dict[str, pd.DataFrame], field: str) -> np.ndarray:
    """One price field as a (bars, symbols) array; a single symbol's column is a view, not a copy."""
    columns = [candles[s][field].to_numpy(dtype=np.float64) for s in candles]
    return columns[0][:, None] if len(columns) == 1 else np.column_stack(columns)


def level_at(levels: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Stop or target levels at (bar, symbol) pairs of an execution_arrays entry, constant rows included."""
    return levels[rows if levels.shape[0] > 1 else 0, cols]


def simulate(
    candles: dict[str, pd.DataFrame],
    signals: dict[str, Signals],
    model: ExecutionModel,
    freq: str,
    arrays: dict[str, np.ndarray] | None = None,
    size: np.ndarray | None = None,
) -> object:
    """One portfolio over all symbols with shared cash; candles must share one (gap-filled) index.
    `arrays` are this run's execution_arrays when the caller already has them; `size` a (bars,
    symbols) share of free cash per entry bar instead of the model's constant fraction."""
    import vectorbt as vbt

    symbols = list(candles)
    # vectorbt turns a tz-aware index into an array of Timestamp objects on every result it wraps
    # (~1.8 s per million bars each time); a naive index holding UTC times avoids it. Results are read
    # back as arrays (lab.backtest.kernels) and put on the candles' UTC index.
    naive = candles[symbols[0]].index.tz_convert("UTC").tz_localize(None)
    open_, high, low, close = (price_matrix(candles, f) for f in ("open", "high", "low", "close"))
    # Only close carries the index: vectorbt builds its wrapper from it, and plain arrays for the rest
    # skip its pandas alignment (which copied every input, ~0.1 s per million bars).
    close_frame = pd.DataFrame(close, index=naive, columns=symbols, copy=False)
    if np.isnan(close).any():  # before a symbol lists; gaps are already filled
        close_frame = close_frame.ffill()
    arrs = arrays if arrays is not None else execution_arrays(candles, signals)
    trailing = np.array([signals[s].trailing for s in symbols])
    if model.max_open >= len(symbols):
        # The limit cannot bind: use vectorbt's plain signal path, which numba caches on disk. The
        # callback path below is recompiled (~10 s) in every new process, because numba cannot cache
        # functions that take other compiled functions as arguments.
        signal_kwargs: dict = {"entries": arrs["entries"], "exits": arrs["exits"]}
    else:
        held = np.zeros(len(symbols), dtype=np.bool_)
        signal_kwargs = {
            "signal_func_nb": _signal_func_nb,
            "signal_args": (arrs["entries"], arrs["exits"], held, model.max_open),
            "adjust_sl_func_nb": _adjust_sl_nb,
            "adjust_sl_args": (held, open_, low),
            "adjust_tp_func_nb": _adjust_tp_nb,
            "adjust_tp_args": (held, open_, high),
        }
    return vbt.Portfolio.from_signals(
        close=close_frame,
        **signal_kwargs,
        price=open_,
        open=open_,
        high=high,
        low=low,
        size=model.position_fraction if size is None else size,
        size_type="percent",
        direction="longonly",
        fees=np.array([model.fees[s] for s in symbols])[None, :],
        slippage=model.slippage,
        sl_stop=arrs["sl"],
        sl_trail=trailing[None, :],
        tp_stop=arrs["tp"],
        stop_entry_price="fillprice",
        stop_exit_price="stopmarket",
        init_cash=model.init_cash,
        cash_sharing=True,
        group_by=True,
        freq=freq,
        max_orders=order_bound(arrs["entries"]),
    )


def simulate_columns(
    candles: pd.DataFrame,
    entries: np.ndarray,
    exits: np.ndarray,
    sl: np.ndarray,
    tp: np.ndarray,
    trailing: bool,
    model: ExecutionModel,
    fee: float,
    freq: str,
) -> object:
    """Many independent portfolios (one per column, e.g. a sweep) on one symbol; arrays are already
    shifted to execution bars."""
    import vectorbt as vbt

    def col(name: str) -> np.ndarray:  # one column, broadcast by vectorbt across the sweep's columns
        return candles[name].to_numpy()[:, None]

    return vbt.Portfolio.from_signals(
        close=candles["close"].ffill().to_numpy()[:, None],
        entries=entries,
        exits=exits,
        price=col("open"),
        open=col("open"),
        high=col("high"),
        low=col("low"),
        size=model.position_fraction,
        size_type="percent",
        direction="longonly",
        fees=fee,
        slippage=model.slippage,
        sl_stop=sl,
        sl_trail=trailing,
        tp_stop=tp,
        stop_entry_price="fillprice",
        stop_exit_price="stopmarket",
        init_cash=model.init_cash,
        freq=freq,
        max_orders=order_bound(entries),
    )
