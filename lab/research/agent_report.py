"""The agent analysis of one vote record (a backtest's or an engine book's): the leaderboard with its
intervals and flags, the vote rows behind it, the tables the notebook, the CLI and the agents view
show, the verdict and the headline for the report index."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from lab.core.config import LabConfig
from lab.research.agent_records import Scope, agent_performance, resolve_scope, save_snapshot
from lab.research.agent_stats import FLAG_TEST, ic_over_time
from lab.store.db import readonly_engine, session_scope

LEADERBOARD_COLUMNS = [
    "agent",
    "votes",
    "abstention_rate",
    "hit_rate",
    "hit_low",
    "hit_high",
    "ic",
    "ic_low",
    "ic_high",
    "p_adjusted",
    "flagged",
]


@dataclass
class AgentReport:
    config: LabConfig
    scope: Scope
    table: pd.DataFrame
    votes: pd.DataFrame

    def leaderboard(self) -> pd.DataFrame:
        if self.table.empty:
            return pd.DataFrame(columns=LEADERBOARD_COLUMNS)
        return self.table[LEADERBOARD_COLUMNS]

    def flags(self) -> pd.DataFrame:
        """Each agent's flag decision with the evidence behind it."""
        rows = [
            {
                "agent": r["agent"],
                "flagged": r["flagged"],
                "n": r["evidence"]["n"],
                "reason": r["evidence"]["reason"],
            }
            for r in self.table.to_dict("records")
        ]
        return pd.DataFrame(rows, columns=["agent", "flagged", "n", "reason"])

    def trades_table(self) -> pd.DataFrame:
        cols = ["agent", "trades_for", "mean_trade_for", "trades_against", "mean_trade_against"]
        return (
            self.table[[c for c in cols if c in self.table]]
            if not self.table.empty
            else pd.DataFrame(columns=cols)
        )

    def ic_over_time(self) -> pd.DataFrame:
        return ic_over_time(self.votes)

    @property
    def decisions(self) -> int:
        return int(self.votes["decision_id"].nunique()) if len(self.votes) else 0

    def verdict(self) -> str:
        a = self.config.agents
        if self.table.empty:
            return f"No vote records in {self.scope.label}: nothing to judge."
        flagged = self.table[self.table["flagged"]]["agent"].tolist()
        tested = int(self.table["p_value"].notna().sum())
        best = self.table.dropna(subset=["ic"]).sort_values("ic", ascending=False).head(1)
        top = (
            f"Highest IC: {best['agent'].iloc[0]} ({best['ic'].iloc[0]:+.3f}, 95% CI {best['ic_low'].iloc[0]:+.3f} "
            f"to {best['ic_high'].iloc[0]:+.3f})."
            if len(best)
            else ""
        )
        head = (
            f"{self.decisions:,} decisions of {self.scope.strategy} in {self.scope.label}; {tested} agents tested "
            f"({FLAG_TEST}; {a.correction}, alpha {a.alpha}, min IC {a.min_ic}, at least {a.min_votes} votes)."
        )
        if flagged:
            return f"{head} Flagged as not earning their place: {', '.join(flagged)}. {top}"
        return f"{head} No agent is flagged: none shows an IC significantly below {a.min_ic} on this evidence. {top}"

    def headline(self) -> dict[str, Any]:
        return {
            "kind": "agent analysis",
            "strategy": self.scope.strategy,
            "scope": self.scope.label,
            "metrics": {
                "decisions": self.decisions,
                "agents": len(self.table),
                "flagged": int(self.table["flagged"].sum()) if len(self.table) else 0,
                "best_ic": float(self.table["ic"].max()) if len(self.table) else None,
            },
            "experiment_id": self.scope.experiment_id,
        }

    def save_snapshot(self, day: str | None = None) -> int:
        """Today's agent_performance rows (a rerun the same day replaces them). With [agents]
        auto_disable, a new flag queues agent_disable for the engine, a lifted one agent_enable, each
        with the flag's evidence as the reason."""
        from lab.store import commands

        with session_scope(self.config) as s:
            n = save_snapshot(s, self.scope.strategy, self.table, day)
        if self.config.agents.auto_disable:
            for row in self.table.to_dict("records"):
                was = bool(row["evidence"].get("previously_flagged"))
                if row["flagged"] != was:
                    commands.enqueue(
                        self.config,
                        "agent_disable" if row["flagged"] else "agent_enable",
                        source="flag",
                        agent=row["agent"],
                        reason=row["evidence"]["reason"],
                    )
        return n


def build_report(
    config: LabConfig,
    closes: dict[str, pd.Series],
    step: pd.Timedelta,
    strategy: str = "ensemble",
    experiment_id: int | None = None,
    book: str | None = None,
    since: datetime | None = None,
) -> AgentReport:
    """The report of a scope (a given backtest or book, else the default: see resolve_scope), read
    through a read-only connection."""
    engine = readonly_engine(config.db_url)
    with engine.connect() as conn:
        scope = resolve_scope(conn, strategy, experiment_id, book)
        table, votes = agent_performance(conn, config.agents, scope, closes, step, since)
    return AgentReport(config, scope, table, votes)
