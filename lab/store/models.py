"""SQLAlchemy 2.0 typed models. Schema changes go through Alembic migrations in migrations/versions."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class CandleSeries(Base):
    """One stored candle series (exchange/symbol/timeframe): where it is and what it holds."""

    __tablename__ = "candle_series"
    __table_args__ = (UniqueConstraint("exchange", "symbol", "timeframe"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exchange: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64))
    timeframe: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(Text)
    first_ts: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_ts: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    gaps: Mapped[int] = mapped_column(Integer, default=0)
    missing_candles: Mapped[int] = mapped_column(Integer, default=0)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(256), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class DataQualityEvent(Base):
    """Append-only log of validation findings, refusals and repairs."""

    __tablename__ = "data_quality_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    exchange: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64))
    timeframe: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(32))  # import, fetch, validate, repair, sample
    issue: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer, default=0)
    first_ts: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class Experiment(Base):
    """One backtest run: what was run on what, with which code and libraries, and how it did."""

    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(32), default="backtest")  # backtest, sweep, walkforward
    strategy: Mapped[str] = mapped_column(String(128))
    strategy_version: Mapped[str] = mapped_column(String(32))
    parent_version: Mapped[str | None] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    data_hash: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    exchange: Mapped[str] = mapped_column(String(64))
    symbols: Mapped[list] = mapped_column(JSON, default=list)
    timeframe: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    library_versions: Mapped[dict] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    trades_hash: Mapped[str] = mapped_column(String(64))
    n_trials: Mapped[int] = mapped_column(Integer, default=1)

    trades: Mapped[list[BacktestTrade]] = relationship(
        back_populates="experiment", cascade="all, delete-orphan"
    )


class BacktestTrade(Base):
    """A closed (or still open at the end) trade of a backtest."""

    __tablename__ = "backtest_trades"

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"), index=True)
    symbol: Mapped[str] = mapped_column(String(64))
    entry_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    exit_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    size: Mapped[float] = mapped_column(Float)
    entry_price: Mapped[float] = mapped_column(Float)
    exit_price: Mapped[float | None] = mapped_column(Float)
    entry_fees: Mapped[float] = mapped_column(Float)
    exit_fees: Mapped[float] = mapped_column(Float)
    pnl: Mapped[float] = mapped_column(Float)
    return_pct: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(8))  # closed, open
    exit_reason: Mapped[str] = mapped_column(String(16), default="signal")
    regime: Mapped[str | None] = mapped_column(String(16))  # market regime on the entry signal's bar

    experiment: Mapped[Experiment] = relationship(back_populates="trades")


class NotebookRun(Base):
    """One papermill run of a notebook: parameters, outcome and where its outputs are."""

    __tablename__ = "notebook_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(String(32), unique=True)
    notebook: Mapped[str] = mapped_column(String(128), index=True)
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    code_hash: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running, succeeded, failed
    duration_s: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    output_ipynb: Mapped[str | None] = mapped_column(Text)
    output_html: Mapped[str | None] = mapped_column(Text)
    trigger: Mapped[str] = mapped_column(String(32), default="manual")  # manual, schedule, main
    summary: Mapped[dict | None] = mapped_column(JSON)  # headline numbers and curves the notebook published


# --- trading engine (paper and live); append-only where the ledger needs it -----------------------


class Book(Base):
    """An account the engine trades: one strategy (name, version, parameters) in one mode (paper,
    live or shadow) with its share of the capital. Every ledger row belongs to one book."""

    __tablename__ = "books"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(
        String(64), unique=True
    )  # "paper", "live", or e.g. "shadow:ultra_selective"
    strategy: Mapped[str] = mapped_column(String(128))  # strategy name
    strategy_version: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict] = mapped_column(JSON, default=dict)  # the strategy's parameters
    mode: Mapped[str] = mapped_column(String(8))  # paper, live, shadow
    capital_share: Mapped[float] = mapped_column(Float, default=1.0)  # of the configured capital
    status: Mapped[str] = mapped_column(String(16), default="active")  # active, retired, disabled
    error: Mapped[str | None] = mapped_column(Text)  # why a book was disabled
    settings: Mapped[dict | None] = mapped_column(JSON)  # a shadow's own settings, e.g. {"sizing": "kelly"}
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Order(Base):
    """An order the engine decided on; written before the broker sees it (client_order_id is idempotent)."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int | None] = mapped_column(ForeignKey("books.id"), index=True)  # the book it belongs to
    client_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    mode: Mapped[str] = mapped_column(String(8))  # paper, live
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(4))  # buy, sell
    kind: Mapped[str] = mapped_column(String(8), default="market")  # market, limit
    reason: Mapped[str] = mapped_column(String(16))  # entry, signal, stop_loss, take_profit, trailing_stop
    bar_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)  # the bar it executes on
    reference_price: Mapped[float] = mapped_column(Float)  # open of that bar, or the stop level
    limit_price: Mapped[float | None] = mapped_column(Float)
    cash_fraction: Mapped[float | None] = mapped_column(Float)  # buys: share of free cash to spend
    size: Mapped[float | None] = mapped_column(Float)  # sells: base amount
    stop_loss: Mapped[float | None] = mapped_column(Float)
    take_profit: Mapped[float | None] = mapped_column(Float)
    trailing: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default="new")  # new, filled, rejected
    exchange_order_id: Mapped[str | None] = mapped_column(String(128))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Fill(Base):
    """What the broker executed for an order: size, price (slippage included) and fee."""

    __tablename__ = "fills"

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int | None] = mapped_column(ForeignKey("books.id"), index=True)  # the book it belongs to
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(4))
    size: Mapped[float] = mapped_column(Float)
    price: Mapped[float] = mapped_column(Float)
    fee: Mapped[float] = mapped_column(Float)
    bar_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Position(Base):
    """An open position (one per symbol and book); removed when closed, its trade row stays."""

    __tablename__ = "positions"
    __table_args__ = (UniqueConstraint("book_id", "symbol", name="uq_positions_book_symbol"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int | None] = mapped_column(ForeignKey("books.id"), index=True)  # the book it belongs to
    mode: Mapped[str] = mapped_column(String(8))
    symbol: Mapped[str] = mapped_column(String(64))
    size: Mapped[float] = mapped_column(Float)
    entry_price: Mapped[float] = mapped_column(Float)
    entry_fees: Mapped[float] = mapped_column(Float)
    entry_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stop_loss: Mapped[float | None] = mapped_column(Float)
    take_profit: Mapped[float | None] = mapped_column(Float)
    trailing: Mapped[bool] = mapped_column(Boolean, default=False)
    peak: Mapped[float] = mapped_column(Float)
    trade_id: Mapped[int] = mapped_column(ForeignKey("engine_trades.id"))


class EngineTrade(Base):
    """A trade of the engine (paper or live), from entry fill to exit fill; P&L net of both fees."""

    __tablename__ = "engine_trades"

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int | None] = mapped_column(ForeignKey("books.id"), index=True)  # the book it belongs to
    mode: Mapped[str] = mapped_column(String(8))  # paper, live
    strategy: Mapped[str] = mapped_column(String(128))  # strategy name that opened it
    strategy_version: Mapped[str] = mapped_column(String(32))  # that strategy's version
    symbol: Mapped[str] = mapped_column(String(64))  # ccxt symbol, e.g. BTC/USD
    entry_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # bar the entry filled on (UTC)
    exit_time: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True)
    )  # bar the exit filled on; null while open
    size: Mapped[float] = mapped_column(Float)  # base amount
    entry_price: Mapped[float] = mapped_column(Float)  # fill price, slippage included
    exit_price: Mapped[float | None] = mapped_column(Float)  # fill price, slippage included
    entry_fees: Mapped[float] = mapped_column(Float)  # quote currency
    exit_fees: Mapped[float] = mapped_column(Float, default=0.0)  # quote currency
    pnl: Mapped[float | None] = mapped_column(Float)  # net of both fees, quote currency; null while open
    status: Mapped[str] = mapped_column(String(8), default="open")  # open, closed
    exit_reason: Mapped[str | None] = mapped_column(
        String(16)
    )  # signal, stop_loss, take_profit, trailing_stop
    regime: Mapped[str | None] = mapped_column(
        String(16)
    )  # market regime on the entry signal's bar (lab.strategy.regime)


