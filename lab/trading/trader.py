"""One trader per book: its strategy's signals, sizer, risk limits, broker (paper, real, or virtual for
a shadow), runtime state and positions, and the three committed phases of a bar for that book.

The engine closes each bar once and hands it to every trader in turn (lab.trading.engine). A trader
writes only rows of its own book, so a crash restarts each book where it stopped, independently:
(A) decisions are written as orders with deterministic client order ids before any broker call;
(B) each fill is written together with its position and cash change; (C) signals, scan results,
snapshots and the "last processed bar" are written last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import pandas as pd
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from lab.core.clock import to_utc
from lab.core.config import LabConfig
from lab.store.db import session_scope
from lab.strategy.loader import LoadedStrategy
from lab.trading import ledger
from lab.trading.brokers import Broker, BrokerRejected
from lab.trading.decide import decide
from lab.trading.health import CircuitBreaker, CircuitOpen, TransientError
from lab.trading.ledger import BookRef
from lab.trading.risk import RiskManager
from lab.trading.shadow_ledger import ShadowLedger
from lab.trading.signal_record import SignalRecord
from lab.trading.signals import SignalSource
from lab.trading.sizing import Sizer, SizingDecision, make_sizer
from lab.trading.types import Bar, Pending

if TYPE_CHECKING:
    from lab.trading.engine import Engine


@lru_cache(maxsize=8192)
def _day(t: pd.Timestamp) -> str:
    """The bar's UTC day; once per bar, not once per book (strftime is slow next to the rest of a bar)."""
    return f"{t:%Y-%m-%d}"


@lru_cache(maxsize=8192)
def _pydatetime(t: pd.Timestamp) -> Any:
    return t.to_pydatetime()


class StepIncomplete(Exception):
    """An order of this bar could not be sent yet (transient failures, open circuit): retry the bar."""


@dataclass
class BookSpec:
    """What trades one book: the book's key and mode, the strategy and its signals, the broker."""

    key: str
    mode: str  # paper, live, shadow
    loaded: LoadedStrategy
    params: Any
    broker: Broker
    signals: SignalSource
    sizer: Sizer | None = None
    capital_share: float = 1.0
    sizing: Any = None  # this book's own [sizing] (a shadow's "kelly_sizing"), else the config's


@dataclass
class BarPlan:
    """One book's bar between its phases: the orders to send (new, or found from before a restart), the
    refusals, and the sizing decisions behind them."""

    t: pd.Timestamp
    orders: list[Any]
    intents: list[Any] = field(default_factory=list)
    rejections: list[tuple[str, str, str]] = field(default_factory=list)
    sized: list[SizingDecision] = field(default_factory=list)

    @property
    def writes(self) -> bool:
        return bool(self.intents or self.rejections)


