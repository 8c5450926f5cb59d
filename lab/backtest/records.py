"""Experiment records: every backtest writes what ran, on what, with which code, and its trades."""

from __future__ import annotations

from typing import Any

import numpy as np

from lab.backtest.run import BacktestResult, library_versions
from lab.core.config import LabConfig
from lab.store.db import session_scope
from lab.store.models import BacktestTrade, Experiment
from lab.store.trades import row_values


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
        for t in result.trades.to_dict("records"):
            exp.trades.append(BacktestTrade(**row_values(t)))
        session.add(exp)
        session.flush()
        return exp.id
