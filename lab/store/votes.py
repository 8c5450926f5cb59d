"""Writing and reading vote records: a voting strategy's decisions and each agent's vote on them
(append-only; lab.store.models.VoteDecision / AgentVote), and the agents' enabled state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from lab.store.models import AgentStateRecord, AgentVote, VoteDecision


@dataclass(frozen=True)
class AgentVoteRow:
    agent: str
    vote: float | None
    confidence: float | None
    abstain: str | None
    enabled: bool


@dataclass(frozen=True)
class DecisionRow:
    symbol: str
    bar_time: datetime
    action: str  # entry, exit
    score: float | None
    voters: int
    regime: str | None
    votes: tuple[AgentVoteRow, ...]


def insert_decisions(
    conn: Session | Connection,
    rows: list[DecisionRow],
    *,
    strategy: str,
    experiment_id: int | None = None,
    book_id: int | None = None,
) -> int:
    """Bulk insert of decisions and their votes (ids come back in order through RETURNING)."""
    if not rows:
        return 0
    ids = (
        conn.execute(
            insert(VoteDecision).returning(VoteDecision.id, sort_by_parameter_order=True),
            [
                {
                    "experiment_id": experiment_id,
                    "book_id": book_id,
                    "strategy": strategy,
                    "symbol": r.symbol,
                    "bar_time": r.bar_time,
                    "action": r.action,
                    "score": r.score,
                    "voters": r.voters,
                    "regime": r.regime,
                }
                for r in rows
            ],
        )
        .scalars()
        .all()
    )
    votes = [
        {
            "decision_id": did,
            "agent": v.agent,
            "vote": v.vote,
            "confidence": v.confidence,
            "abstain": (v.abstain or None) and v.abstain[:200],
            "enabled": v.enabled,
        }
        for did, r in zip(ids, rows, strict=True)
        for v in r.votes
    ]
    for lo in range(0, len(votes), 20_000):
        conn.execute(insert(AgentVote), votes[lo : lo + 20_000])
    return len(rows)


def votes_frame(
    conn: Any,
    *,
    strategy: str | None = None,
    experiment_id: int | None = None,
    book_id: int | None = None,
    since: datetime | None = None,
) -> pd.DataFrame:
    """One row per (decision, agent): decision id, source, symbol, bar time, action, score, regime,
    agent, vote, confidence, abstain, enabled."""
    q = select(
        VoteDecision.id.label("decision_id"),
        VoteDecision.experiment_id,
        VoteDecision.book_id,
        VoteDecision.strategy,
        VoteDecision.symbol,
        VoteDecision.bar_time,
        VoteDecision.action,
        VoteDecision.score,
        VoteDecision.voters,
        VoteDecision.regime,
        AgentVote.agent,
        AgentVote.vote,
        AgentVote.confidence,
        AgentVote.abstain,
        AgentVote.enabled,
    ).join(AgentVote, AgentVote.decision_id == VoteDecision.id)
    if strategy is not None:
        q = q.where(VoteDecision.strategy == strategy)
    if experiment_id is not None:
        q = q.where(VoteDecision.experiment_id == experiment_id)
    if book_id is not None:
        q = q.where(VoteDecision.book_id == book_id)
    if since is not None:
        q = q.where(VoteDecision.bar_time >= since)
    bind = conn.connection() if isinstance(conn, Session) else conn
    frame = pd.read_sql(q.order_by(VoteDecision.id, AgentVote.id), bind)
    if len(frame):
        frame["bar_time"] = pd.to_datetime(frame["bar_time"], utc=True)
    return frame


def agent_states(conn: Session | Connection) -> dict[str, tuple[bool, str, str, datetime]]:
    """The state in force per agent that has one: (enabled, reason, source, since)."""
    t = AgentStateRecord
    rows = conn.execute(select(t.agent, t.enabled, t.reason, t.source, t.created_at).order_by(t.id))
    return {agent: (bool(on), reason, source, at) for agent, on, reason, source, at in rows}


def set_agent_state(session: Session, agent: str, enabled: bool, reason: str, source: str) -> None:
    session.add(AgentStateRecord(agent=agent, enabled=enabled, reason=reason[:2000], source=source))