class Trader:
    def __init__(self, engine: Engine, spec: BookSpec) -> None:
        cfg: LabConfig = engine.config
        self.engine, self.spec, self.config = engine, spec, cfg
        self.loaded, self.params, self.broker, self.signals = (
            spec.loaded,
            spec.params,
            spec.broker,
            spec.signals,
        )
        self.symbols = engine.symbols
        self.capital = cfg.trading_capital.initial_cash * spec.capital_share
        # The Kelly sizer learns from the strategy's signal record (every signal's outcome, taken or not).
        sizing = spec.sizing or cfg.sizing
        self.record = (
            SignalRecord(
                self.symbols, {s: cfg.fees.for_pair(s).taker for s in self.symbols}, cfg.fees.slippage
            )
            if sizing.method == "kelly"
            else None
        )
        self.sizer = spec.sizer or make_sizer(sizing, cfg.trading_capital.position_fraction, self.record)
        self.disabled: str | None = None  # a shadow that failed: why (it is no longer stepped)
        self.risk = RiskManager(cfg.risk)
        self.breaker = CircuitBreaker(
            cfg,
            f"{spec.key}-broker",
            cfg.engine.breaker_failures,
            cfg.engine.breaker_recovery_s,
            now=engine.clock.now,
        )
        self.submit = engine.faults.wrap("broker", spec.broker.submit)
        # A voting strategy's agents: from here on a failing agent abstains (logged), never stops a bar.
        self.panel = getattr(spec.loaded.cls, "panel", None)
        if self.panel is not None:
            self.panel.strict = False
        self.closes: dict[str, float] = {}
        self.regimes: dict[str, str | None] = {}  # each symbol's regime on the last closed bar
        self.bar_ends: list[tuple] = []
        # A shadow's orders, fills and trades are buffered and written with its bar ends (lab.trading.shadow_ledger).
        self.buffered = spec.mode == "shadow"
        self.shadow_ledger: ShadowLedger | None = None
        if self.buffered and hasattr(spec.signals, "all_scans"):
            spec.signals.all_scans = False
        self.orders_until: pd.Timestamp | None = None  # bars up to here may have orders from before a restart
        self.book: BookRef
        self.state: ledger.RuntimeState
        self.positions: dict[str, Any] = {}

    # --- state ---------------------------------------------------------------------------------------
    def load(self) -> None:
        log = self.engine.log
        with session_scope(self.config) as s:
            self.book = ledger.ensure_book(
                s,
                self.spec.key,
                self.spec.mode,
                self.loaded.name,
                self.loaded.version,
                self.params.model_dump(mode="json")
                if hasattr(self.params, "model_dump")
                else dict(self.params or {}),
                self.spec.capital_share,
            )
            self.state, problems = ledger.load_state(s, self.book, self.capital)
            self.positions = ledger.load_positions(s, self.book)
            if self.record is not None and self.state.signal_record is not None:
                self.record.state = self.state.signal_record
            for problem in problems:
                ledger.log_error(s, "db", f"{self.book.key}: {problem}")
                log.error("state_recovered", book=self.book.key, problem=problem)
            self.orders_until = to_utc(s.scalar(ledger.newest_order_bar(self.book)))
        if self.buffered:
            self.shadow_ledger = ShadowLedger(self.book)

    def write_bar_ends(self, conn: Any) -> None:
        """The buffered bar ends and the current state, on the engine's flush connection. A shadow
        book keeps the scans that signalled and an hourly equity point, and the batch's last (its
        trades, orders and daily equity are complete): 30 shadows must not write 30 times what the
        active book writes."""
        shadow = self.spec.mode == "shadow"
        if self.shadow_ledger:
            self.shadow_ledger.write(conn)  # its orders, fills and trades first: the bar ends follow them
        last = len(self.bar_ends) - 1
        scans, decisions, snaps, risk = [], [], [], []
        for i, (t, bar_scans, new_day, equity, cash, events) in enumerate(self.bar_ends):
            if bar_scans:  # (a shadow's close kept only the scans that can act)
                scans += ledger.scan_rows(self.book, t, bar_scans)
                decisions += ledger.decision_rows(t, bar_scans)
            if new_day:
                snaps.append(ledger.snapshot_row(self.book, "daily", t, equity, cash))
            risk += [
                {
                    "book_id": self.book.id,
                    "bar_time": t.to_pydatetime(),
                    "symbol": None,
                    "rule": r,
                    "detail": d,
                }
                for r, d in events
            ]
            if not shadow or t.minute == 0 or i == last:  # the last one: a rebuilt state resumes there
                snaps.append(ledger.snapshot_row(self.book, "bar", t, equity, cash))
        ledger.write_bar_rows(conn, self.book, self.loaded.name, scans, decisions, snaps, risk)
        if any(p.trailing for p in self.positions.values()):  # a trailing stop's peak, as of the state's bar
            ledger.save_peaks(conn, self.book, self.positions)
        ledger.save_state(conn, self.book, self.state)
        self.bar_ends.clear()

    def disable(self, reason: str) -> None:
        """Switch this (shadow) book off for good: recorded on the book and in the engine's errors."""
        from sqlalchemy import update as sql_update

        from lab.store.models import Book

        self.disabled = reason
        with session_scope(self.config) as s:
            s.execute(
                sql_update(Book).where(Book.id == self.book.id).values(status="disabled", error=reason[:2000])
            )
            ledger.log_error(s, "shadow", f"{self.book.key} disabled: {reason}")
        self.engine.log.error("shadow_disabled", book=self.book.key, reason=reason)

    def save(self) -> None:
        with session_scope(self.config) as s:
            ledger.save_state(s, self.book, self.state)

    def equity(self) -> float:
        return self.state.cash + sum(
            p.size * self.closes.get(s, p.entry_price) for s, p in self.positions.items()
        )

    def describe(self) -> str:
        return (
            f"{self.book.key}: {'paused' if self.state.paused else 'running'}, last bar {self.state.last_bar}, "
            f"equity {self.equity():,.2f}, {len(self.positions)} open position(s)"
        )

    # --- one bar, in phases the engine runs for every book in turn ---------------------------------------
    def plan(self, t: pd.Timestamp, bars: dict[str, Bar | None], stale: bool) -> BarPlan | None:
        """This bar's decisions (no DB write); None when the book closed the bar already."""
        if self.state.last_bar is not None and _pydatetime(t) <= self.state.last_bar:
            return None  # this book already closed the bar (a retried step, or a restart)
        orders = []
        if self.orders_until is not None and t <= self.orders_until:
            with session_scope(self.config) as s:
                orders = ledger.orders_for_bar(s, self.book, t)
        if stale or orders:  # stale: the engine logged it once for all books; no action on stale data
            return BarPlan(t, orders)
        if (
            not self.positions
            and not self.state.liquidate
            and not any(p.entry for p in self.state.pending.values())
        ):
            return BarPlan(t, [])  # flat and nothing to enter: decide() would find nothing to do
        equity = self.equity()
        sized: list[SizingDecision] = []

        def size_entry(symbol: str) -> tuple[float | None, str]:
            decision = self.sizer.decide(symbol)
            sized.append(decision)
            return (None if decision.skip else decision.fraction), decision.reason

        pending = self.state.pending_map()
        if self.state.liquidate:  # a rollout takes this book's capital: every position exits now
            pending = {sym: Pending(exit=True) for sym in self.positions} | {
                sym: Pending() for sym in pending if sym not in self.positions
            }
        decisions = decide(
            self.symbols,
            bars,
            self.positions,
            pending,
            self.config.trading_capital.max_open_positions,
            size_entry,
            lambda sym, frac: self.risk.check_entry(self.state, equity, frac),
        )
        self.engine.summary.orders += len(decisions.intents)
        return BarPlan(t, [], decisions.intents, decisions.rejections, sized)

    def commit(self, session: Any, plan: BarPlan) -> None:
        """(A) the bar's orders, refusals and sizing decisions, in the engine's transaction (after this
        book's earlier bar ends): committed before any broker sees an order. A shadow's are buffered."""
        if self.shadow_ledger is not None:
            plan.orders = self.shadow_ledger.orders(plan.t, plan.intents)
            self.shadow_ledger.rejections(plan.t, plan.rejections)
            if self.sizer.method != "fixed":
                self.shadow_ledger.sizing(self.loaded.name, plan.t, plan.sized)
            return
        plan.orders = ledger.insert_orders(session, self.book, plan.t, plan.intents)
        ledger.record_rejections(session, self.book, plan.t, plan.rejections)
        if self.sizer.method != "fixed":
            ledger.record_sizing(session, self.book, self.loaded.name, plan.t, plan.sized)

    def send(self, plan: BarPlan, bars: dict[str, Bar | None]) -> None:
        """(B) each new order to the broker; each fill committed with its position and cash."""
        for order in plan.orders:
            if isinstance(order, dict):  # a shadow's buffered order
                if order["status"] == "new":
                    self._fill_virtual(order, bars.get(order["symbol"]))
            elif order.status == "new":
                self._send(order, bars.get(order.symbol))

    def _fill_virtual(self, row: dict[str, Any], bar: Bar | None) -> None:
        """A shadow's order on its virtual broker (no exchange, no retry, no breaker): buffered."""
        assert self.shadow_ledger is not None
        summary = self.engine.summary
        try:
            fill = self.broker.submit(ShadowLedger.ticket(row), self.state.cash, bar)
        except BrokerRejected as exc:
            self.shadow_ledger.reject(row, str(exc))
            summary.rejected_orders += 1
            self.engine.log.warning("order_rejected", client_order_id=row["client_order_id"], error=str(exc))
            return
        pnl = self.shadow_ledger.fill(
            row,
            fill,
            self.state,
            self.positions,
            self.loaded.name,
            self.loaded.version,
            self.regimes.get(row["symbol"]),
        )
        events = self.risk.record_trade(self.state, pnl) if pnl is not None else []
        self.shadow_ledger.rejections(
            pd.Timestamp(row["bar_time"]), [(row["symbol"], r, d) for r, d in events]
        )
        summary.fills += 1

    def close(self, plan: BarPlan, bars: dict[str, Bar | None]) -> None:
        """(C) signals for the next bar, scans and snapshots: buffered, written by the engine's flush."""
        pendings = self._quiet(plan, bars)
        if pendings is not None:
            self._close_quiet(plan.t, bars, pendings)
            return
        self._close_bar(plan.t, bars, {sym: f"{rule}: {detail}" for sym, rule, detail in plan.rejections})

    def _quiet(self, plan: BarPlan, bars: dict[str, Bar | None]) -> dict[str, Pending] | None:
        """A flat shadow on a bar where its signals neither enter nor exit: most of a shadow's bars. Its
        close is then only the bookkeeping, and leaves the state the full close would (a test compares)."""
        quiet = getattr(self.signals, "quiet", None)
        ok = (
            self.buffered
            and quiet is not None
            and self.record is None
            and self.panel is None
            and not self.positions
            and not plan.rejections
            and None not in bars.values()
        )
        return quiet(plan.t) if ok else None

    def _close_quiet(
        self, t: pd.Timestamp, bars: dict[str, Bar | None], pendings: dict[str, Pending]
    ) -> None:
        for symbol, bar in bars.items():
            self.closes[symbol] = bar.close  # type: ignore[union-attr]
        equity = self.state.cash
        day = _day(t)
        new_day = self.state.day is not None and self.state.day != day
        self.state.pending = pendings
        events = self.risk.update_after_close(self.state, equity, day)
        self.state.last_bar = _pydatetime(t)
        self.bar_ends.append((t, [], new_day, equity, self.state.cash, events))

    def _send(self, order: Any, bar: Bar | None) -> None:
        engine, summary, log = self.engine, self.engine.summary, self.engine.log
        retry = Retrying(
            retry=retry_if_exception_type(TransientError),
            reraise=True,
            stop=stop_after_attempt(self.config.engine.max_retries + 1),
            wait=wait_exponential(multiplier=0.05, max=2),
            sleep=engine.clock.sleep,
        )
        engine.flush(engine.flush_group([self]))  # this book's earlier bar ends before its fill
        try:
            plain = ledger.ticket(order)
            fill = retry(lambda: self.breaker.call(lambda: self.submit(plain, self.state.cash, bar)))
        except BrokerRejected as exc:
            with session_scope(self.config) as s:
                ledger.reject_order(s, order, str(exc))
                ledger.log_error(
                    s, "broker", f"order {order.client_order_id} rejected: {exc}", order.client_order_id
                )
            summary.rejected_orders += 1
            log.warning("order_rejected", client_order_id=order.client_order_id, error=str(exc))
            return
        except (TransientError, CircuitOpen) as exc:
            engine.health["broker"].set("degraded" if isinstance(exc, TransientError) else "failed", str(exc))
            with session_scope(self.config) as s:
                ledger.log_error(
                    s, "broker", f"order {order.client_order_id} not sent yet: {exc}", order.client_order_id
                )
            raise StepIncomplete(str(exc)) from exc
        with session_scope(self.config) as s:
            pnl = ledger.apply_fill(
                s, self.book, order, fill, self.state, self.loaded.name, self.loaded.version
            )
            events = self.risk.record_trade(self.state, pnl) if pnl is not None else []
            ledger.record_rejections(
                s, self.book, pd.Timestamp(order.bar_time), [(order.symbol, r, d) for r, d in events]
            )
            ledger.save_state(s, self.book, self.state)
            self.positions = ledger.load_positions(s, self.book)
        engine.health["broker"].set("healthy")
        summary.fills += 1
        log.info(
            "fill",
            book=self.book.key,
            client_order_id=order.client_order_id,
            side=order.side,
            size=fill.size,
            price=fill.price,
            fee=fill.fee,
            pnl=pnl,
        )

    def _close_bar(self, t: pd.Timestamp, bars: dict[str, Bar | None], rejections: dict[str, str]) -> None:
        engine = self.engine
        try:
            if self.buffered and hasattr(self.signals, "holding"):
                self.signals.holding = self.positions
            updates = self.signals.update(t, bars)
            if not self.buffered:  # a shadow's health is its own status (disabled), never the engine's
                engine.health["strategy"].set("healthy")
        except Exception as exc:  # a strategy failure must not corrupt the ledger: no new signals this bar
            updates = {}
            if self.spec.mode == "shadow":  # a failing shadow is switched off; the active book goes on
                self.disable(f"signals failed at {t}: {exc}")
            else:
                engine.health["strategy"].set("failed", str(exc))
                with session_scope(self.config) as s:
                    ledger.log_error(s, "strategy", f"{self.book.key}: signals failed at {t}: {exc}")
        if self.panel is not None and self.panel.errors:  # failing agents abstained; say which and why
            errors, self.panel.errors = self.panel.errors, []
            with session_scope(self.config) as s:
                for agent, message in errors:
                    ledger.log_error(
                        s, "agent", f"{self.book.key}: agent {agent} abstained at {t}: {message}"
                    )
        for symbol, bar in bars.items():
            if bar is not None:
                self.closes[symbol] = bar.close
        for symbol, u in updates.items():
            self.regimes[symbol] = u.regime
        if self.record is not None:  # after the decision: this bar's outcomes size only later entries
            self.record.update(bars, self.state.pending_map())
            self.state.signal_record = self.record.state
        equity = self.equity()
        day = _day(t)
        new_day = self.state.day is not None and self.state.day != day
        # The close rides along with each scan, so the dashboard can value positions without candles.
        # A shadow writes only the scans that can act: entries, and exits of what it holds (a voting
        # strategy's every decision too: its vote record is judged on them, as the backtest's is).
        only_signals, voting = self.buffered, self.panel is not None
        scans = [
            ledger.Scan(
                sym,
                u.pending,
                u.indicators | {"close": bars[sym].close},
                rejections.get(sym),
                u.regime,
                u.votes,
            )  # type: ignore[union-attr]
            for sym, u in updates.items()
            if bars.get(sym) is not None
            and (
                not only_signals or u.pending.entry or (u.pending.exit and (voting or sym in self.positions))
            )
        ]
        self.state.pending = {sym: u.pending for sym, u in updates.items()} | {
            sym: p for sym, p in self.state.pending.items() if sym not in updates and bars.get(sym) is None
        }
        events = self.risk.update_after_close(self.state, equity, day)
        self.state.last_bar = _pydatetime(t)
        self.bar_ends.append((t, scans, new_day, equity, self.state.cash, events))