class EngineState(Base):
    """Runtime state, one row per mode: cash, last processed bar, pending signals, counters."""

    __tablename__ = "engine_state"

    mode: Mapped[str] = mapped_column(String(32), primary_key=True)  # the mode, and mode:backup for its copy
    state: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class EquitySnapshot(Base):
    """The engine's equity at the close of each bar (kind bar) and of each UTC day (kind daily)."""

    __tablename__ = "equity_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int | None] = mapped_column(ForeignKey("books.id"), index=True)  # the book it belongs to
    mode: Mapped[str] = mapped_column(String(8))  # paper, live
    kind: Mapped[str] = mapped_column(String(8))  # bar, daily
    bar_time: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), index=True
    )  # bar close it values (UTC)
    equity: Mapped[float] = mapped_column(Float)  # cash + positions at the close, quote currency
    cash: Mapped[float] = mapped_column(Float)  # free cash, quote currency
    positions_value: Mapped[float] = mapped_column(Float)  # open positions at the close


class ScanResult(Base):
    """What the strategy saw on each closed bar: indicators, regime, signal or not, and why rejected."""

    __tablename__ = "scan_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int | None] = mapped_column(ForeignKey("books.id"), index=True)  # the book it belongs to
    bar_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)  # the closed bar (UTC)
    symbol: Mapped[str] = mapped_column(String(64))
    signal: Mapped[str] = mapped_column(String(8))  # entry, exit, none
    rejected: Mapped[str | None] = mapped_column(
        String(256)
    )  # why an entry was refused ("rule: detail"), else null
    indicators: Mapped[dict] = mapped_column(
        JSON, default=dict
    )  # the strategy's indicator values and the bar's close
    regime: Mapped[str | None] = mapped_column(
        String(16)
    )  # trend_up, trend_down, range, high_vol, unknown (lab.strategy.regime)


