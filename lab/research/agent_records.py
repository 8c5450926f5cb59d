"""Reading an agent record from the DB (a backtest's or an engine book's decisions and their votes,
each entry linked to the trade it led to) and keeping the daily agent_performance snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, insert, select

from lab.core.config import AgentsConfig
from lab.core.errors import LabError
from lab.research.agent_stats import agent_table, forward_returns
from lab.store.models import AgentPerformance, BacktestTrade, Book, EngineTrade, Experiment, VoteDecision
from lab.store.votes import votes_frame


@dataclass(frozen=True)
class Scope:
    strategy: str
    experiment_id: int | None = None
    book_id: int | None = None
    label: str = ""


def resolve_scope(
    conn: Any, strategy: str, experiment_id: int | None = None, book: str | None = None
) -> Scope:
    """A given experiment or book; by default the engine's record: the paper book when it trades the
    strategy, else the first book that does (a shadow) with decisions; else the newest backtest of the
    strategy that recorded votes."""
    if experiment_id is not None:
        return Scope(strategy, experiment_id=experiment_id, label=f"backtest #{experiment_id}")
    if book is not None:
        book_id = conn.execute(select(Book.id).where(Book.key == book)).scalar()
        if book_id is None:
            raise LabError(f"no engine book {book!r}")
        return Scope(strategy, book_id=book_id, label=f"engine book {book}")
    candidates = conn.execute(
        select(Book.id, Book.key).where(Book.strategy == strategy).order_by(Book.key != "paper", Book.id)
    ).all()
    for book_id, key in candidates:
        if conn.execute(
            select(func.count()).select_from(VoteDecision).where(VoteDecision.book_id == book_id)
        ).scalar():
            return Scope(strategy, book_id=book_id, label=f"engine book {key}")
    newest = conn.execute(
        select(func.max(VoteDecision.experiment_id)).where(VoteDecision.strategy == strategy)
    ).scalar()
    if newest is None:
        raise LabError(
            f"no vote records for {strategy!r}: run a voting strategy's backtest (lab backtest {strategy}) "
            "or its engine first"
        )
    return Scope(strategy, experiment_id=int(newest), label=f"backtest #{newest}")


def scope_votes(conn: Any, scope: Scope, step: pd.Timedelta, since: datetime | None = None) -> pd.DataFrame:
    """The scope's vote rows with `trade_return`: the net return of the trade each entry decision led to
    (the trade entering on the next bar), NaN where none did."""
    votes = votes_frame(
        conn, strategy=scope.strategy, experiment_id=scope.experiment_id, book_id=scope.book_id, since=since
    )
    if votes.empty:
        return votes.assign(trade_return=pd.Series(dtype=float))
    if scope.experiment_id is not None:
        t = BacktestTrade
        q = select(t.symbol, t.entry_time, t.pnl, t.size, t.entry_price, t.entry_fees, t.status).where(
            t.experiment_id == scope.experiment_id
        )
    else:
        t = EngineTrade
        q = select(t.symbol, t.entry_time, t.pnl, t.size, t.entry_price, t.entry_fees, t.status).where(
            t.book_id == scope.book_id
        )
    trades = pd.DataFrame(
        conn.execute(q).all(), columns=["symbol", "entry_time", "pnl", "size", "price", "fees", "status"]
    )
    trades = trades[trades["status"] == "closed"]
    if trades.empty:
        return votes.assign(trade_return=float("nan"))
    trades["entry_time"] = pd.to_datetime(trades["entry_time"], utc=True)
    trades["trade_return"] = trades["pnl"] / (trades["size"] * trades["price"] + trades["fees"])
    keys = votes[["symbol", "bar_time", "action"]].assign(entry_time=votes["bar_time"] + step)
    joined = keys.merge(
        trades[["symbol", "entry_time", "trade_return"]], on=["symbol", "entry_time"], how="left"
    )
    joined.loc[joined["action"] != "entry", "trade_return"] = float("nan")
    return votes.assign(trade_return=joined["trade_return"].to_numpy())


def previous_flags(conn: Any, strategy: str, before_day: str) -> dict[str, dict[str, Any]]:
    """Each agent's latest snapshot before `before_day` ({"flagged", "evidence"})."""
    t = AgentPerformance
    newest = (
        select(t.agent, func.max(t.day).label("day"))
        .where(t.strategy == strategy, t.day < before_day)
        .group_by(t.agent)
        .subquery()
    )
    rows = conn.execute(
        select(t.agent, t.flagged, t.evidence)
        .join(newest, (t.agent == newest.c.agent) & (t.day == newest.c.day))
        .where(t.strategy == strategy)
    ).all()
    return {
        agent: {"flagged": bool(flagged), "evidence": evidence or {}} for agent, flagged, evidence in rows
    }


def agent_performance(
    conn: Any,
    cfg: AgentsConfig,
    scope: Scope,
    closes: dict[str, pd.Series],
    step: pd.Timedelta,
    since: datetime | None = None,
    day: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(leaderboard, vote rows with forward and trade returns) of the scope; flags with hysteresis
    against the snapshots before `day` (today, UTC)."""
    day = day or datetime.now(UTC).strftime("%Y-%m-%d")
    votes = scope_votes(conn, scope, step, since)
    if votes.empty:
        return pd.DataFrame(), votes
    votes["fwd_return"] = forward_returns(votes, closes, cfg.horizon_bars, step).to_numpy()
    table = agent_table(votes, cfg, previous_flags(conn, scope.strategy, day))
    return table.sort_values(["flagged", "ic"], ascending=[True, False], ignore_index=True), votes


SNAPSHOT_COLUMNS = (
    "decisions",
    "votes",
    "abstention_rate",
    "hit_rate",
    "hit_low",
    "hit_high",
    "ic",
    "ic_low",
    "ic_high",
    "p_value",
    "p_adjusted",
)


def save_snapshot(conn: Any, strategy: str, table: pd.DataFrame, day: str | None = None) -> int:
    """Today's rows (one per agent), replacing a snapshot taken earlier the same day."""
    day = day or datetime.now(UTC).strftime("%Y-%m-%d")
    conn.execute(
        delete(AgentPerformance).where(AgentPerformance.day == day, AgentPerformance.strategy == strategy)
    )
    rows = []
    for r in table.to_dict("records"):
        values = {c: (None if isinstance(r[c], float) and r[c] != r[c] else r[c]) for c in SNAPSHOT_COLUMNS}
        rows.append(
            values
            | {
                "day": day,
                "strategy": strategy,
                "agent": r["agent"],
                "flagged": bool(r["flagged"]),
                "evidence": r["evidence"] | {"abstentions": r.get("abstentions", {})},
                "created_at": datetime.now(UTC),
            }
        )
    if rows:
        conn.execute(insert(AgentPerformance), rows)
    return len(rows)


def experiment_ids(conn: Any, strategy: str) -> list[int]:
    return [
        int(i)
        for i in conn.execute(
            select(Experiment.id).where(Experiment.strategy == strategy).order_by(Experiment.id)
        ).scalars()
    ]
