"""The engine's persistence: runtime state, orders, fills, positions, trades, snapshots, scan results,
risk events and errors. Every change is committed before the engine acts on it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import JSON, Connection, Text, bindparam, cast, func, insert, select, update
from sqlalchemy.orm import Session

from lab.core.clock import to_utc
from lab.core.contract import TRADE_COLUMNS
from lab.core.errors import LabError
from lab.store.models import (
    Book,
    EngineError,
    EngineState,
    EngineTrade,
    EquitySnapshot,
    Fill,
    Order,
    Position,
    RiskEvent,
    ScanResult,
    SizingRecord,
    utcnow,
)
from lab.store.trades import frame_from_rows
from lab.store.votes import AgentVoteRow, DecisionRow, insert_decisions
from lab.trading.signal_record import RecordState
from lab.trading.types import FillReport, Intent, OpenPosition, OrderTicket, Pending


class RuntimeState(BaseModel):
    """Everything the engine needs to resume where it stopped (positions live in their own table)."""

    initial_capital: float
    cash: float
    last_bar: datetime | None = None
    # The frozen dataclass itself (pydantic validates and serializes it): the engine assigns each bar's
    # signals as they are, with no model built per book, symbol and bar.
    pending: dict[str, Pending] = Field(default_factory=dict)
    peak_equity: float
    day: str | None = None
    day_start_equity: float
    consecutive_losses: int = 0
    paused: bool = False
    pause_reason: str | None = None
    stopped: bool = False
    started_at: datetime | None = None
    last_health_at: datetime | None = None
    faults_enabled: bool = False
    signal_record: RecordState | None = None  # the Kelly sizer's record of the strategy's signals
    liquidate: bool = False  # a rollout closes every position of this book at the next bar's open

    def move_capital(self, amount: float) -> None:
        """Cash moved into (positive) or out of this book by a rollout: not a gain or a loss, so the
        peak, the day's start and the capital the ledger is rebuilt from move with it."""
        self.cash += amount
        self.initial_capital += amount
        self.peak_equity = max(0.0, self.peak_equity + amount)
        self.day_start_equity = max(0.0, self.day_start_equity + amount)

    @field_validator("last_bar", "started_at", "last_health_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # SQLite hands datetimes back without a zone; every time in the lab is UTC.
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    def pending_map(self) -> dict[str, Pending]:
        return {
            s: Pending(p.entry, p.exit, p.stop_loss, p.take_profit, p.trailing)
            for s, p in self.pending.items()
        }


@dataclass(frozen=True)
class BookRef:
    """The book a trader writes to: its row id, its key (engine state, lock file) and its mode."""

    id: int
    key: str
    mode: str


def ensure_book(
    session: Session,
    key: str,
    mode: str,
    strategy: str,
    version: str,
    params: dict[str, Any],
    capital_share: float = 1.0,
) -> BookRef:
    """The book with this key, created on first use; its strategy, version and parameters are kept
    current (the book is the account; what trades it is recorded on every trade too)."""
    book = session.scalar(select(Book).where(Book.key == key))
    if book is None:
        book = Book(
            key=key,
            mode=mode,
            strategy=strategy,
            strategy_version=version,
            params=params,
            capital_share=capital_share,
        )
        session.add(book)
    elif book.mode != mode:
        raise LabError(f"book {key!r} is a {book.mode} book, not {mode}")
    else:
        book.strategy, book.strategy_version, book.params, book.capital_share = (
            strategy,
            version,
            params,
            capital_share,
        )
    session.flush()
    return BookRef(book.id, book.key, book.mode)


def client_order_id(book: BookRef, bar_time: pd.Timestamp, symbol: str, side: str) -> str:
    """Deterministic per (book, bar, symbol, side): a restart re-creates the same id, never a second
    order. The default books keep the short form (lab-p-…, lab-l-…); others carry their id."""
    tag = book.mode[0] if book.key == book.mode else f"b{book.id}"
    return f"lab-{tag}-{bar_time:%Y%m%d%H%M}-{re.sub(r'[^A-Za-z0-9]', '', symbol)}-{side[0]}"


def log_error(session: Session, component: str, message: str, correlation_id: str | None = None) -> None:
    session.add(EngineError(component=component, message=message[:4000], correlation_id=correlation_id))


def load_state(
    session: Session, book: BookRef | str, initial_capital: float
) -> tuple[RuntimeState, list[str]]:
    """The saved state, else its backup copy, else a state rebuilt from the book's own fills; returns
    the problems seen. `book` may be a book key (read-only callers such as `lab status`)."""
    problems = []
    key_name = book if isinstance(book, str) else book.key
    for key in (key_name, f"{key_name}:backup"):
        # read as text: a row that is not JSON at all must not stop the engine (the JSON type would raise)
        raw = session.execute(select(cast(EngineState.state, Text)).where(EngineState.mode == key)).scalar()
        if raw is None:
            continue
        try:
            return RuntimeState.model_validate_json(raw), problems
        except ValidationError as exc:
            problems.append(
                f"runtime state row {key!r} is corrupt ({exc.error_count()} problem(s): "
                f"{exc.errors()[0]['loc']}: {exc.errors()[0]['msg']})"
            )
    book_id = (
        book.id if isinstance(book, BookRef) else session.scalar(select(Book.id).where(Book.key == key_name))
    )
    if problems or session.scalar(select(func.count()).select_from(Fill).where(Fill.book_id == book_id)):
        problems.append("runtime state rebuilt from the ledger (cash from fills; pending signals were lost)")
        return rebuild_state(session, book_id, initial_capital), problems
    return RuntimeState(
        initial_capital=initial_capital,
        cash=initial_capital,
        peak_equity=initial_capital,
        day_start_equity=initial_capital,
    ), problems


def rebuild_state(session: Session, book_id: int | None, initial_capital: float) -> RuntimeState:
    """A state from the book's own fills and snapshots only (another book's never count)."""
    cash = initial_capital
    for fill in session.scalars(select(Fill).where(Fill.book_id == book_id).order_by(Fill.id)):
        cash += (
            -(fill.size * fill.price + fill.fee) if fill.side == "buy" else fill.size * fill.price - fill.fee
        )
    mine = EquitySnapshot.book_id == book_id
    last = session.scalar(select(func.max(EquitySnapshot.bar_time)).where(mine))
    peak = session.scalar(select(func.max(EquitySnapshot.equity)).where(mine)) or initial_capital
    return RuntimeState(
        initial_capital=initial_capital,
        cash=cash,
        last_bar=last,
        peak_equity=max(peak, initial_capital),
        day_start_equity=cash,
    )


# The state UPDATE, prepared once; the value is bound through sqlalchemy.JSON (never a string cast),
# so SQLite and PostgreSQL store and read back the same document.
_SAVE_STATE = (
    update(EngineState.__table__)
    .where(EngineState.__table__.c.mode.in_([bindparam("key"), bindparam("backup")]))
    .values(state=bindparam("data", type_=JSON()), updated_at=bindparam("now"))
)


def save_state(session: Session | Connection, book: BookRef, state: RuntimeState) -> None:
    """Write the state and its backup copy (the copy is what a corrupt row is recovered from). It runs
    on every bar: one prepared UPDATE for both rows."""
    data = state.model_dump(mode="json")
    keys = (book.key, f"{book.key}:backup")
    done = session.execute(_SAVE_STATE, {"key": keys[0], "backup": keys[1], "data": data, "now": utcnow()})
    if done.rowcount < 2:
        existing = set(session.execute(select(EngineState.mode).where(EngineState.mode.in_(keys))).scalars())
        session.execute(
            insert(EngineState),
            [{"mode": k, "state": data, "updated_at": utcnow()} for k in keys if k not in existing],
        )


def load_positions(session: Session, book: BookRef) -> dict[str, OpenPosition]:
    return {
        p.symbol: OpenPosition(
            p.symbol,
            p.size,
            p.entry_price,
            p.entry_fees,
            to_utc(p.entry_time),
            p.stop_loss,
            p.take_profit,
            p.trailing,
            p.peak,
            p.trade_id,
        )
        for p in session.scalars(select(Position).where(Position.book_id == book.id))
    }


_SAVE_PEAK = (
    update(Position.__table__)
    .where(Position.__table__.c.book_id == bindparam("b_id"), Position.__table__.c.symbol == bindparam("sym"))
    .values(peak=bindparam("pk"))
)


def save_peaks(session: Session | Connection, book: BookRef, positions: dict[str, OpenPosition]) -> None:
    rows = [{"b_id": book.id, "sym": s, "pk": p.peak} for s, p in positions.items() if p.trailing]
    if rows:
        session.execute(_SAVE_PEAK, rows)


def orders_for_bar(session: Session, book: BookRef, bar_time: pd.Timestamp) -> list[Order]:
    return list(
        session.scalars(
            select(Order)
            .where(Order.book_id == book.id, Order.bar_time == bar_time.to_pydatetime())
            .order_by(Order.id)
        )
    )


def newest_order_bar(book: BookRef) -> Any:
    """The bar of the book's newest order (bars up to it may have orders from before a restart)."""
    return select(func.max(Order.bar_time)).where(Order.book_id == book.id)


def insert_orders(
    session: Session, book: BookRef, bar_time: pd.Timestamp, intents: list[Intent]
) -> list[Order]:
    """Insert the bar's orders (in decision order) and return them with their ids."""
    orders = []
    for it in intents:
        orders.append(
            Order(
                client_order_id=client_order_id(book, bar_time, it.symbol, it.side),
                mode=book.mode,
                book_id=book.id,
                symbol=it.symbol,
                side=it.side,
                reason=it.reason,
                bar_time=bar_time.to_pydatetime(),
                reference_price=it.reference_price,
                cash_fraction=it.cash_fraction,
                size=it.size,
                stop_loss=it.stop_loss,
                take_profit=it.take_profit,
                trailing=it.trailing,
            )
        )
    session.add_all(orders)
    session.flush()
    return orders


def record_rejections(
    session: Session | Connection,
    book: BookRef,
    bar_time: pd.Timestamp,
    rejections: list[tuple[str | None, str, str]],
) -> None:
    if rejections:
        session.execute(
            insert(RiskEvent),
            [
                {
                    "book_id": book.id,
                    "bar_time": bar_time.to_pydatetime(),
                    "symbol": symbol,
                    "rule": rule,
                    "detail": detail,
                }
                for symbol, rule, detail in rejections
            ],
        )


def apply_fill(
    session: Session,
    book: BookRef,
    order: Order,
    fill: FillReport,
    state: RuntimeState,
    strategy: str,
    version: str,
) -> float | None:
    """Record the fill and move cash and the position in one transaction; returns a closed trade's P&L."""
    order = session.merge(order)
    order.status, order.exchange_order_id = "filled", fill.exchange_order_id
    session.add(
        Fill(
            order_id=order.id,
            symbol=order.symbol,
            side=order.side,
            size=fill.size,
            price=fill.price,
            fee=fill.fee,
            bar_time=order.bar_time,
            book_id=book.id,
        )
    )
    if order.side == "buy":
        state.cash -= fill.size * fill.price + fill.fee
        regime = session.scalar(  # the regime on the signal's bar, the scan before the bar it fills on
            select(ScanResult.regime)
            .where(
                ScanResult.book_id == book.id,
                ScanResult.symbol == order.symbol,
                ScanResult.bar_time < order.bar_time,
            )
            .order_by(ScanResult.bar_time.desc())
            .limit(1)
        )
        trade = EngineTrade(
            regime=regime,
            mode=book.mode,
            book_id=book.id,
            strategy=strategy,
            strategy_version=version,
            symbol=order.symbol,
            entry_time=order.bar_time,
            size=fill.size,
            entry_price=fill.price,
            entry_fees=fill.fee,
        )
        session.add(trade)
        session.flush()
        session.add(
            Position(
                mode=book.mode,
                book_id=book.id,
                symbol=order.symbol,
                size=fill.size,
                entry_price=fill.price,
                entry_fees=fill.fee,
                entry_time=order.bar_time,
                stop_loss=order.stop_loss,
                take_profit=order.take_profit,
                trailing=order.trailing,
                peak=fill.price,
                trade_id=trade.id,
            )
        )
        return None
    position = session.scalar(
        select(Position).where(Position.book_id == book.id, Position.symbol == order.symbol)
    )
    state.cash += fill.size * fill.price - fill.fee
    trade = session.get(EngineTrade, position.trade_id)
    pnl = fill.size * (fill.price - position.entry_price) - position.entry_fees - fill.fee
    trade.exit_time, trade.exit_price, trade.exit_fees = order.bar_time, fill.price, fill.fee
    trade.pnl, trade.status, trade.exit_reason = pnl, "closed", order.reason
    session.delete(position)
    return pnl


def record_sizing(
    session: Session, book: BookRef, strategy: str, bar_time: pd.Timestamp, decisions: list
) -> None:
    """Each sizing decision of this bar with its inputs (p, a, b, n, f*, shrunk f, cap, skip reason)."""
    session.add_all(
        SizingRecord(
            mode=book.mode,
            book_id=book.id,
            strategy=strategy,
            bar_time=bar_time.to_pydatetime(),
            symbol=d.symbol,
            method=d.method,
            fraction=d.fraction,
            skipped=d.skip,
            reason=d.reason,
            inputs=d.inputs,
        )
        for d in decisions
    )


def ticket(order: Order) -> OrderTicket:
    """The order as the broker sees it."""
    return OrderTicket(
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side,
        reference_price=order.reference_price,
        kind=order.kind,
        limit_price=order.limit_price,
        cash_fraction=order.cash_fraction,
        size=order.size,
    )


def reject_order(session: Session, order: Order, reason: str) -> None:
    order = session.merge(order)
    order.status, order.error = "rejected", reason[:2000]


@dataclass(frozen=True)
class Scan:
    """A bar's scan of one symbol, as the book's bar end writes it."""

    symbol: str
    pending: Pending
    indicators: dict[str, Any]
    rejected: str | None = None
    regime: str | None = None
    votes: tuple | None = None  # (agent, vote, confidence, reason, enabled) on a decision bar


def scan_rows(book: BookRef, bar_time: pd.Timestamp, scans: list[Scan]) -> list[dict[str, Any]]:
    """One scan_results row per symbol of the bar."""
    when = bar_time.to_pydatetime()
    return [
        {
            "book_id": book.id,
            "bar_time": when,
            "symbol": sc.symbol,
            "signal": "entry" if sc.pending.entry else "exit" if sc.pending.exit else "none",
            "rejected": sc.rejected[:256] if sc.rejected else sc.rejected,  # the column's width
            "indicators": sc.indicators,
            "regime": sc.regime,
        }
        for sc in scans
    ]


def decision_rows(bar_time: pd.Timestamp, scans: list[Scan]) -> list[DecisionRow]:
    """A voting strategy's decisions of the bar with every agent's vote (the backtester writes the same
    rows for its decisions: lab.backtest.votes)."""
    return [
        DecisionRow(
            sc.symbol,
            bar_time.to_pydatetime(),
            "entry" if sc.pending.entry else "exit",
            sc.indicators.get("score"),
            int(sc.indicators.get("voters") or 0),
            sc.regime,
            tuple(AgentVoteRow(*v) for v in sc.votes),
        )
        for sc in scans
        if sc.votes is not None and (sc.pending.entry or sc.pending.exit)
    ]


def snapshot_row(
    book: BookRef, kind: str, bar_time: pd.Timestamp, equity: float, cash: float
) -> dict[str, Any]:
    return {
        "mode": book.mode,
        "book_id": book.id,
        "kind": kind,
        "bar_time": bar_time.to_pydatetime(),
        "equity": equity,
        "cash": cash,
        "positions_value": equity - cash,
    }


def write_bar_rows(
    conn: Session | Connection,
    book: BookRef,
    strategy: str,
    scans: list[dict[str, Any]],
    decisions: list[DecisionRow],
    snapshots: list[dict[str, Any]],
    risk: list[dict[str, Any]],
) -> None:
    """A flush's bar ends of one book: one bulk statement per table (this runs for every book)."""
    if scans:
        conn.execute(insert(ScanResult), scans)
    insert_decisions(conn, decisions, strategy=strategy, book_id=book.id)
    if snapshots:
        conn.execute(insert(EquitySnapshot), snapshots)
    if risk:
        conn.execute(insert(RiskEvent), risk)


def trades_frame(session: Session, book_key: str = "paper") -> pd.DataFrame:
    """A book's trades (by its key; the default books are named like their mode), in the backtester's
    trade-frame shape (lab.store.trades)."""
    book_id = session.scalar(select(Book.id).where(Book.key == book_key))
    rows = session.scalars(
        select(EngineTrade).where(EngineTrade.book_id == book_id).order_by(EngineTrade.id)
    ).all()
    frame = frame_from_rows(rows, [c for c in TRADE_COLUMNS if c != "return_pct"])
    frame["exit_reason"] = frame["exit_reason"].fillna("open")
    return frame
