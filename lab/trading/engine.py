"""The engine loop: on each closed bar, execute the orders the previous bar's signals asked for (and
stops), then read the strategy's signals for the next bar.

Each bar runs in three committed phases, so a crash anywhere resumes without losing or repeating an
order: (A) decisions are written as orders with deterministic client order ids before any broker
call; (B) each fill is written together with its position and cash change; (C) signals, scan results,
snapshots and the "last processed bar" are written last. On restart a bar whose orders exist is not
decided again: its remaining orders are submitted (idempotently) and phase C runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from lab.core.clock import Clock, SystemClock, to_utc
from lab.core.config import LabConfig
from lab.core.errors import LabError
from lab.core.timeframes import timeframe_delta
from lab.store import commands as cmdq
from lab.store.db import connection_scope, session_scope
from lab.store.models import Order
from lab.strategy.loader import LoadedStrategy
from lab.trading import ledger
from lab.trading.brokers import Broker, BrokerRejected
from lab.trading.decide import decide
from lab.trading.feeds import Feed
from lab.trading.health import (
    CircuitBreaker,
    CircuitOpen,
    FaultInjector,
    Health,
    TransientError,
    store_health,
)
from lab.trading.lock import DatabaseLock, InstanceLock
from lab.trading.logs import configure
from lab.trading.operator import dispatch
from lab.trading.risk import RiskManager
from lab.trading.signal_record import SignalRecord
from lab.trading.signals import SignalSource
from lab.trading.sizing import Sizer, SizingDecision, make_sizer
from lab.trading.types import Bar, Step

# Bar ends (scan rows, snapshots, the state) are group-committed at most this far apart. Safe: any
# order, fill or command flushes first, so the bars a crash loses had no orders, and a restart
# re-derives them exactly (same signals, same positions).
FLUSH_SECONDS = 0.25


class StepIncomplete(Exception):
    """An order of this bar could not be sent yet (transient failures, open circuit): retry the bar."""


@dataclass
class EngineSummary:
    steps: int = 0
    orders: int = 0
    fills: int = 0
    rejected_orders: int = 0
    bad_bars: int = 0
    stale_steps: int = 0
    retried_steps: int = 0
    commands: list[str] = field(default_factory=list)
    stopped_by: str = "feed ended"


def _no_notebooks(name: str) -> str:
    raise LabError(f"cannot run notebook {name!r}: this engine was started without a notebook launcher")


class Engine:
    def __init__(
        self,
        config: LabConfig,
        loaded: LoadedStrategy,
        params: Any,
        feed: Feed,
        broker: Broker,
        signals: SignalSource,
        *,
        clock: Clock | None = None,
        sizer: Sizer | None = None,
        check_staleness: bool = False,
        faults: FaultInjector | None = None,
        start_notebook: Callable[[str], str] | None = None,
    ) -> None:
        self.config, self.loaded, self.params = config, loaded, params
        self.feed, self.broker, self.signals = feed, broker, signals
        self.mode, self.symbols = broker.mode, list(feed.symbols)
        self.clock = clock or SystemClock()
        # The Kelly sizer learns from the strategy's signal record (every signal's outcome, taken or not).
        self.record = (
            SignalRecord(
                self.symbols, {s: config.fees.for_pair(s).taker for s in self.symbols}, config.fees.slippage
            )
            if config.sizing.method == "kelly"
            else None
        )
        self.sizer = sizer or make_sizer(config.sizing, config.trading_capital.position_fraction, self.record)
        self.risk = RiskManager(config.risk)
        self.check_staleness = check_staleness
        # notebook runs belong to lab.pipeline; the CLI hands the engine its launcher
        self.start_notebook = start_notebook or _no_notebooks
        self.faults = faults or FaultInjector(config.faults, sleep=self.clock.sleep)
        self.tf = timeframe_delta(loaded.cls.timeframe)
        self.health = {name: Health() for name in ("feed", "strategy", "broker", "risk", "db")}
        self.breaker = CircuitBreaker(
            config,
            f"{self.mode}-broker",
            config.engine.breaker_failures,
            config.engine.breaker_recovery_s,
            now=self.clock.now,
        )
        self.submit = self.faults.wrap("broker", broker.submit)
        self.log = configure(config.data_dir / "logs")
        self.closes: dict[str, float] = {}
        self.summary = EngineSummary()
        self._commands_checked = 0.0
        self._orders_until: pd.Timestamp | None = (
            None  # bars up to here may have orders from before a restart
        )
        self._bar_ends: list[tuple] = []
        self._flushed_at = time.monotonic()

    # --- state -------------------------------------------------------------------------------------
    def _load(self) -> None:
        with session_scope(self.config) as s:
            self.state, problems = ledger.load_state(s, self.mode, self.config.trading_capital.initial_cash)
            self.positions = ledger.load_positions(s, self.mode)
            if self.record is not None and self.state.signal_record is not None:
                self.record.state = self.state.signal_record
            for problem in problems:
                ledger.log_error(s, "db", problem)
                self.log.error("state_recovered", problem=problem)
        self.faults.enabled = self.faults.enabled or self.state.faults_enabled

    def flush(self) -> None:
        """Commit the buffered bar ends together with the current state."""
        if not self._bar_ends:
            return
        with connection_scope(self.config) as s:
            for t, scans, new_day, equity, cash, events in self._bar_ends:
                ledger.record_scans(s, t, scans)
                if new_day:
                    ledger.snapshot(s, self.mode, "daily", t, equity, cash)
                ledger.record_rejections(s, t, [(None, r, d) for r, d in events])
                ledger.snapshot(s, self.mode, "bar", t, equity, cash)
            ledger.save_state(s, self.mode, self.state)
        self._bar_ends.clear()
        self._flushed_at = time.monotonic()

    def equity(self) -> float:
        return self.state.cash + sum(
            p.size * self.closes.get(s, p.entry_price) for s, p in self.positions.items()
        )

    # --- commands ----------------------------------------------------------------------------------
    def process_commands(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._commands_checked < 0.5:  # a DB poll per bar would dominate a fast replay
            return
        self._commands_checked = now
        for cmd in cmdq.pending(self.config):
            self.flush()
            done = dispatch(cmd, self.state, self.faults, self._describe, self.start_notebook)
            with session_scope(self.config) as s:
                ledger.save_state(s, self.mode, self.state)
                if done.status == "failed":
                    ledger.log_error(s, "commands", done.result)
            cmdq.finish(self.config, cmd.id, done.status, done.result)
            self.summary.commands.append(f"{cmd.command}: {done.status}")
            self.log.info("command", command=cmd.command, status=done.status, result=done.result)

    def _describe(self) -> str:
        return (
            f"{'paused' if self.state.paused else 'running'}, last bar {self.state.last_bar}, "
            f"equity {self.equity():,.2f}, {len(self.positions)} open position(s)"
        )

    # --- one bar -----------------------------------------------------------------------------------
    def _clean_bars(self, step: Step) -> dict[str, Bar | None]:
        bars: dict[str, Bar | None] = {}
        for symbol in self.symbols:
            bar = step.bars.get(symbol)
            problem = bar.problem() if bar is not None else None
            if problem:
                self.summary.bad_bars += 1
                self.health["feed"].set("degraded", f"malformed bar for {symbol} at {step.time}")
                with session_scope(self.config) as s:
                    ledger.log_error(
                        s,
                        "feed",
                        f"malformed bar for {symbol} at {step.time} ignored: {problem}",
                        f"bar-{step.time:%Y%m%d%H%M}",
                    )
                self.log.warning("bad_bar", symbol=symbol, bar_time=str(step.time), problem=problem)
                bar = None
            bars[symbol] = bar
        return bars

    def _is_stale(self, step: Step) -> bool:
        if not self.check_staleness:
            return False
        age = pd.Timestamp(self.clock.now()) - (step.time + self.tf)
        return age > self.tf * self.config.engine.stale_after_bars

    def _send(self, order: Any, bar: Bar | None) -> None:
        retry = Retrying(
            retry=retry_if_exception_type(TransientError),
            reraise=True,
            stop=stop_after_attempt(self.config.engine.max_retries + 1),
            wait=wait_exponential(multiplier=0.05, max=2),
            sleep=self.clock.sleep,
        )
        self.flush()
        try:
            plain = ledger.ticket(order)
            fill = retry(lambda: self.breaker.call(lambda: self.submit(plain, self.state.cash, bar)))
        except BrokerRejected as exc:
            with session_scope(self.config) as s:
                ledger.reject_order(s, order, str(exc))
                ledger.log_error(
                    s, "broker", f"order {order.client_order_id} rejected: {exc}", order.client_order_id
                )
            self.summary.rejected_orders += 1
            self.log.warning("order_rejected", client_order_id=order.client_order_id, error=str(exc))
            return
        except (TransientError, CircuitOpen) as exc:
            self.health["broker"].set("degraded" if isinstance(exc, TransientError) else "failed", str(exc))
            with session_scope(self.config) as s:
                ledger.log_error(
                    s, "broker", f"order {order.client_order_id} not sent yet: {exc}", order.client_order_id
                )
            raise StepIncomplete(str(exc)) from exc
        with session_scope(self.config) as s:
            pnl = ledger.apply_fill(
                s, self.mode, order, fill, self.state, self.loaded.name, self.loaded.version
            )
            events = self.risk.record_trade(self.state, pnl) if pnl is not None else []
            ledger.record_rejections(
                s, pd.Timestamp(order.bar_time), [(order.symbol, r, d) for r, d in events]
            )
            ledger.save_state(s, self.mode, self.state)
            self.positions = ledger.load_positions(s, self.mode)
        self.health["broker"].set("healthy")
        self.summary.fills += 1
        self.log.info(
            "fill",
            client_order_id=order.client_order_id,
            side=order.side,
            size=fill.size,
            price=fill.price,
            fee=fill.fee,
            pnl=pnl,
        )

    def process_step(self, step: Step) -> None:
        t = step.time
        if self.state.last_bar is not None and t <= pd.Timestamp(self.state.last_bar):
            return
        bars = self._clean_bars(step)
        stale = self._is_stale(step)
        orders = []
        if self._orders_until is not None and t <= self._orders_until:
            with session_scope(self.config) as s:
                orders = ledger.orders_for_bar(s, self.mode, t)
        rejections: dict[str, str] = {}
        if stale:
            self.summary.stale_steps += 1
            self.health["feed"].set("degraded", f"stale data: bar {t} arrived at {self.clock.now()}")
            with session_scope(self.config) as s:
                ledger.log_error(s, "feed", f"bar {t} is stale at {self.clock.now()}: no action taken")
        elif not orders:
            equity = self.equity()
            sized: list[SizingDecision] = []

            def size_entry(symbol: str) -> tuple[float | None, str]:
                decision = self.sizer.decide(symbol)
                sized.append(decision)
                return (None if decision.skip else decision.fraction), decision.reason

            decisions = decide(
                self.symbols,
                bars,
                self.positions,
                self.state.pending_map(),
                self.config.trading_capital.max_open_positions,
                size_entry,
                lambda sym, frac: self.risk.check_entry(self.state, equity, frac),
            )
            rejections = {sym: f"{rule}: {detail}" for sym, rule, detail in decisions.rejections}
            trailing = any(p.trailing for p in self.positions.values())
            if decisions.intents or decisions.rejections or trailing:
                self.flush()
                with session_scope(self.config) as s:
                    orders = ledger.insert_orders(s, self.mode, t, decisions.intents)
                    ledger.record_rejections(s, t, decisions.rejections)
                    if self.sizer.method != "fixed":
                        ledger.record_sizing(s, self.mode, self.loaded.name, t, sized)
                    ledger.save_peaks(s, self.mode, self.positions)
            self.summary.orders += len(decisions.intents)
        for order in orders:
            if order.status == "new":
                self._send(order, bars.get(order.symbol))
        self._close_bar(t, bars, rejections)

    def _close_bar(self, t: pd.Timestamp, bars: dict[str, Bar | None], rejections: dict[str, str]) -> None:
        try:
            updates = self.signals.update(t, bars)
            self.health["strategy"].set("healthy")
        except Exception as exc:  # a strategy failure must not corrupt the ledger: no new signals this bar
            updates = {}
            self.health["strategy"].set("failed", str(exc))
            with session_scope(self.config) as s:
                ledger.log_error(s, "strategy", f"signals failed at {t}: {exc}")
        for symbol, bar in bars.items():
            if bar is not None:
                self.closes[symbol] = bar.close
        if self.record is not None:  # after the decision: this bar's outcomes size only later entries
            self.record.update(bars, self.state.pending_map())
            self.state.signal_record = self.record.state
        equity = self.equity()
        day = f"{t:%Y-%m-%d}"
        new_day = self.state.day is not None and self.state.day != day
        # The close rides along with each scan, so the dashboard can value positions without candles.
        scans = [
            (sym, p, ind | {"close": bars[sym].close}, rejections.get(sym))
            for sym, (p, ind) in updates.items()
            if bars.get(sym) is not None
        ]
        self.state.pending = {sym: ledger.PendingModel(**vars(p)) for sym, (p, _) in updates.items()} | {
            sym: p for sym, p in self.state.pending.items() if sym not in updates and bars.get(sym) is None
        }
        events = self.risk.update_after_close(self.state, equity, day)
        self.state.last_bar = t.to_pydatetime()
        self._bar_ends.append((t, scans, new_day, equity, self.state.cash, events))
        if time.monotonic() - self._flushed_at >= FLUSH_SECONDS:
            self.flush()
        self.summary.steps += 1

    # --- loop --------------------------------------------------------------------------------------
    def _health_tick(self) -> None:
        now = self.clock.now()
        last = self.state.last_health_at
        if last is None or (now - last).total_seconds() >= self.config.engine.health_interval_s:
            self.health["db"].set("healthy")
            self.health["risk"].set(
                "degraded" if self.state.paused else "healthy", self.state.pause_reason or ""
            )
            store_health(self.config, self.health)
            self.state.last_health_at = now

    def run(self, max_steps: int | None = None) -> EngineSummary:
        """Run until the feed ends, a stop command arrives, or max_steps bars were processed."""
        lock = InstanceLock(self.config.data_dir / f"engine-{self.mode}.lock")
        with lock, DatabaseLock(self.config.db_url, self.mode):
            self._load()
            if lock.recovered_stale:
                self.log.warning("stale_lock_recovered", path=str(lock.path))
            self.state.stopped = False
            self.state.started_at = self.clock.now()
            with session_scope(self.config) as s:
                newest = s.scalar(select(func.max(Order.bar_time)).where(Order.mode == self.mode))
            self._orders_until = to_utc(newest)
            with session_scope(self.config) as s:
                ledger.save_state(s, self.mode, self.state)
            for name in self.health:
                self.health[name].set("healthy")
            self.log.info(
                "engine_start", mode=self.mode, strategy=self.loaded.name, last_bar=str(self.state.last_bar)
            )
            last_bar = pd.Timestamp(self.state.last_bar) if self.state.last_bar else None
            resume = getattr(self.signals, "resume", None)
            if resume is not None:  # a rolling window continues where the last run left it
                resume(last_bar)
            self.process_commands(force=True)
            for step in self.feed.steps(last_bar):
                self.process_commands()
                if self.state.stopped:
                    self.summary.stopped_by = "stop command"
                    break
                while True:
                    try:
                        self.process_step(step)
                        break
                    except StepIncomplete as exc:
                        self.summary.retried_steps += 1
                        self.log.warning("step_retry", bar_time=str(step.time), error=str(exc))
                        self.clock.sleep(min(self.config.engine.breaker_recovery_s, 5.0))
                        self._orders_until = step.time  # orders of this bar exist now
                        self.process_commands(force=True)
                        if self.state.stopped:
                            break
                self._health_tick()
                if max_steps is not None and self.summary.steps >= max_steps:
                    self.summary.stopped_by = "max_steps"
                    break
            self.flush()
            for h in self.health.values():
                h.set("stopped")
            store_health(self.config, self.health)
            with session_scope(self.config) as s:
                ledger.save_state(s, self.mode, self.state)
            self.log.info("engine_stop", reason=self.summary.stopped_by, steps=self.summary.steps)
        return self.summary
