"""Tools the analysis step may call (ReAct): each takes JSON arguments and returns a JSON value; every
call, its arguments and its result go to the spool as the scratchpad. Tools only read, except
run_backtest, which records its experiment (so the deflated Sharpe's N counts what the model tried)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from lab.core.config import LabConfig
from lab.core.errors import LabError
from lab.research.modules import active_modules, run_module
from lab.research.readonly import snapshot
from lab.research.truth import truth_benchmarks
from lab.store import spool

MAX_RESULT_CHARS = 8000


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    run: Callable[[dict[str, Any]], Any]


class ToolRegistry:
    def __init__(
        self, config: LabConfig, db: Engine, items: list[dict[str, Any]], candles: Callable[[], dict]
    ) -> None:
        self.config, self.db, self.items, self._candles = config, db, items, candles
        self.tools = {
            t.name: t
            for t in (
                Tool("query_benchmarks", "truth benchmarks; arguments: {book?}", self._benchmarks),
                Tool(
                    "run_analysis_module",
                    "run an active analysis module now; arguments: {name}",
                    self._module,
                ),
                Tool(
                    "run_backtest",
                    "backtest a strategy on the recent candles (recorded as a trial); arguments: {strategy, params?}",
                    self._backtest,
                ),
                Tool("read_spool", "search earlier nights' thoughts; arguments: {text}", self._spool),
                Tool("agent_record", "an agent's newest leaderboard row; arguments: {agent}", self._agent),
            )
        }

    def names(self) -> list[str]:
        return list(self.tools)

    def call(self, name: str, arguments: dict[str, Any]) -> Any:
        tool = self.tools.get(name)
        if tool is None:
            raise LabError(f"no tool {name!r}; the tools are {', '.join(self.tools)}")
        return tool.run(arguments)

    def _benchmarks(self, args: dict[str, Any]) -> Any:
        rows = truth_benchmarks(self.db)["per_strategy"]
        book = args.get("book")
        return [r for r in rows if book in (None, r["book"])]

    def _module(self, args: dict[str, Any]) -> Any:
        info = next((i for i in active_modules(self.config) if i.name == args.get("name")), None)
        if info is None:
            raise LabError(f"no active analysis module {args.get('name')!r}")
        result = run_module(self.config, info, snapshot(self.config), store=False)
        return result.value if result.ok else {"error": result.reason}

    def _backtest(self, args: dict[str, Any]) -> Any:
        from lab.backtest.records import save_experiment
        from lab.backtest.run import backtest, execution_model
        from lab.strategy.loader import load_configured

        loaded = load_configured(self.config, str(args.get("strategy")))
        candles = self._candles()
        res = backtest(
            loaded,
            loaded.create(args.get("params") or {}).params,
            candles,
            execution_model(self.config, list(candles)),
        )
        save_experiment(self.config, res)
        keep = ("total_return", "sharpe_daily", "max_drawdown", "trades", "win_rate")
        return {k: res.metrics.get(k) for k in keep} | {"trades": len(res.trades)}

    def _spool(self, args: dict[str, Any]) -> Any:
        frame = spool.search(self.db, str(args.get("text", "")), limit=10)
        return frame[["cycle_id", "stage", "snippet"]].to_dict("records")

    def _agent(self, args: dict[str, Any]) -> Any:
        rows = next((i["value"] for i in self.items if i["name"] == "agent_leaderboard"), []) or []
        return [r for r in rows if r["agent"] == args.get("agent")]
