"""Experiment records: every backtest writes what ran, on what, with which code, and its trades."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lab.backtest.run import BacktestResult, library_versions
from lab.core.config import LabConfig
from lab.store.db import session_scope
from lab.store.models import BacktestTrade, Experiment


def _json_safe(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in metrics.items()}


def save_experiment(
    config: LabConfig,
    result: BacktestResult,
    kind: str = "backtest",
    n_trials: int = 1,
    extra_metrics: dict[str, Any] | None = None,
) -> int:
    """Insert the experiment and its trades; returns the experiment id."""
    index = result.equity.index
    with session_scope(config) as session:
        exp = Experiment(
            kind=kind,
            strategy=result.strategy.name,
            strategy_version=result.strategy.version,
            parent_version=result.strategy.parent_version,
            code_hash=result.strategy.code_hash,
            data_hash=result.data_hash,
            parameters=result.params.model_dump(),
            exchange=result.exchange,
            symbols=result.symbols,
            timeframe=result.timeframe,
            period_start=index[0].to_pydatetime(),
            period_end=index[-1].to_pydatetime(),
            library_versions=library_versions(),
            metrics=_json_safe(result.metrics | (extra_metrics or {})),
            trades_hash=result.trades_hash,
            n_trials=n_trials,
        )
        for t in result.trades.itertuples(index=False):
            exp.trades.append(
                BacktestTrade(
                    symbol=t.symbol,
                    entry_time=t.entry_time.to_pydatetime(),
                    exit_time=None if pd.isna(t.exit_time) else t.exit_time.to_pydatetime(),
                    size=t.size,
                    entry_price=t.entry_price,
                    exit_price=None if pd.isna(t.exit_price) else t.exit_price,
                    entry_fees=t.entry_fees,
                    exit_fees=t.exit_fees,
                    pnl=t.pnl,
                    return_pct=t.return_pct,
                    status=t.status,
                    exit_reason=t.exit_reason,
                )
            )
        session.add(exp)
        session.flush()
        return exp.id
