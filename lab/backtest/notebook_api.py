"""What notebooks/backtest.ipynb calls: validated parameters, then one call per report section."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lab.backtest.run import BacktestResult, execution_model, run_backtest
from lab.backtest.sweep import SweepResult, WalkForwardResult, sweep, walk_forward
from lab.core.config import LabConfig, load_config
from lab.core.errors import LabError
from lab.market.repository import load_many
from lab.strategy.loader import load_strategy

P = TypeVar("P", bound=BaseModel)


class BacktestNotebookParams(BaseModel):
    """The backtest notebook's parameters (papermill passes them as JSON literals)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str = "ema_rsi_volume"
    exchange: str = "synthetic"
    symbols: list[str] = Field(default_factory=lambda: ["BTC/USD", "ETH/USD", "SOL/USD"], min_length=1)
    start: str | None = None
    end: str | None = None
    taker_fee: float | None = Field(None, ge=0, lt=0.1)
    slippage: float | None = Field(None, ge=0, lt=0.1)
    sweep: bool = True
    sweep_limit: int = Field(60, ge=1, le=5000)
    walk_forward_splits: int = Field(3, ge=0, le=20)


def validate_parameters(**values: Any) -> BacktestNotebookParams:
    """Check the parameters cell; a bad value stops the notebook with a message naming it."""
    return validated(BacktestNotebookParams, values)


def validated(model: type[P], values: dict[str, Any]) -> P:
    """A notebook's parameters as its pydantic model, or a LabError naming each bad value."""
    try:
        return model(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))} = {e.get('input')!r}: {e['msg']}" for e in exc.errors()
        )
        raise LabError(f"invalid notebook parameters: {problems}") from None


def _config(params: Any) -> LabConfig:
    """The project's config with the notebook's fee and slippage overrides (when given)."""
    cfg = load_config()
    fees = cfg.fees.model_copy(
        update={
            k: v for k, v in (("taker", params.taker_fee), ("slippage", params.slippage)) if v is not None
        }
    )
    if params.taker_fee is not None:
        fees = fees.model_copy(update={"pairs": {}})  # the notebook's fee applies to every pair
    return cfg.model_copy(update={"fees": fees})


@dataclass
class BacktestReport:
    params: BacktestNotebookParams
    result: BacktestResult
    sweep: SweepResult | None
    walk_forward: WalkForwardResult | None

    def metrics_table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"metric": list(self.result.metrics), "value": list(self.result.metrics.values())}
        )


def run_report(params: BacktestNotebookParams) -> BacktestReport:
    """Backtest (recorded), then optionally a sweep and walk-forward on the first symbol."""
    cfg = _config(params)
    result = run_backtest(
        cfg, params.strategy, params.symbols, exchange=params.exchange, start=params.start, end=params.end
    )
    sw = wf = None
    if params.sweep or params.walk_forward_splits:
        loaded = load_strategy(params.strategy, cfg.strategies_dir)
        symbol = params.symbols[0]
        candles = load_many(cfg, params.exchange, [symbol], loaded.cls.timeframe, params.start, params.end)[
            symbol
        ]
        model = execution_model(cfg, [symbol])
        grid = loaded.cls.Params.grid(limit=params.sweep_limit)
        if params.sweep:
            sw = sweep(loaded, candles, model, symbol, grid, cfg.backtest.annualization_days)
        if params.walk_forward_splits:
            days = (candles.index[-1] - candles.index[0]).days
            oos = max(1, days // (params.walk_forward_splits + 2))
            wf = walk_forward(
                loaded,
                candles,
                model,
                symbol,
                params.walk_forward_splits,
                in_sample_days=2 * oos,
                out_sample_days=oos,
                grid=grid[: min(len(grid), 20)],
            )
    return BacktestReport(params, result, sw, wf)
