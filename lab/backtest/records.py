"""Experiment records: every backtest writes what ran, on what, with which code, and its trades."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lab.backtest.run import BacktestResult, library_versions
from lab.backtest.votes import decision_rows, entry_regimes
from lab.core.config import LabConfig
from lab.core.timeframes import timeframe_ms
from lab.store.db import session_scope
from lab.store.models import BacktestTrade, Experiment
from lab.store.trades import row_values
from lab.store.votes import insert_decisions
from lab.strategy.regime import regimes_for


def _json_safe(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in metrics.items()}


def save_experiment(
    config: LabConfig,
    result: BacktestResult,
    kind: str = "backtest",
    n_trials: int = 1,
    extra_metrics: dict[str, Any] | None = None,
) -> int:
    """Insert the experiment, its trades (with the regime at entry) and, for a voting strategy, its
    decisions with every agent's vote; returns the experiment id."""
    index = result.equity.index
    regimes = regimes_for(result.candles)
    step = pd.Timedelta(timeframe_ms(result.timeframe), "ms")
    trade_rows = result.trades.to_dict("records")
    for row, regime in zip(trade_rows, entry_regimes(result.trades, regimes, step), strict=True):
        row["regime"] = regime
    panel = getattr(result.strategy.cls, "panel", None)
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
        for t in trade_rows:
            exp.trades.append(BacktestTrade(**row_values(t), regime=t["regime"]))
        session.add(exp)
        session.flush()
        if panel is not None:
            rows = decision_rows(result.signals, regimes, set(panel.enabled))
            insert_decisions(session, rows, strategy=result.strategy.name, experiment_id=exp.id)
        return exp.id
