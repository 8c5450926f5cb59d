"""A shadow book's ledger writes, buffered and written with its bar ends in one transaction.

A shadow trades a virtual broker: an order has no effect outside the lab, so the rule that orders are
committed before a broker sees them (a restart must never send a real order twice) has nothing to
protect there. A shadow's bar is therefore one unit: its orders, fills, trades, positions, refusals and
sizing decisions are kept in memory and written at the engine's flush together with the bar ends and
the state of the same bars. A crash loses the shadow's unflushed bars whole, and the restart decides them
again from the saved state: the same orders and fills (the broker is deterministic). What 30 shadows
cost is then a few bulk statements per flush instead of transactions per order and per fill.

Why by hand: SQLAlchemy's unit of work would do this but costs ~2 ms per fill in ORM bookkeeping; these
are plain Core statements in the order the rows depend on each other (order -> fill, trade -> position).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Connection, bindparam, delete, insert, update

from lab.store.models import EngineError, EngineTrade, Fill, Order, Position, RiskEvent, SizingRecord
from lab.trading.ledger import BookRef, RuntimeState, client_order_id
from lab.trading.types import FillReport, Intent, OpenPosition, OrderTicket


class ShadowLedger:
    def __init__(self, book: BookRef) -> None:
        self.book = book
        self.ops: list[tuple[str, Any]] = []
        self._next = 0

    def __bool__(self) -> bool:
        return bool(self.ops)

    # --- what the trader records ---------------------------------------------------------------------
    def orders(self, t: pd.Timestamp, intents: list[Intent]) -> list[dict[str, Any]]:
        rows = []
        for it in intents:
            row = {
                "client_order_id": client_order_id(self.book, t, it.symbol, it.side),
                "mode": self.book.mode,
                "book_id": self.book.id,
                "symbol": it.symbol,
                "side": it.side,
                "kind": "market",
                "reason": it.reason,
                "bar_time": t.to_pydatetime(),
                "reference_price": it.reference_price,
                "limit_price": None,
                "cash_fraction": it.cash_fraction,
                "size": it.size,
                "stop_loss": it.stop_loss,
                "take_profit": it.take_profit,
                "trailing": it.trailing,
                "status": "new",
                "exchange_order_id": None,
                "error": None,
            }
            rows.append(row)
            self.ops.append(("order", row))
        return rows

    @staticmethod
    def ticket(row: dict[str, Any]) -> OrderTicket:
        return OrderTicket(
            client_order_id=row["client_order_id"],
            symbol=row["symbol"],
            side=row["side"],
            reference_price=row["reference_price"],
            kind=row["kind"],
            limit_price=row["limit_price"],
            cash_fraction=row["cash_fraction"],
            size=row["size"],
        )

    def reject(self, row: dict[str, Any], reason: str) -> None:
        row["status"], row["error"] = "rejected", reason[:2000]
        self.ops.append(
            (
                "error",
                {
                    "component": "broker",
                    "message": f"order {row['client_order_id']} rejected: {reason}"[:4000],
                    "correlation_id": row["client_order_id"],
                },
            )
        )

    def fill(
        self,
        row: dict[str, Any],
        fill: FillReport,
        state: RuntimeState,
        positions: dict[str, OpenPosition],
        strategy: str,
        version: str,
        regime: str | None,
    ) -> float | None:
        """The fill's effect on cash and positions now; its rows at the flush. Returns a closed trade's P&L."""
        row["status"], row["exchange_order_id"] = "filled", fill.exchange_order_id
        when = row["bar_time"]
        self.ops.append(
            (
                "fill",
                {
                    "client_order_id": row["client_order_id"],
                    "symbol": row["symbol"],
                    "side": row["side"],
                    "size": fill.size,
                    "price": fill.price,
                    "fee": fill.fee,
                    "bar_time": when,
                    "book_id": self.book.id,
                },
            )
        )
        symbol = row["symbol"]
        if row["side"] == "buy":
            state.cash -= fill.size * fill.price + fill.fee
            self._next += 1
            local = -self._next  # the trade's id until the flush gives it a real one
            trade = {
                "regime": regime,
                "mode": self.book.mode,
                "book_id": self.book.id,
                "strategy": strategy,
                "strategy_version": version,
                "symbol": symbol,
                "entry_time": when,
                "size": fill.size,
                "entry_price": fill.price,
                "entry_fees": fill.fee,
                "exit_fees": 0.0,
                "status": "open",
                "exit_time": None,
                "exit_price": None,
                "pnl": None,
                "exit_reason": None,
            }
            position = OpenPosition(
                symbol,
                fill.size,
                fill.price,
                fill.fee,
                pd.Timestamp(when),
                row["stop_loss"],
                row["take_profit"],
                row["trailing"],
                fill.price,
                local,
            )
            positions[symbol] = position
            self.ops.append(("open", (local, trade, position)))
            return None
        position = positions.pop(symbol)
        state.cash += fill.size * fill.price - fill.fee
        pnl = fill.size * (fill.price - position.entry_price) - position.entry_fees - fill.fee
        self.ops.append(
            (
                "close",
                (
                    position,
                    {
                        "exit_time": when,
                        "exit_price": fill.price,
                        "exit_fees": fill.fee,
                        "pnl": pnl,
                        "status": "closed",
                        "exit_reason": row["reason"],
                    },
                ),
            )
        )
        return pnl

    def rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.ops.append((table, rows))

    def rejections(self, t: pd.Timestamp, rejections: list[tuple[str | None, str, str]]) -> None:
        self.rows(
            "risk",
            [
                {"book_id": self.book.id, "bar_time": t.to_pydatetime(), "symbol": s, "rule": r, "detail": d}
                for s, r, d in rejections
            ],
        )

    def sizing(self, strategy: str, t: pd.Timestamp, decisions: list) -> None:
        self.rows(
            "sizing",
            [
                {
                    "mode": self.book.mode,
                    "book_id": self.book.id,
                    "strategy": strategy,
                    "bar_time": t.to_pydatetime(),
                    "symbol": d.symbol,
                    "method": d.method,
                    "fraction": d.fraction,
                    "skipped": d.skip,
                    "reason": d.reason,
                    "inputs": d.inputs,
                }
                for d in decisions
            ],
        )

    # --- the flush ---------------------------------------------------------------------------------------
    def write(self, conn: Connection) -> None:
        """Every buffered row in bulk, in the order the tables depend on each other (orders -> fills;
        trades -> positions; a closed position's row goes before a new one of the same symbol). A trade
        opened and closed within the buffer is written once, closed; its position never reaches the table."""
        ops = self.ops
        orders = [v for k, v in ops if k == "order"]
        order_ids: dict[str, int] = {}
        if orders:
            ids = (
                conn.execute(
                    insert(Order.__table__).returning(Order.__table__.c.id, sort_by_parameter_order=True),
                    orders,
                )
                .scalars()
                .all()
            )
            order_ids = {o["client_order_id"]: i for o, i in zip(orders, ids, strict=True)}
        fills = [dict(v) for k, v in ops if k == "fill"]
        for f in fills:
            f["order_id"] = order_ids[f.pop("client_order_id")]
        if fills:
            conn.execute(insert(Fill.__table__), fills)
        opened = [v for k, v in ops if k == "open"]
        closes = [v for k, v in ops if k == "close"]
        closed_here = {p.trade_id: exit_values for p, exit_values in closes if p.trade_id < 0}
        earlier = [(p, exit_values) for p, exit_values in closes if p.trade_id > 0]
        if earlier:  # trades opened before this buffer: closed now, their position rows removed
            conn.execute(
                update(EngineTrade.__table__).where(EngineTrade.__table__.c.id == bindparam("tid")),
                [{"tid": p.trade_id, **v} for p, v in earlier],
            )
            conn.execute(
                delete(Position.__table__).where(
                    Position.__table__.c.book_id == self.book.id,
                    Position.__table__.c.symbol == bindparam("sym"),
                ),
                [{"sym": p.symbol} for p, _v in earlier],
            )
        if opened:
            trades = [trade | closed_here.get(local, {}) for local, trade, _p in opened]
            ids = (
                conn.execute(
                    insert(EngineTrade.__table__).returning(
                        EngineTrade.__table__.c.id, sort_by_parameter_order=True
                    ),
                    trades,
                )
                .scalars()
                .all()
            )
            still_open = []
            for (local, _t, position), tid in zip(opened, ids, strict=True):
                position.trade_id = tid  # the in-memory position (if still open) now knows its trade
                if local not in closed_here:
                    still_open.append(
                        {
                            "mode": self.book.mode,
                            "book_id": self.book.id,
                            "symbol": position.symbol,
                            "size": position.size,
                            "entry_price": position.entry_price,
                            "entry_fees": position.entry_fees,
                            "entry_time": position.entry_time.to_pydatetime(),
                            "stop_loss": position.stop_loss,
                            "take_profit": position.take_profit,
                            "trailing": position.trailing,
                            "peak": position.peak,
                            "trade_id": tid,
                        }
                    )
            if still_open:
                conn.execute(insert(Position.__table__), still_open)
        for kind, table in (
            ("error", EngineError.__table__),
            ("risk", RiskEvent.__table__),
            ("sizing", SizingRecord.__table__),
        ):
            rows = [r for k, v in ops if k == kind for r in (v if isinstance(v, list) else [v])]
            if rows:
                conn.execute(insert(table), rows)
        self.ops = []
