"""The thought spool in the DB: cycles, every response in order, observations, usage, candidates' lineage.

Writers commit each row at once (a crash mid-cycle keeps every response so far, and a failed call is a
row too); readers return frames for `lab thoughts` and the thought-spool view. Every text is scrubbed of
secret values (lab.core.secrets) before it is written."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.exc import OperationalError

from lab.core.secrets import scrub
from lab.store.models_llm import AIUsage, LLMCycle, Observation, StrategyCandidate, Thought


def _clean(value: Any) -> Any:
    """Scrub secrets from any JSON value."""
    if value is None:
        return None
    return json.loads(scrub(json.dumps(value, default=str)))


def start_cycle(
    db: Engine, provider: str, dry_run: bool, context: dict[str, Any], replay_of: int | None = None
) -> int:
    with db.begin() as c:
        row = c.execute(
            LLMCycle.__table__.insert().values(
                started_at=datetime.now(UTC),
                provider=provider,
                dry_run=dry_run,
                replay_of=replay_of,
                status="running",
                reason="",
                input_tokens=0,
                output_tokens=0,
                cost=0.0,
                duration_s=0.0,
                context=_clean(context),
            )
        )
        return int(row.inserted_primary_key[0])


def finish_cycle(
    db: Engine, cycle_id: int, status: str, decision: str | None, reason: str, duration_s: float
) -> None:
    with db.begin() as c:
        tin, tout, cost = c.execute(
            select(
                func.coalesce(func.sum(Thought.input_tokens), 0),
                func.coalesce(func.sum(Thought.output_tokens), 0),
                func.coalesce(func.sum(Thought.cost), 0.0),
            ).where(Thought.cycle_id == cycle_id)
        ).one()
        c.execute(
            update(LLMCycle)
            .where(LLMCycle.id == cycle_id)
            .values(
                status=status,
                decision=decision,
                reason=scrub(reason),
                finished_at=datetime.now(UTC),
                duration_s=duration_s,
                input_tokens=int(tin),
                output_tokens=int(tout),
                cost=float(cost),
            )
        )


def add_thought(db: Engine, cycle_id: int, **fields: Any) -> int:
    """One response or failed attempt (fields as the Thought columns; seq is assigned here)."""
    for key in ("raw_text", "error", "request_text"):
        fields[key] = scrub(str(fields.get(key) or ""))
    fields["parsed"] = _clean(fields.get("parsed"))
    with db.begin() as c:
        seq = c.scalar(select(func.coalesce(func.max(Thought.seq), 0)).where(Thought.cycle_id == cycle_id))
        defaults = {
            "attempt": 1,
            "input_tokens": 0,
            "output_tokens": 0,
            "cache_write_tokens": 0,
            "cache_read_tokens": 0,
            "cost": 0.0,
            "latency_s": 0.0,
            "stop_reason": "",
            "model": "",
            "request_hash": "",
        }
        row = c.execute(
            Thought.__table__.insert().values(
                **(defaults | fields), cycle_id=cycle_id, seq=int(seq) + 1, created_at=datetime.now(UTC)
            )
        )
        return int(row.inserted_primary_key[0])


def record_usage(db: Engine, service: str, cycle_id: int | None, **fields: Any) -> None:
    with db.begin() as c:
        c.execute(
            AIUsage.__table__.insert().values(
                created_at=datetime.now(UTC), service=service, cycle_id=cycle_id, **fields
            )
        )


def add_observations(db: Engine, cycle_id: int, texts: list[str]) -> int:
    """Stored once per cycle each (duplicates within a cycle dropped); returns how many were new."""
    seen: list[str] = []
    for t in texts:
        t = scrub(" ".join(str(t).split()))[:1000]
        if t and t not in seen:
            seen.append(t)
    with db.begin() as c:
        have = set(c.scalars(select(Observation.text).where(Observation.cycle_id == cycle_id)))
        new = [t for t in seen if t not in have]
        for t in new:
            c.execute(
                Observation.__table__.insert().values(cycle_id=cycle_id, text=t, created_at=datetime.now(UTC))
            )
    return len(new)


def prune_observations(db: Engine, keep_days: int, now: datetime | None = None) -> int:
    cutoff = (now or datetime.now(UTC)) - timedelta(days=keep_days)
    with db.begin() as c:
        return int(c.execute(delete(Observation).where(Observation.created_at < cutoff)).rowcount or 0)


def recent_observations(db: Engine, limit: int = 20) -> list[str]:
    """The newest distinct observations across cycles."""
    with db.connect() as c:
        rows = c.execute(
            select(Observation.text, func.max(Observation.id).label("last"))
            .group_by(Observation.text)
            .order_by(text("last DESC"))
            .limit(limit)
        ).all()
    return [r[0] for r in rows]


def add_candidate(db: Engine, cycle_id: int, **fields: Any) -> int:
    fields["diff"] = scrub(fields.get("diff") or "")
    fields["gates"] = _clean(fields.get("gates") or [])
    with db.begin() as c:
        row = c.execute(
            StrategyCandidate.__table__.insert().values(
                created_at=datetime.now(UTC), cycle_id=cycle_id, **fields
            )
        )
        return int(row.inserted_primary_key[0])


def candidates_generated(conn: Any) -> int:
    """Candidates that never became a shadow (a shadow is counted among the shadows already)."""
    try:
        return int(
            conn.execute(
                select(func.count())
                .select_from(StrategyCandidate)
                .where(StrategyCandidate.shadow_key.is_(None))
            ).scalar()
            or 0
        )
    except OperationalError:  # a DB from before migration 0012
        return 0


# ----- readers -----------------------------------------------------------------------------------------

CYCLE_COLUMNS = [
    "id",
    "started_at",
    "provider",
    "decision",
    "status",
    "input_tokens",
    "output_tokens",
    "cost",
    "duration_s",
    "reason",
]


def cycles(
    db: Engine, limit: int = 200, decision: str | None = None, provider: str | None = None
) -> pd.DataFrame:
    q = (
        select(*(getattr(LLMCycle, c) for c in CYCLE_COLUMNS), LLMCycle.dry_run)
        .order_by(LLMCycle.id.desc())
        .limit(limit)
    )
    if decision:
        q = q.where(LLMCycle.decision == decision)
    if provider:
        q = q.where(LLMCycle.provider == provider)
    with db.connect() as c:
        return pd.DataFrame(c.execute(q).mappings().all(), columns=[*CYCLE_COLUMNS, "dry_run"])


def cycle(db: Engine, cycle_id: int) -> dict[str, Any] | None:
    with db.connect() as c:
        row = c.execute(select(LLMCycle.__table__).where(LLMCycle.id == cycle_id)).mappings().first()
    return dict(row) if row is not None else None


def thoughts(db: Engine, cycle_id: int) -> pd.DataFrame:
    with db.connect() as c:
        return pd.read_sql(
            select(Thought.__table__).where(Thought.cycle_id == cycle_id).order_by(Thought.seq), c
        )


def observations(db: Engine, cycle_id: int) -> list[str]:
    with db.connect() as c:
        return list(
            c.scalars(
                select(Observation.text).where(Observation.cycle_id == cycle_id).order_by(Observation.id)
            )
        )


def candidates(db: Engine, cycle_id: int | None = None) -> pd.DataFrame:
    q = select(StrategyCandidate.__table__).order_by(StrategyCandidate.id.desc())
    if cycle_id is not None:
        q = q.where(StrategyCandidate.cycle_id == cycle_id)
    with db.connect() as c:
        return pd.read_sql(q, c)


def search(db: Engine, query: str, limit: int = 50) -> pd.DataFrame:
    """Thoughts whose text matches: SQLite FTS5 (ranked, phrase-safe) where the index exists, else ILIKE."""
    cols = "t.id, t.cycle_id, t.seq, t.stage, t.provider, t.model, t.created_at"
    with db.connect() as c:
        if db.dialect.name == "sqlite" and _has_fts(c):
            phrase = '"' + query.replace('"', '""') + '"'
            sql = (
                f"SELECT {cols}, replace(snippet(thoughts_fts, 0, '«', '»', ' … ', 12), char(10), ' ') AS snippet "
                "FROM thoughts_fts JOIN thoughts t ON t.id = thoughts_fts.rowid "
                "WHERE thoughts_fts MATCH :q ORDER BY rank LIMIT :n"
            )
            return pd.read_sql(text(sql), c, params={"q": phrase, "n": limit})
        like = "%" + query.replace("%", r"\%").replace("_", r"\_") + "%"
        sql = (
            f"SELECT {cols}, t.raw_text AS snippet FROM thoughts t "
            "WHERE lower(t.raw_text) LIKE lower(:q) ESCAPE '\\' OR lower(t.error) LIKE lower(:q) ESCAPE '\\' "
            "ORDER BY t.id DESC LIMIT :n"
        )
        found = pd.read_sql(text(sql), c, params={"q": like, "n": limit})
    found["snippet"] = [_snippet(t, query) for t in found["snippet"]]
    return found


def _snippet(text_: str, query: str, width: int = 60) -> str:
    """The match with some text around it, marked like FTS5's snippet()."""
    at = text_.lower().find(query.lower())
    if at < 0:
        return " ".join(text_[: 2 * width].split())
    head = ("… " if at > width else "") + text_[max(0, at - width) : at]
    tail = text_[at + len(query) : at + len(query) + width] + (
        " …" if at + len(query) + width < len(text_) else ""
    )
    return " ".join(f"{head}«{text_[at : at + len(query)]}»{tail}".split())


def _has_fts(c: Any) -> bool:
    return c.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'thoughts_fts'").first() is not None
