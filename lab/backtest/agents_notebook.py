"""What notebooks/agent_analysis.ipynb (and `lab agents report --backtest`) run on the backtest side: a
recorded backtest of a voting strategy (its decisions and every agent's vote go to the DB), each
agent's contribution by leave-one-out (the same backtest without it: its weight set to 0, on the same
candles, the cached votes re-blended), the ML agent's walk-forward accuracy against the base rate and
the RL agent's learning curve. The statistics of the vote record are lab.research.agent_report's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from lab.backtest.notebook_api import RunParams, _config, validated
from lab.backtest.run import BacktestResult, backtest, execution_model, run_backtest
from lab.core.config import LabConfig
from lab.core.errors import LabError
from lab.core.timeframes import timeframe_ms


class AgentNotebookParams(RunParams):
    """The agent analysis notebook's parameters."""

    strategy: str = "ensemble"
    min_votes: int = Field(30, ge=4, le=1_000_000)  # fewer votes with an outcome: never flagged
    leave_one_out: bool = True


def validate_parameters(**values: Any) -> AgentNotebookParams:
    return validated(AgentNotebookParams, values)


@dataclass
class AgentRun:
    params: AgentNotebookParams
    config: LabConfig
    result: BacktestResult
    loo: pd.DataFrame
    ml: pd.DataFrame = field(default_factory=pd.DataFrame)  # accuracy vs base rate per symbol
    ml_fits: pd.DataFrame = field(default_factory=pd.DataFrame)
    rl_curve: pd.DataFrame = field(default_factory=pd.DataFrame)  # block start, mean training reward
    rl_reward: pd.DataFrame = field(default_factory=pd.DataFrame)  # cumulative out-of-sample reward
    rl_trades: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def experiment_id(self) -> int:
        return int(self.result.extra["experiment_id"])

    @property
    def closes(self) -> dict[str, pd.Series]:
        return {s: f["close"] for s, f in self.result.candles.items()}

    @property
    def step(self) -> pd.Timedelta:
        return pd.Timedelta(timeframe_ms(self.result.timeframe), "ms")


def run(params: AgentNotebookParams) -> AgentRun:
    cfg = _config(params)
    cfg = cfg.model_copy(update={"agents": cfg.agents.model_copy(update={"min_votes": params.min_votes})})
    result = run_backtest(
        cfg, params.strategy, params.symbols, exchange=params.exchange, start=params.start, end=params.end
    )
    panel = getattr(result.strategy.cls, "panel", None)
    if panel is None:
        raise LabError(f"{params.strategy} is not a voting strategy: it has no agents to analyse")
    out = AgentRun(
        params, cfg, result, leave_one_out(cfg, result) if params.leave_one_out else pd.DataFrame()
    )
    _learning_agents(out)
    return out


def leave_one_out(cfg: LabConfig, base: BacktestResult) -> pd.DataFrame:
    """Per enabled agent: the backtest without it (weight 0) on the same candles, and what removing it
    changes (a positive contribution: the ensemble did better with the agent)."""
    panel = base.strategy.cls.panel
    model = execution_model(cfg, base.symbols)
    weights = dict(base.params.weights) if hasattr(base.params, "weights") else {}
    rows = []
    for name in sorted(panel.enabled):
        params = base.params.model_copy(update={"weights": tuple(sorted((weights | {name: 0.0}).items()))})
        without = backtest(
            base.strategy,
            params,
            base.candles,
            model,
            exchange=base.exchange,
            days_per_year=cfg.backtest.annualization_days,
        )
        m, w = base.metrics, without.metrics
        rows.append(
            {
                "agent": name,
                "return_with": m["total_return"],
                "return_without": w["total_return"],
                "contribution_return": m["total_return"] - w["total_return"],
                "sharpe_with": m["sharpe_daily"],
                "sharpe_without": w["sharpe_daily"],
                "contribution_sharpe": _diff(m["sharpe_daily"], w["sharpe_daily"]),
                "trades_with": int(m["trades"]),
                "trades_without": int(w["trades"]),
            }
        )
    return pd.DataFrame(rows).sort_values("contribution_return", ascending=False, ignore_index=True)


def _diff(a: float, b: float) -> float:
    return float(a - b) if np.isfinite(a) and np.isfinite(b) else float("nan")


def _learning_agents(run: AgentRun) -> None:
    """The ML agent's out-of-sample accuracy against the base rate, its fits; the RL agent's curves."""
    from scipy import stats

    ml_rows, fit_rows, curve_rows, trade_rows, rewards = [], [], [], [], {}
    for symbol, sig in run.result.signals.items():
        votes = sig.votes or {}
        ml = votes.get("ml")
        if ml is not None and "horizon_bars" in ml.diagnostics:
            h = int(ml.diagnostics["horizon_bars"])
            close = run.result.candles[symbol]["close"].to_numpy(dtype=float)
            up = np.r_[close[h:] > close[:-h], np.zeros(min(h, len(close)), bool)][: len(close)]
            known = np.r_[np.ones(max(0, len(close) - h), bool), np.zeros(min(h, len(close)), bool)]
            v = ml.vote.to_numpy(dtype=float)
            called = np.isfinite(v) & (v != 0) & known
            n = int(called.sum())
            right = int(((v[called] > 0) == up[called]).sum())
            base = float(up[called].mean()) if n else float("nan")
            ci = stats.binomtest(right, n).proportion_ci(method="wilson") if n else None
            ml_rows.append(
                {
                    "symbol": symbol,
                    "horizon_bars": h,
                    "predictions": n,
                    "accuracy": right / n if n else float("nan"),
                    "accuracy_low": ci.low if ci else float("nan"),
                    "accuracy_high": ci.high if ci else float("nan"),
                    "base_rate": max(base, 1 - base) if n else float("nan"),
                    "p_vs_base": float(
                        stats.binomtest(right, n, max(base, 1 - base), alternative="greater").pvalue
                    )
                    if n
                    else float("nan"),
                }
            )
            fit_rows += [f | {"symbol": symbol} for f in ml.diagnostics.get("fits", [])]
        rl = votes.get("rl")
        if rl is not None and "reward" in rl.diagnostics:
            d = rl.diagnostics
            curve_rows += [
                {"symbol": symbol, "block": pd.Timestamp(t), "mean_reward": r} for t, r in d["learning_curve"]
            ]
            rewards[symbol] = d["reward"].cumsum()
            trade_rows.append(
                {
                    "symbol": symbol,
                    "trades": d["trades"],
                    "wins": d["wins"],
                    "win_rate": d["wins"] / d["trades"] if d["trades"] else float("nan"),
                    "reward": float(d["reward"].sum()),
                }
            )
    run.ml, run.ml_fits = pd.DataFrame(ml_rows), pd.DataFrame(fit_rows)
    run.rl_curve, run.rl_trades = pd.DataFrame(curve_rows), pd.DataFrame(trade_rows)
    run.rl_reward = pd.DataFrame(rewards)
