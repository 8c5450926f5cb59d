"""Parameter sweeps (every combination as a column of one vectorbt run, in chunks with a progress bar),
walk-forward analysis, and the deflated Sharpe ratio of a sweep's winner."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from lab.backtest.kernels import exit_trades, portfolio_value
from lab.backtest.run import backtest
from lab.backtest.simulate import (
    ExecutionModel,
    execution_level,
    execution_signals,
    simulate_columns,
    stack_columns,
)
from lab.core import metrics as m
from lab.core.contract import StrategyParams
from lab.core.sharpe import deflated_sharpe
from lab.core.timeframes import bars_per_day, pandas_freq
from lab.market.grid import prepare_candles
from lab.strategy.checks import compute_signals, require_no_lookahead
from lab.strategy.indicators import indicator_cache
from lab.strategy.loader import LoadedStrategy

CHUNK = 100  # columns per vectorbt call: bounds memory (bars x chunk floats) and drives the progress bar


@dataclass
class SweepResult:
    table: pd.DataFrame  # one row per combination: parameters + metrics, best first
    best: StrategyParams
    deflated_sharpe: float
    n_trials: int
    best_daily_returns: pd.Series


def _column_metrics(pf: Any, index: pd.DatetimeIndex, days_per_year: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The sweep's ranking metrics for every column at once; same definitions as lab.core.metrics
    (daily Sharpe from day-end equity, drawdown from the running peak, closed trades only)."""
    values = portfolio_value(pf)
    daily_eq = np.vstack([values[:1], values[m.day_ends(index)]])
    daily = daily_eq[1:] / daily_eq[:-1] - 1
    std = daily.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = np.where(std > 0, daily.mean(axis=0) / std * np.sqrt(days_per_year), np.nan)
    peak = np.maximum.accumulate(values, axis=0)
    rec = exit_trades(pf)
    closed = rec[rec["status"] == 1]
    n_cols = values.shape[1]
    n_trades = np.bincount(closed["col"], minlength=n_cols)
    wins = np.bincount(closed["col"], weights=(closed["pnl"] > 0).astype(float), minlength=n_cols)
    fees = np.bincount(rec["col"], weights=rec["entry_fees"] + rec["exit_fees"], minlength=n_cols)
    with np.errstate(divide="ignore", invalid="ignore"):
        table = pd.DataFrame(
            {
                "total_return": values[-1] / values[0] - 1,
                "sharpe_daily": sharpe,
                "max_drawdown": (values / peak - 1).min(axis=0),
                "trades": n_trades.astype(float),
                "win_rate": np.where(n_trades > 0, wins / n_trades, np.nan),
                "fees_paid": fees,
            }
        )
    return table, daily


def _execution_columns(strategy: Any, frame: pd.DataFrame, where: str) -> tuple[np.ndarray, ...]:
    """One combination's signals moved to their execution bars, as numpy columns (the lean path of
    execution_arrays for a single gap-filled symbol)."""
    sig = compute_signals(strategy, frame, where)
    entries, exits = execution_signals(
        sig.entries.to_numpy(), sig.exits.to_numpy(), frame["open"].notna().to_numpy()
    )
    return (
        entries,
        exits,
        execution_level(sig.stop_loss),
        execution_level(sig.take_profit),
        sig.trailing,
    )