class RiskEvent(Base):
    """A refusal or clamp of an entry (risk rules, slots, sizing skips) or a risk trip (kill switch)."""

    __tablename__ = "risk_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int | None] = mapped_column(ForeignKey("books.id"), index=True)  # the book it belongs to
    bar_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    symbol: Mapped[str | None] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(32))  # e.g. max_open_positions, daily_loss_limit, sizing_skip
    detail: Mapped[str] = mapped_column(Text)  # plain-language reason


class SizingRecord(Base):
    """One sizing decision of the engine (a Kelly sizer's inputs and outcome, skips included)."""

    __tablename__ = "sizing_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int | None] = mapped_column(ForeignKey("books.id"), index=True)  # the book it belongs to
    mode: Mapped[str] = mapped_column(String(16))
    strategy: Mapped[str] = mapped_column(String(128))
    bar_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    symbol: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16))
    fraction: Mapped[float] = mapped_column(Float)
    skipped: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    inputs: Mapped[dict] = mapped_column(JSON)


class VoteDecision(Base):
    """A bar on which a voting strategy signalled (entry or exit) for a symbol: one row per decision, not
    per bar, from a backtest (experiment_id) or an engine book (book_id). Its agents' votes are in
    agent_votes; the trade it led to is the one entering (or leaving) on the next bar."""

    __tablename__ = "vote_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int | None] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )  # the backtest it comes from, or null
    book_id: Mapped[int | None] = mapped_column(
        ForeignKey("books.id"), index=True
    )  # the engine book, or null
    strategy: Mapped[str] = mapped_column(String(128), index=True)  # the voting strategy's name
    symbol: Mapped[str] = mapped_column(String(64))
    bar_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)  # the signal's bar (UTC)
    action: Mapped[str] = mapped_column(String(8))  # entry, exit
    score: Mapped[float | None] = mapped_column(Float)  # the blended score in [-1, 1]
    voters: Mapped[int] = mapped_column(Integer)  # agents that voted (did not abstain) with weight
    regime: Mapped[str | None] = mapped_column(String(16))  # market regime on the bar


