"""Tables of the nightly orchestrator: cycles, every model response (the thought spool), what each
cycle learned, token and dollar usage, budget alerts, and the lineage of every candidate it produced.
Append-only except a cycle's own summary row, which is completed when the cycle ends."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lab.store.models import Base, utcnow


class LLMCycle(Base):
    """One nightly cycle: who answered (anthropic, offline, replay), what was decided, at what cost."""

    __tablename__ = "llm_cycles"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    provider: Mapped[str] = mapped_column(String(16))  # anthropic, offline, replay
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    replay_of: Mapped[int | None] = mapped_column(Integer)  # the cycle whose responses were replayed
    status: Mapped[str] = mapped_column(String(16), index=True)  # running, completed, failed
    decision: Mapped[str | None] = mapped_column(String(24))  # NO_CHANGE, STRATEGY_UPDATE, ...
    reason: Mapped[str] = mapped_column(Text, default="")  # why the cycle ended as it did
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)  # US dollars
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    context: Mapped[dict] = mapped_column(JSON, default=dict)  # the labelled inputs it was given


class Thought(Base):
    """One model response (or one failed attempt at one), or one tool call of the analysis loop."""

    __tablename__ = "thoughts"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("llm_cycles.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # order within the cycle
    stage: Mapped[str] = mapped_column(String(24))  # analyze, tool, decide, generate, review
    provider: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64), index=True)  # sha256 of model+system+messages
    request_text: Mapped[str] = mapped_column(Text, default="")  # the last user turn (the system is by hash)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    latency_s: Mapped[float] = mapped_column(Float, default=0.0)
    stop_reason: Mapped[str] = mapped_column(String(32), default="")
    raw_text: Mapped[str] = mapped_column(Text, default="")
    parsed: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Observation(Base):
    """Something a cycle learned, to be read by the next cycles; unique per cycle, pruned by age."""

    __tablename__ = "observations"
    __table_args__ = (UniqueConstraint("cycle_id", "text", name="uq_observations_cycle_text"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("llm_cycles.id"), index=True)
    text: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class AIUsage(Base):
    """Tokens and dollars of one call, per service: what the budgets add up."""

    __tablename__ = "ai_usage"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    service: Mapped[str] = mapped_column(String(32), index=True)  # nightly, shell
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("llm_cycles.id"))
    provider: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(24))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)


class BudgetAlert(Base):
    """A budget crossed a share of its limit (80%, 100%) in a period: once per period and level."""

    __tablename__ = "budget_alerts"
    __table_args__ = (
        UniqueConstraint("service", "period", "period_start", "measure", "level", name="uq_budget_alerts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    service: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(8))  # day, week, month
    period_start: Mapped[str] = mapped_column(String(10))  # its first UTC day
    measure: Mapped[str] = mapped_column(String(8))  # tokens, dollars
    level: Mapped[float] = mapped_column(Float)  # 0.8, 1.0
    spent: Mapped[float] = mapped_column(Float)
    limit: Mapped[float] = mapped_column(Float)


class StrategyCandidate(Base):
    """A candidate the orchestrator produced: its parent, its diff, each gate it passed or failed, and
    the shadow it became (if any). Every row counts as a trial for the deflated Sharpe's N."""

    __tablename__ = "strategy_candidates"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("llm_cycles.id"), index=True)
    kind: Mapped[str] = mapped_column(
        String(24)
    )  # STRATEGY_UPDATE, PARAMETER_CHANGE, ADAPTATION, ANALYSIS_UPDATE
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(32))
    parent: Mapped[str] = mapped_column(String(160))  # parent strategy name and version
    path: Mapped[str] = mapped_column(String(400), default="")  # where its file lives (generated code)
    code_hash: Mapped[str] = mapped_column(String(64), default="")
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    diff: Mapped[str] = mapped_column(Text, default="")
    gates: Mapped[list] = mapped_column(JSON, default=list)  # [{gate, passed, detail, numbers}]
    status: Mapped[str] = mapped_column(String(16))  # shadow, rejected, deployed, dry_run
    reason: Mapped[str] = mapped_column(Text, default="")
    shadow_key: Mapped[str | None] = mapped_column(String(64))