def _sweep_chunk(
    strategy_path: str,
    strategies_dir: str,
    params: list[dict[str, Any]],
    frame: pd.DataFrame,
    model: ExecutionModel,
    symbol: str,
    days_per_year: int,
    agents: Any = None,
    agents_store: Any = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Backtest one chunk of combinations as columns of one vectorbt run (runs in a worker process)."""
    from pathlib import Path

    from lab.strategy.loader import load_strategy

    loaded = load_strategy(strategy_path, Path(strategies_dir), agents, agents_store)
    where = f"{loaded.path.name} on {symbol}"
    with indicator_cache():
        cols = [_execution_columns(loaded.cls(p), frame, where) for p in params]
    stack = [stack_columns([c[k] for c in cols]) for k in range(4)]
    pf = simulate_columns(
        frame, *stack, cols[0][4], model, model.fees[symbol], pandas_freq(loaded.cls.timeframe)
    )
    return _column_metrics(pf, frame.index, days_per_year)


def _run_chunks(
    chunks: list[list[dict[str, Any]]], args: tuple, n_jobs: int | None
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Each chunk's result, in order. Big sweeps use worker processes: forked where the platform
    can (a fork inherits the imported libraries; a fresh worker pays ~4-5 s to import vectorbt,
    which on 2 cores cost a quarter of a 1,000-combination sweep), else joblib's loky workers."""
    workers = min(n_jobs or os.cpu_count() or 1, len(chunks))
    calls = [(args[0], args[1], c, *args[2:]) for c in chunks]
    if len(chunks) <= 2 or workers <= 1:
        yield from (_sweep_chunk(*call) for call in calls)
    elif "fork" in multiprocessing.get_all_start_methods():
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            yield from pool.map(_sweep_chunk, *zip(*calls, strict=True))
    else:
        yield from Parallel(n_jobs=workers, return_as="generator")(delayed(_sweep_chunk)(*c) for c in calls)


def sweep(
    loaded: LoadedStrategy,
    raw_candles: pd.DataFrame,
    model: ExecutionModel,
    symbol: str,
    grid: list[StrategyParams] | None = None,
    days_per_year: int = 365,
    progress: bool = True,
    n_trials_before: int = 0,
    n_jobs: int | None = None,
) -> SweepResult:
    """Backtest every parameter combination on one symbol; rank by daily Sharpe; deflate the winner's
    Sharpe by the number of trials (this sweep's plus `n_trials_before`). Chunks of combinations run in
    parallel worker processes when there are several (n_jobs: default all cores)."""
    frame = prepare_candles({symbol: raw_candles}, loaded.cls.timeframe)[symbol]
    grid = grid if grid is not None else loaded.cls.Params.grid()
    if grid:  # the look-ahead gate, on the defaults and on the first combination swept
        for params in {loaded.cls.Params(), grid[0]}:
            require_no_lookahead(
                loaded.cls(params), loaded.code_hash, frame, f"{loaded.path.name} on {symbol}"
            )
    if not grid:
        raise ValueError(f"{loaded.path.name}: the parameter grid is empty")
    chunks = [[p.model_dump() for p in grid[i : i + CHUNK]] for i in range(0, len(grid), CHUNK)]
    panel = getattr(loaded.cls, "panel", None)  # a voting strategy's workers bind the same agents
    args = (
        str(loaded.path),
        str(loaded.path.parent.parent),
        frame,
        model,
        symbol,
        days_per_year,
        getattr(panel, "config", None),
        getattr(panel, "store", None),
    )
    bar = tqdm(
        total=len(grid), desc=f"sweep {loaded.name} {symbol}", unit=" combos", disable=not progress or None
    )
    results = []
    for out, chunk in zip(_run_chunks(chunks, args, n_jobs), chunks, strict=True):
        results.append(out)
        bar.update(len(chunk))
    bar.close()
    table = pd.concat([r[0] for r in results], ignore_index=True)
    daily = np.column_stack([r[1] for r in results])
    table = pd.concat([pd.DataFrame([p.model_dump() for p in grid]), table], axis=1)
    best_i = int(np.nanargmax(table["sharpe_daily"].to_numpy())) if table["sharpe_daily"].notna().any() else 0
    per_period = table["sharpe_daily"].to_numpy() / np.sqrt(days_per_year)
    n_trials = len(grid) + n_trials_before
    dsr = deflated_sharpe(daily[:, best_i], n_trials, per_period)
    ranked = table.sort_values("sharpe_daily", ascending=False, na_position="last")
    return SweepResult(ranked, grid[best_i], dsr, n_trials, pd.Series(daily[:, best_i]))


@dataclass
class WalkForwardResult:
    table: pd.DataFrame  # one row per split
    oos_equity: pd.Series  # out-of-sample equity, chained across splits


def walk_forward(
    loaded: LoadedStrategy,
    raw_candles: pd.DataFrame,
    model: ExecutionModel,
    symbol: str,
    splits: int = 4,
    in_sample_days: float = 14,
    out_sample_days: float = 7,
    grid: list[StrategyParams] | None = None,
    days_per_year: int = 365,
) -> WalkForwardResult:
    """Rolling splits: choose parameters by Sharpe in-sample, then score them out-of-sample. The
    out-of-sample run sees the in-sample bars only as indicator warm-up; it trades only after them."""
    per_day = bars_per_day(loaded.cls.timeframe)
    is_bars, oos_bars = int(in_sample_days * per_day), int(out_sample_days * per_day)
    n = len(raw_candles)
    needed = is_bars + oos_bars
    if n < needed:
        raise ValueError(
            f"walk-forward needs at least {needed} bars ({in_sample_days}+{out_sample_days} days), got {n}"
        )
    splits = max(1, min(splits, (n - is_bars) // oos_bars))
    rows, equity_parts, capital = [], [], model.init_cash
    first = n - is_bars - splits * oos_bars
    for k in range(splits):
        a = first + k * oos_bars
        ins, oos_end = raw_candles.iloc[a : a + is_bars], a + is_bars + oos_bars
        sw = sweep(loaded, ins, model, symbol, grid, days_per_year, progress=False)
        span = raw_candles.iloc[a:oos_end]
        oos_model = replace(model, init_cash=capital)  # chain capital across splits
        res = backtest(
            loaded, sw.best, {symbol: span}, oos_model, days_per_year=days_per_year, trade_after=ins.index[-1]
        )
        eq = res.equity
        equity_parts.append(eq)
        capital = float(eq.iloc[-1])
        rows.append(
            {
                "split": k + 1,
                "in_sample": f"{ins.index[0]:%Y-%m-%d} → {ins.index[-1]:%Y-%m-%d}",
                "out_of_sample": f"{eq.index[0]:%Y-%m-%d} → {eq.index[-1]:%Y-%m-%d}",
                "params": sw.best.model_dump(),
                "is_sharpe": float(sw.table["sharpe_daily"].iloc[0]),
                "oos_sharpe": m.sharpe_ratio(m.daily_returns(eq), days_per_year),
                "oos_return": m.total_return(eq),
                "oos_trades": len(res.trades),
            }
        )
    return WalkForwardResult(pd.DataFrame(rows), pd.concat(equity_parts))
