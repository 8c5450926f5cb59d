"""What notebooks/backtest.ipynb calls: validated parameters, then one call per report section."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lab.backtest.benchmark import buy_and_hold, buy_and_hold_metrics
from lab.backtest.run import BacktestResult, execution_model, run_backtest
from lab.backtest.sweep import SweepResult, WalkForwardResult, sweep, walk_forward
from lab.backtest.verdict import metrics_table, sharpe_evidence, trades_per_day, verdict
from lab.core.config import LabConfig, load_config
from lab.core.errors import LabError
from lab.market.repository import load_many
from lab.strategy.loader import load_configured

P = TypeVar("P", bound=BaseModel)


class RunParams(BaseModel):
    """What every research notebook runs on: a strategy, candles, and optional fee/slippage overrides
    (papermill passes them as JSON literals)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str = "ema_rsi_volume"
    exchange: str = "synthetic"
    symbols: list[str] = Field(default_factory=lambda: ["BTC/USD", "ETH/USD", "SOL/USD"], min_length=1)
    start: str | None = None
    end: str | None = None
    taker_fee: float | None = Field(None, ge=0, lt=0.1)
    slippage: float | None = Field(None, ge=0, lt=0.1)


class BacktestNotebookParams(RunParams):
    """The backtest notebook's parameters."""

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


def _config(params: RunParams) -> LabConfig:
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
    buy_and_hold: pd.Series | None = None
    bh_metrics: dict[str, float] | None = None

    @property
    def quote(self) -> str:
        quotes = {s.split("/")[-1] for s in self.result.symbols}
        return quotes.pop() if len(quotes) == 1 else ""

    def metrics_table(self) -> pd.DataFrame:
        """Formatted metrics: the strategy, buy-and-hold of the same symbols, and the difference."""
        r = self.result
        extra = {"trades_per_day": trades_per_day(r.trades, r.equity), "psr": sharpe_evidence(r.equity).psr}
        return metrics_table(r.metrics | extra, self.bh_metrics or {}, self.quote)

    def verdict(self) -> str:
        r = self.result
        days = (r.equity.index[-1] - r.equity.index[0]).total_seconds() / 86_400
        return verdict(
            r.metrics,
            self.bh_metrics or {},
            sharpe_evidence(r.equity),
            symbols=r.symbols,
            days=days,
            per_day=trades_per_day(r.trades, r.equity),
            deflated_sharpe=self.sweep.deflated_sharpe if self.sweep is not None else None,
            n_trials=self.sweep.n_trials if self.sweep is not None else None,
        )

    def headline(self) -> dict[str, Any]:
        """What the report index shows and compares for this run (numbers, not formatted text)."""
        r = self.result
        m = r.metrics
        out = {
            "kind": "backtest",
            "strategy": f"{r.strategy.name} {r.strategy.version}",
            "symbols": r.symbols,
            "quote": self.quote,
            "period": f"{r.equity.index[0]:%Y-%m-%d} to {r.equity.index[-1]:%Y-%m-%d}",
            "metrics": {
                k: m[k]
                for k in ("total_return", "sharpe_daily", "max_drawdown", "win_rate", "trades", "fees_paid")
            },
            "buy_and_hold_return": (self.bh_metrics or {}).get("total_return"),
            "experiment_id": r.extra.get("experiment_id"),
        }
        if self.sweep is not None:
            out["metrics"]["deflated_sharpe"] = self.sweep.deflated_sharpe
        return out

    def curves(self, points: int = 600) -> dict[str, pd.Series]:
        """The equity curve (and buy-and-hold), thinned, for the index's comparison view."""
        step = max(1, len(self.result.equity) // points)
        out = {"equity": self.result.equity.iloc[::step]}
        if self.buy_and_hold is not None:
            out["buy and hold"] = self.buy_and_hold.iloc[::step]
        return out


def run_report(params: BacktestNotebookParams) -> BacktestReport:
    """Backtest (recorded), then optionally a sweep and walk-forward on the first symbol."""
    cfg = _config(params)
    result = run_backtest(
        cfg, params.strategy, params.symbols, exchange=params.exchange, start=params.start, end=params.end
    )
    sw = wf = None
    if params.sweep or params.walk_forward_splits:
        loaded = load_configured(cfg, params.strategy)
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
    bh = buy_and_hold(result.candles, result.model)
    return BacktestReport(
        params, result, sw, wf, bh, buy_and_hold_metrics(bh, cfg.backtest.annualization_days)
    )