class AgentVote(Base):
    """One agent's vote on one decision: the vote, its confidence, or why it abstained."""

    __tablename__ = "agent_votes"

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(
        ForeignKey("vote_decisions.id", ondelete="CASCADE"), index=True
    )  # the decision it belongs to
    agent: Mapped[str] = mapped_column(String(64), index=True)  # the agent's name
    vote: Mapped[float | None] = mapped_column(Float)  # in [-1, 1]; null when it abstained
    confidence: Mapped[float | None] = mapped_column(Float)  # in [0, 1]; null when it abstained
    abstain: Mapped[str | None] = mapped_column(String(200))  # the reason it abstained, else null
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)  # whether it weighed in the blend


class AgentStateRecord(Base):
    """An agent enabled or disabled in the engine (append-only: the newest row per agent is in force;
    no row: lab.toml's [agents] enabled list)."""

    __tablename__ = "agent_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent: Mapped[str] = mapped_column(String(64), index=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)  # why (the operator's words, or a flag's evidence)
    source: Mapped[str] = mapped_column(String(16))  # cli, dashboard, flag
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AgentPerformance(Base):
    """A daily snapshot of one agent's record (lab.research.agent_stats): one row per agent, strategy and
    day; a rerun on the same day replaces that day's row."""

    __tablename__ = "agent_performance"
    __table_args__ = (UniqueConstraint("day", "strategy", "agent", name="uq_agent_performance_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[str] = mapped_column(String(10), index=True)  # UTC date of the snapshot, YYYY-MM-DD
    strategy: Mapped[str] = mapped_column(String(128))  # the voting strategy whose decisions were judged
    agent: Mapped[str] = mapped_column(String(64))
    decisions: Mapped[int] = mapped_column(Integer)  # decisions in scope
    votes: Mapped[int] = mapped_column(Integer)  # of which it voted (did not abstain)
    abstention_rate: Mapped[float] = mapped_column(Float)
    hit_rate: Mapped[float | None] = mapped_column(Float)  # directional votes on the right side
    hit_low: Mapped[float | None] = mapped_column(Float)  # Wilson 95% interval
    hit_high: Mapped[float | None] = mapped_column(Float)
    ic: Mapped[float | None] = mapped_column(Float)  # Spearman rank correlation, vote vs forward return
    ic_low: Mapped[float | None] = mapped_column(Float)
    ic_high: Mapped[float | None] = mapped_column(Float)
    p_value: Mapped[float | None] = mapped_column(Float)  # one-sided, H0: IC >= min_ic
    p_adjusted: Mapped[float | None] = mapped_column(Float)  # Holm (or BH) over the agents tested
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)  # the test, numbers, tried, hysteresis
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PromotionEvaluation(Base):
    """One evaluation of a shadow against the active strategy by the promoter (lab.research.promoter):
    its numbers, the decision and why (dry runs too)."""

    __tablename__ = "promotion_evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    shadow: Mapped[str] = mapped_column(String(64), index=True)  # the shadow book's key
    active: Mapped[str] = mapped_column(String(64))  # the book it was compared with
    days: Mapped[int] = mapped_column(Integer)  # common days of daily returns
    n_trials: Mapped[int] = mapped_column(Integer)  # N of the deflated Sharpe: candidates ever evaluated
    psr: Mapped[float | None] = mapped_column(Float)
    dsr: Mapped[float | None] = mapped_column(Float)
    paired_p: Mapped[float | None] = mapped_column(Float)
    min_track_days: Mapped[float | None] = mapped_column(Float)
    decision: Mapped[str] = mapped_column(String(16))  # promote, hold, insufficient
    reason: Mapped[str] = mapped_column(Text)
    numbers: Mapped[dict] = mapped_column(JSON, default=dict)  # every statistic and threshold
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)


