"""Ensemble of signal agents: trades on the weighted blend of the agents' votes (lab.core.agents.blend).

Enter when the blended score reaches entry_threshold with at least min_voters agents voting; exit when
it falls to -exit_threshold. Which agents take part is lab.toml's [agents] enabled list (the engine can
disable one at run time through the command queue); weights default to 1 per agent.
"""

from typing import Any

import pandas as pd
from pydantic import Field, field_validator

from lab.core.agents import VotingStrategy
from lab.core.contract import Signals, StrategyParams, param


class Ensemble(VotingStrategy):
    name = "ensemble"
    version = "1.0.0"
    parent_version = None
    timeframe = "5m"

    class Params(StrategyParams):
        entry_threshold: float = param(0.4, 0.05, 0.9, 0.05, "blended score to enter")
        exit_threshold: float = param(0.3, 0.05, 0.9, 0.05, "exit when the score falls to minus this")
        min_voters: int = param(3, 1, 10, 1, "agents that must vote (not abstain) for a signal")
        stop_loss: float = param(0.03, 0.01, 0.08, 0.01, "stop-loss, fraction of entry price")
        take_profit: float = param(0.06, 0.02, 0.16, 0.02, "take-profit, fraction of entry price")
        weights: tuple[tuple[str, float], ...] = Field((), description="per-agent weight (default 1)")

        @field_validator("weights", mode="before")
        @classmethod
        def _pairs(cls, value: Any) -> Any:
            items = value.items() if isinstance(value, dict) else value
            pairs = tuple(sorted((str(k), float(w)) for k, w in items))
            bad = [k for k, w in pairs if not 0 <= w <= 100]
            if bad:
                raise ValueError(f"weights must be from 0 to 100: {', '.join(bad)}")
            return pairs

    def agent_weights(self) -> dict[str, float]:
        return dict(self.params.weights)

    def trade(self, candles: pd.DataFrame, score: pd.Series, voters: pd.Series) -> Signals:
        p = self.params
        enough = voters >= p.min_voters
        entries = (score >= p.entry_threshold) & enough
        exits = (score <= -p.exit_threshold) & enough
        info = pd.DataFrame({"score": score, "voters": voters.astype(float)}, copy=False)
        return Signals(
            entries=entries.fillna(False).astype(bool),
            exits=exits.fillna(False).astype(bool),
            stop_loss=p.stop_loss,
            take_profit=p.take_profit,
            info=info,
        )
