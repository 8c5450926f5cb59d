"""The IO contract of a signal agent, beside the Strategy contract (lab.core.contract).

An agent is a class in a file under strategies/agents/, loaded by path like a strategy. It reads an
OHLCV frame (vectorized, like a strategy) and returns, per bar, a vote in [-1, 1] (bearish to bullish)
with a confidence in [0, 1], or an abstention with its reason. Abstentions are not votes: the
ensemble leaves them out of both the numerator and the denominator of its blend, never counting them
as "hold". An agent with no opinion on a bar that it did judge votes 0 with confidence 0 instead.

Agents never touch the exchange or the database. Data only a live feed has (the order book, the
funding rate) arrives as LiveInputs for the newest bar; in a backtest there is none and such agents
abstain.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from lab.core.contract import Signals, Strategy, StrategyParams

# The reasons an agent abstains, as the records and reports show them.
NOT_ENOUGH_HISTORY = "not enough history"
MISSING_INPUT = "missing input"
LIVE_ONLY = "live-only data in a backtest"
DISABLED = "disabled"


class AgentParams(StrategyParams):
    """Base for an agent's parameters: frozen, unknown names rejected, ranges enforced."""


@dataclass(frozen=True)
class LiveInputs:
    """What a live feed knows at the newest bar beyond its candles (None: not available)."""

    bids: tuple[tuple[float, float], ...] | None = None  # (price, amount), best first
    asks: tuple[tuple[float, float], ...] | None = None
    funding_rate: float | None = None  # per funding interval, e.g. 0.0001
    funding_offered: bool = False  # whether the exchange has funding rates at all (spot: no)


@dataclass(frozen=True)
class Votes:
    """Per-bar output of an agent, aligned to the input frame's index. Where `abstain` holds a reason,
    vote and confidence are NaN; elsewhere both are finite (vote in [-1, 1], confidence in [0, 1])."""

    vote: pd.Series
    confidence: pd.Series
    abstain: pd.Series  # the reason, or "" where the agent voted
    diagnostics: dict[str, Any] = field(default_factory=dict)  # e.g. the ML fits, the RL reward curve

    @classmethod
    def of(
        cls,
        vote: pd.Series,
        confidence: pd.Series | float,
        abstain: dict[str, pd.Series | np.ndarray | bool] | None = None,
        diagnostics: dict[str, Any] | None = None,
    ) -> Votes:
        """Votes from values and abstention masks (the first matching reason wins per bar); vote and
        confidence are blanked where the agent abstains."""
        index = vote.index
        conf = (
            confidence.reindex(index)
            if isinstance(confidence, pd.Series)
            else pd.Series(float(confidence), index=index)
        )
        reasons = np.full(len(index), "", dtype=object)
        for reason, mask in (abstain or {}).items():
            m = np.asarray(mask.reindex(index, fill_value=False) if isinstance(mask, pd.Series) else mask)
            m = np.broadcast_to(m.astype(bool), len(index))
            reasons[(reasons == "") & m] = reason
        out = reasons != ""
        v = vote.to_numpy(dtype=float, copy=True)
        c = conf.to_numpy(dtype=float, copy=True)
        v[out], c[out] = np.nan, np.nan
        return cls(
            pd.Series(v, index=index, name="vote"),
            pd.Series(c, index=index, name="confidence"),
            pd.Series(reasons, index=index, name="abstain"),
            diagnostics or {},
        )

    @classmethod
    def abstain_all(cls, index: pd.Index, reason: str) -> Votes:
        nan = pd.Series(np.nan, index=index)
        return cls(
            nan.rename("vote"), nan.rename("confidence"), pd.Series(reason, index=index, name="abstain")
        )

    @property
    def voted(self) -> pd.Series:
        return self.abstain == ""


class Agent:
    """Base class of agent modules. Subclasses set the class attributes and implement votes()."""

    name: ClassVar[str]
    version: ClassVar[str] = "1.0.0"
    Params: ClassVar[type[AgentParams]] = AgentParams
    # Where an agent that learns (ML, RL) keeps its fitted models; set by the lab, None: keep nothing.
    store: Path | None = None

    def __init__(self, params: AgentParams | dict[str, Any] | None = None) -> None:
        self.params = params if isinstance(params, AgentParams) else self.Params(**(params or {}))

    def warmup(self) -> int:
        """Bars needed before the first vote can be meaningful."""
        return 50

    def votes(self, candles: pd.DataFrame, live: LiveInputs | None = None) -> Votes:  # pragma: no cover
        raise NotImplementedError


class VoteArrays:
    """A voting strategy's votes for one symbol as arrays, read per decision bar as plain rows
    (agent, vote, confidence, reason, enabled) the engine and the backtester store alike."""

    def __init__(self, votes: dict[str, Any]) -> None:
        self.names = list(votes)
        self.vote = np.column_stack([v.vote.to_numpy(dtype=float) for v in votes.values()])
        self.conf = np.column_stack([v.confidence.to_numpy(dtype=float) for v in votes.values()])
        self.reason = np.column_stack([v.abstain.to_numpy(dtype=object) for v in votes.values()])

    def at(self, i: int, enabled: set[str]) -> tuple:
        return tuple(
            (
                name,
                None if self.vote[i, k] != self.vote[i, k] else float(self.vote[i, k]),
                None if self.conf[i, k] != self.conf[i, k] else float(self.conf[i, k]),
                self.reason[i, k] or None,
                name in enabled,
            )
            for k, name in enumerate(self.names)
        )


def blend(votes: dict[str, Votes], weights: dict[str, float], index: pd.Index) -> tuple[pd.Series, pd.Series]:
    """The ensemble's score per bar, sum(w*c*v) / sum(w*c) over the agents that voted (abstentions are in
    neither sum), and how many agents voted. NaN where no agent voted with any weight."""
    num = np.zeros(len(index))
    den = np.zeros(len(index))
    voters = np.zeros(len(index), dtype=np.int64)
    for name, v in votes.items():
        w = float(weights.get(name, 0.0))
        if w <= 0:
            continue
        vote, conf = v.vote.to_numpy(dtype=float), v.confidence.to_numpy(dtype=float)
        ok = np.isfinite(vote) & np.isfinite(conf)
        num[ok] += w * conf[ok] * vote[ok]
        den[ok] += w * conf[ok]
        voters += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return pd.Series(score, index=index, name="score"), pd.Series(voters, index=index, name="voters")


class VotingStrategy(Strategy):
    """A strategy that trades on its agents' blended votes. The lab binds the agents (a panel, see
    lab.strategy.agents) when it loads the file; the strategy decides entries and exits from the score."""

    panel: ClassVar[Any] = None

    def agent_weights(self) -> dict[str, float]:
        """Per-agent weights from the parameters (agents not named weigh 1)."""
        return dict(getattr(self.params, "weights", {}) or {})

    def warmup(self) -> int:
        return self.panel.warmup() if self.panel is not None else 100

    def signals(self, candles: pd.DataFrame) -> Signals:
        if self.panel is None:
            raise RuntimeError(
                f"{type(self).__name__} trades on agents' votes: load it through lab.strategy.loader, "
                "which binds the agents of lab.toml's [agents] section"
            )
        votes = self.panel.votes(candles)
        weights = self.panel.weights(self.agent_weights())
        score, voters = blend(votes, weights, candles.index)
        out = self.trade(candles, score, voters)
        return replace(out, votes=votes)

    def trade(
        self, candles: pd.DataFrame, score: pd.Series, voters: pd.Series
    ) -> Signals:  # pragma: no cover
        raise NotImplementedError