class Rollout(Base):
    """A promoted candidate's staged rollout; its state (lab.trading.rollout.RolloutState) moves with the
    two books' cash in one transaction, so a crash leaves one consistent stage."""

    __tablename__ = "rollouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate: Mapped[str] = mapped_column(String(64))  # the promoted shadow book's key
    previous: Mapped[str] = mapped_column(String(64))  # the active book it replaces
    book: Mapped[str] = mapped_column(String(64))  # the book the candidate trades real capital in
    status: Mapped[str] = mapped_column(String(16), index=True)  # running, completed, rolled_back
    state: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class RolloutEvent(Base):
    """What happened in a rollout: started, each stage, each capital move, the completion or the
    rollback with its reason (append-only)."""

    __tablename__ = "rollout_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    rollout_id: Mapped[int] = mapped_column(ForeignKey("rollouts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    day: Mapped[str] = mapped_column(String(10))  # the UTC day it applies to
    kind: Mapped[str] = mapped_column(String(16))  # started, stage, transfer, completed, rolled_back
    share: Mapped[float] = mapped_column(Float)  # the candidate's share of the capital afterwards
    amount: Mapped[float] = mapped_column(Float, default=0.0)  # cash moved to the candidate (negative: back)
    detail: Mapped[str] = mapped_column(Text)


class AnalysisModuleRecord(Base):
    """A version of an analysis module as deployed, archived or restored (its lineage)."""

    __tablename__ = "analysis_modules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)  # the module's NAME (file stem)
    version: Mapped[str] = mapped_column(String(32))
    parent_version: Mapped[str | None] = mapped_column(String(32))  # the version it was derived from
    code_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the source
    action: Mapped[str] = mapped_column(String(16))  # deployed, archived, rolled_back
    path: Mapped[str] = mapped_column(Text)  # where the file is now, relative to the project
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AnalysisOutput(Base):
    """One sandboxed run of an analysis module: its output (or error), with the version and hash run."""

    __tablename__ = "analysis_outputs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    output: Mapped[dict | None] = mapped_column(JSON)  # the module's JSON result
    error: Mapped[str | None] = mapped_column(Text)  # why it failed ("kind: detail")
    seconds: Mapped[float] = mapped_column(Float)  # wall clock, sandbox start to result
    isolation: Mapped[str] = mapped_column(String(64))  # what the sandbox could enforce here


class Command(Base):
    """The operator command queue shared by the CLI and the dashboard."""

    __tablename__ = "commands"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    command: Mapped[str] = mapped_column(String(32))
    args: Mapped[dict] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(32), default="cli")
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending, done, failed
    result: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class HealthRecord(Base):
    __tablename__ = "health"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    component: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(12))  # healthy, degraded, failed, starting, stopped
    detail: Mapped[str] = mapped_column(Text, default="")


class CircuitBreakerState(Base):
    __tablename__ = "circuit_breakers"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(12))  # closed, open, half_open
    failures: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class EngineError(Base):
    __tablename__ = "engine_errors"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    component: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    correlation_id: Mapped[str | None] = mapped_column(String(64))


class ScheduledJob(Base):
    """What the running scheduler plans: written when it starts and after every job."""

    __tablename__ = "scheduled_jobs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    notebook: Mapped[str] = mapped_column(String(128))
    cron: Mapped[str] = mapped_column(String(64))
    next_run: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


# The orchestrator's tables share this metadata (imported last: they need Base)
from lab.store import models_llm as _models_llm  # noqa: E402,F401
from lab.store import models_strategy as _models_strategy  # noqa: E402,F401
