"""The engine's persistence: runtime state, orders, fills, positions, trades, snapshots, scan results,
risk events and errors. Every change is committed before the engine acts on it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import JSON, Connection, Text, bindparam, cast, func, insert, select, update
from sqlalchemy.orm import Session

from lab.core.clock import to_utc
from lab.core.contract import TRADE_COLUMNS
from lab.store.models import (
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
from lab.trading.signal_record import RecordState
from lab.trading.types import FillReport, Intent, OpenPosition, OrderTicket, Pending


class PendingModel(BaseModel):
    entry: bool = False
    exit: bool = False
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing: bool = False


class RuntimeState(BaseModel):
    """Everything the engine needs to resume where it stopped (positions live in their own table)."""

    initial_capital: float
    cash: float
    last_bar: datetime | None = None
    pending: dict[str, PendingModel] = Field(default_factory=dict)
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

    @field_validator("last_bar", "started_at", "last_health_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # SQLite hands datetimes back without a zone; every time in the lab is UTC.
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    def pending_map(self) -> dict[str, Pending]:
        return {s: Pending(**p.model_dump()) for s, p in self.pending.items()}


def client_order_id(mode: str, bar_time: pd.Timestamp, symbol: str, side: str) -> str:
    """Deterministic per (mode, bar, symbol, side): a restart re-creates the same id, never a second order."""
    return f"lab-{mode[0]}-{bar_time:%Y%m%d%H%M}-{re.sub(r'[^A-Za-z0-9]', '', symbol)}-{side[0]}"


def log_error(session: Session, component: str, message: str, correlation_id: str | None = None) -> None:
    session.add(EngineError(component=component, message=message[:4000], correlation_id=correlation_id))


def load_state(session: Session, mode: str, initial_capital: float) -> tuple[RuntimeState, list[str]]:
    """The saved state, else its backup copy, else a state rebuilt from the ledger; returns problems seen."""
    problems = []
    for key in (mode, f"{mode}:backup"):
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
    if problems or session.scalar(select(func.count()).select_from(Fill)):
        problems.append("runtime state rebuilt from the ledger (cash from fills; pending signals were lost)")
        return rebuild_state(session, initial_capital), problems
    return RuntimeState(
        initial_capital=initial_capital,
        cash=initial_capital,
        peak_equity=initial_capital,
        day_start_equity=initial_capital,
    ), problems


def rebuild_state(session: Session, initial_capital: float) -> RuntimeState:
    cash = initial_capital
    for fill in session.scalars(select(Fill).order_by(Fill.id)):
        cash += (
            -(fill.size * fill.price + fill.fee) if fill.side == "buy" else fill.size * fill.price - fill.fee
        )
    last = session.scalar(select(func.max(EquitySnapshot.bar_time)))
    peak = session.scalar(select(func.max(EquitySnapshot.equity))) or initial_capital
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


def save_state(session: Session | Connection, mode: str, state: RuntimeState) -> None:
    """Write the state and its backup copy (the copy is what a corrupt row is recovered from). It runs
    on every bar: one prepared UPDATE for both rows."""
    data = state.model_dump(mode="json")
    keys = (mode, f"{mode}:backup")
    done = session.execute(_SAVE_STATE, {"key": keys[0], "backup": keys[1], "data": data, "now": utcnow()})
    if done.rowcount < 2:
        existing = set(session.execute(select(EngineState.mode).where(EngineState.mode.in_(keys))).scalars())
        session.execute(
            insert(EngineState),
            [{"mode": k, "state": data, "updated_at": utcnow()} for k in keys if k not in existing],
        )


def load_positions(session: Session, mode: str) -> dict[str, OpenPosition]:
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
        for p in session.scalars(select(Position).where(Position.mode == mode))
    }


def save_peaks(session: Session, mode: str, positions: dict[str, OpenPosition]) -> None:
    for p in session.scalars(select(Position).where(Position.mode == mode)):
        if p.symbol in positions:
            p.peak = positions[p.symbol].peak


def orders_for_bar(session: Session, mode: str, bar_time: pd.Timestamp) -> list[Order]:
    return list(
        session.scalars(
            select(Order)
            .where(Order.mode == mode, Order.bar_time == bar_time.to_pydatetime())
            .order_by(Order.id)
        )
    )


def insert_orders(session: Session, mode: str, bar_time: pd.Timestamp, intents: list[Intent]) -> list[Order]:
    """Insert the bar's orders (in decision order) and return them with their ids."""
    orders = []
    for it in intents:
        orders.append(
            Order(
                client_order_id=client_order_id(mode, bar_time, it.symbol, it.side),
                mode=mode,
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
    session: Session | Connection, bar_time: pd.Timestamp, rejections: list[tuple[str, str, str]]
) -> None:
    if rejections:
        session.execute(
            insert(RiskEvent),
            [
                {"bar_time": bar_time.to_pydatetime(), "symbol": symbol, "rule": rule, "detail": detail}
                for symbol, rule, detail in rejections
            ],
        )


def apply_fill(
    session: Session,
    mode: str,
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
        )
    )
    if order.side == "buy":
        state.cash -= fill.size * fill.price + fill.fee
        trade = EngineTrade(
            mode=mode,
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
                mode=mode,
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
    position = session.scalar(select(Position).where(Position.mode == mode, Position.symbol == order.symbol))
    state.cash += fill.size * fill.price - fill.fee
    trade = session.get(EngineTrade, position.trade_id)
    pnl = fill.size * (fill.price - position.entry_price) - position.entry_fees - fill.fee
    trade.exit_time, trade.exit_price, trade.exit_fees = order.bar_time, fill.price, fill.fee
    trade.pnl, trade.status, trade.exit_reason = pnl, "closed", order.reason
    session.delete(position)
    return pnl


def record_sizing(
    session: Session, mode: str, strategy: str, bar_time: pd.Timestamp, decisions: list
) -> None:
    """Each sizing decision of this bar with its inputs (p, a, b, n, f*, shrunk f, cap, skip reason)."""
    session.add_all(
        SizingRecord(
            mode=mode,
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


def record_scans(
    session: Session | Connection,
    bar_time: pd.Timestamp,
    scans: list[tuple[str, Pending, dict[str, Any], str | None]],
) -> None:
    """One row per symbol per bar (bulk insert: this runs on every bar)."""
    if scans:
        when = bar_time.to_pydatetime()
        session.execute(
            insert(ScanResult),
            [
                {
                    "bar_time": when,
                    "symbol": sym,
                    "signal": "entry" if p.entry else "exit" if p.exit else "none",
                    "rejected": rejected[:256] if rejected else rejected,  # the column's width
                    "indicators": ind,
                }
                for sym, p, ind, rejected in scans
            ],
        )


def snapshot(
    session: Session | Connection, mode: str, kind: str, bar_time: pd.Timestamp, equity: float, cash: float
) -> None:
    session.execute(
        insert(EquitySnapshot),
        [
            {
                "mode": mode,
                "kind": kind,
                "bar_time": bar_time.to_pydatetime(),
                "equity": equity,
                "cash": cash,
                "positions_value": equity - cash,
            }
        ],
    )


def trades_frame(session: Session, mode: str) -> pd.DataFrame:
    """The engine's trades, in the backtester's trade-frame shape (lab.store.trades)."""
    rows = session.scalars(select(EngineTrade).where(EngineTrade.mode == mode).order_by(EngineTrade.id)).all()
    frame = frame_from_rows(rows, [c for c in TRADE_COLUMNS if c != "return_pct"])
    frame["exit_reason"] = frame["exit_reason"].fillna("open")
    return frame
