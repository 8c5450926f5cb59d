"""The engine loop: close each bar once and hand it to one trader per book (lab.trading.trader), each
with its own strategy, sizer, risk limits and broker; only live books send real orders. Around that:
operator commands, component health, the group commit of bar ends, locks per book.

Each book's bar runs in three committed phases (see lab.trading.trader), so a crash anywhere resumes
every book without losing or repeating an order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from lab.core.clock import Clock, SystemClock
from lab.core.config import LabConfig
from lab.core.errors import LabError
from lab.core.timeframes import timeframe_delta
from lab.store import commands as cmdq
from lab.store import votes as votes_store
from lab.store.db import connection_scope, session_scope
from lab.strategy.loader import LoadedStrategy
from lab.trading import ledger
from lab.trading.brokers import Broker
from lab.trading.feeds import Feed
from lab.trading.health import FaultInjector, Health, store_health
from lab.trading.lock import DatabaseLock, InstanceLock
from lab.trading.logs import configure
from lab.trading.operator import dispatch
from lab.trading.signals import SignalSource
from lab.trading.sizing import Sizer
from lab.trading.trader import BarPlan, BookSpec, StepIncomplete, Trader
from lab.trading.types import Bar, Step

__all__ = ["BookSpec", "Engine", "EngineSummary", "StepIncomplete"]

# Bar ends (scan rows, snapshots, the state) are group-committed at most this far apart. Safe: any
# order, fill or command flushes first, so the bars a crash loses had no orders, and a restart
# re-derives them exactly (same signals, same positions).
FLUSH_SECONDS = 0.25


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
        books: list[BookSpec] | None = None,
    ) -> None:
        """The first book trades `loaded` with `broker` and `signals` (its key is the broker's mode:
        "paper" or "live"); `books` adds more books on the same bars."""
        self.config, self.feed = config, feed
        self.symbols = list(feed.symbols)
        self.clock = clock or SystemClock()
        self.check_staleness = check_staleness
        # notebook runs belong to lab.pipeline; the CLI hands the engine its launcher
        self.start_notebook = start_notebook or _no_notebooks
        self.faults = faults or FaultInjector(config.faults, sleep=self.clock.sleep)
        self.tf = timeframe_delta(loaded.cls.timeframe)
        self.health = {name: Health() for name in ("feed", "strategy", "broker", "risk", "db")}
        self.log = configure(config.data_dir / "logs")
        self.summary = EngineSummary()
        self._commands_checked = 0.0
        self._flushed_at = time.monotonic()
        primary = BookSpec(broker.mode, broker.mode, loaded, params, broker, signals, sizer)
        specs = [primary, *(books or [])]
        keys = [s.key for s in specs]
        if len(set(keys)) != len(keys):
            raise LabError(f"each book needs its own key, got {keys}")
        self.traders = [Trader(self, spec) for spec in specs]

    # --- the first book, as one-book callers know it ------------------------------------------------
    @property
    def primary(self) -> Trader:
        return self.traders[0]

    @property
    def mode(self) -> str:
        return self.primary.spec.mode

    @property
    def loaded(self) -> LoadedStrategy:
        return self.primary.loaded

    @property
    def state(self) -> ledger.RuntimeState:
        return self.primary.state

    @property
    def positions(self) -> dict[str, Any]:
        return self.primary.positions

    @property
    def record(self) -> Any:
        return self.primary.record

    @property
    def signals(self) -> SignalSource:
        return self.primary.signals

    @property
    def breaker(self) -> Any:
        return self.primary.breaker

    @property
    def submit(self) -> Callable[..., Any]:
        return self.primary.submit

    @submit.setter
    def submit(self, fn: Callable[..., Any]) -> None:
        self.primary.submit = fn

    def equity(self) -> float:
        return self.primary.equity()

    def trader(self, key: str) -> Trader:
        return next(t for t in self.traders if t.spec.key == key)

    # --- state ---------------------------------------------------------------------------------------
    def flush(self, traders: list[Trader] | None = None) -> None:
        """Commit buffered bar ends with each book's current state, in one transaction: every book's
        (the periodic flush, a command, a rollout's move), or those given (a flush group)."""
        todo = [t for t in (self.traders if traders is None else traders) if t.bar_ends]
        if todo:
            with connection_scope(self.config) as conn:
                for trader in todo:
                    trader.write_bar_ends(conn)
        if traders is None:
            self._flushed_at = time.monotonic()

    def flush_group(self, traders: list[Trader]) -> list[Trader]:
        """The books whose bar ends must be durable before these books' orders or fills: the books
        themselves, and when one of them trades real (paper or live) capital, every such book (a
        rollout moves capital between them, so they always stand at the same bar). Shadow books are
        independent virtual accounts: each is flushed on its own."""
        group = set(map(id, traders))
        if any(t.spec.mode != "shadow" for t in traders):
            group |= {id(t) for t in self.traders if t.spec.mode != "shadow"}
        return [t for t in self.traders if id(t) in group]

    # --- commands ------------------------------------------------------------------------------------
    def process_commands(self, force: bool = False) -> None:
        """Operator commands apply to every book of this engine (pause, resume and stop the engine)."""
        now = time.monotonic()
        if not force and now - self._commands_checked < 0.5:  # a DB poll per bar would dominate a fast replay
            return
        self._commands_checked = now
        for cmd in cmdq.pending(self.config):
            self.flush()
            describe = lambda: "; ".join(t.describe() for t in self.traders)  # noqa: E731
            done = dispatch(
                cmd,
                self.primary.state,
                self.faults,
                describe,
                self.start_notebook,
                lambda name, on, reason, source=cmd.source: self.set_agent(name, on, reason, source),
                {"shadow_retire": self._retire_shadow, "promote_now": self._promote_now},
            )
            for trader in self.traders[1:]:  # the same effect on every other book's state
                for attr in ("paused", "pause_reason", "stopped", "consecutive_losses", "faults_enabled"):
                    setattr(trader.state, attr, getattr(self.primary.state, attr))
            with session_scope(self.config) as s:
                for trader in self.traders:
                    ledger.save_state(s, trader.book, trader.state)
                if done.status == "failed":
                    ledger.log_error(s, "commands", done.result)
            cmdq.finish(self.config, cmd.id, done.status, done.result)
            self.summary.commands.append(f"{cmd.command}: {done.status}")
            self.log.info("command", command=cmd.command, status=done.status, result=done.result)

    def set_agent(self, name: str, on: bool, reason: str, source: str, record: bool = True) -> str:
        """Enable or disable an agent in every book whose voting strategy has it (from the next bar on);
        the change is recorded in agent_states, so a restarted engine keeps it."""
        changed = []
        for trader in self.traders:
            panel = trader.panel
            if panel is None or name not in panel.agents:
                continue
            if (name in panel.enabled) != on:
                panel.set_enabled(name, on)
                refresh = getattr(trader.signals, "refresh", None)
                if refresh is not None:  # precomputed signals: the blend runs again (votes are cached)
                    refresh()
            changed.append(trader.spec.key)
        if not changed:
            raise LabError(f"no book of this engine trades with an agent named {name!r}")
        if record:
            with session_scope(self.config) as s:
                votes_store.set_agent_state(s, name, on, reason, source)
        return f"agent {name} {'enabled' if on else 'disabled'} in {', '.join(changed)}"

    def _retire_shadow(self, args: dict) -> str:
        from lab.trading.shadows import key_of, retire_shadow

        key = key_of(str(args.get("shadow", "")))
        message = retire_shadow(self.config, key, str(args.get("reason") or "retired by the operator"))
        for trader in self.traders:
            if trader.spec.key == key:
                trader.disabled = "retired"  # from the next bar on; its record stays
        return message

    def _promote_now(self, args: dict) -> str:
        """The operator's promotion: the rollout starts (its checks still apply to every stage)."""
        from lab.store.equity import difference_sigma
        from lab.trading.rollout_engine import start_rollout
        from lab.trading.shadows import key_of

        key = key_of(str(args.get("shadow", "")))
        self.flush()
        sigma = difference_sigma(self.config, key, self.primary.spec.key)
        if not sigma > 0:
            raise LabError(
                f"{key}: too few common days with {self.primary.spec.key} to scale the rollout's checks"
            )
        return (
            start_rollout(self.config, key, self.primary.spec.key, sigma)
            + " (restart the engine to begin it)"
        )

    def _start_rollout(self) -> None:
        """A running rollout whose candidate trades in this engine: its driver, and the first stage's
        capital if it has not moved yet."""
        from lab.trading.rollout_engine import RolloutDriver, running_rollout

        self.rollout = None
        with session_scope(self.config) as s:
            row = running_rollout(s)
            rid = row.id if row is not None and row.book in {t.spec.key for t in self.traders} else None
        if rid is not None:
            self.rollout = RolloutDriver(self, rid)
            last = self.state.last_bar
            self.rollout.begin(f"{pd.Timestamp(last):%Y-%m-%d}" if last else "start")

    def _apply_agent_states(self) -> None:
        """Agents enabled or disabled at run time before (agent_states) stay so after a restart."""
        if not any(t.panel is not None for t in self.traders):
            return
        with session_scope(self.config) as s:
            states = votes_store.agent_states(s)
        for name, (on, _reason, _source, _at) in states.items():
            if any(t.panel is not None and name in t.panel.agents for t in self.traders):
                self.set_agent(name, on, "", "", record=False)

    # --- one bar -------------------------------------------------------------------------------------
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

    def _guarded(self, trader: Trader, t: pd.Timestamp, phase: Callable[..., Any], *args: Any) -> Any:
        """Run one book's phase; a shadow that raises is disabled with its error and never disturbs the
        other books (its later phases of this bar are skipped)."""
        if trader.disabled:
            return None
        if not trader.buffered:
            return phase(*args)
        try:
            return phase(*args)
        except StepIncomplete:
            raise
        except Exception as exc:
            trader.disable(f"{type(exc).__name__} at {t}: {exc}")
            return None

    def process_step(self, step: Step) -> None:
        t = step.time
        when = t.to_pydatetime()
        if all(tr.state.last_bar is not None and when <= tr.state.last_bar for tr in self.traders):
            return
        bars = self._clean_bars(step)
        stale = self._is_stale(step)
        if stale:
            self.summary.stale_steps += 1
            self.health["feed"].set("degraded", f"stale data: bar {t} arrived at {self.clock.now()}")
            with session_scope(self.config) as s:
                ledger.log_error(s, "feed", f"bar {t} is stale at {self.clock.now()}: no action taken")
        if getattr(self, "rollout", None) is not None:
            self.rollout.on_day(f"{t:%Y-%m-%d}")  # a new UTC day: the rollout's checks and capital moves
        # Every book decides, then the books that trade commit their orders in one transaction (after
        # their earlier bar ends), then orders go to the brokers, then every book closes the bar.
        plans: list[tuple[Trader, BarPlan]] = []
        for trader in self.traders:
            plan = self._guarded(trader, t, trader.plan, t, bars, stale)
            if plan is not None:
                plans.append((trader, plan))
        for trader, plan in plans:
            if plan.writes and trader.buffered:  # a shadow's orders wait for its flush
                self._guarded(trader, t, trader.commit, None, plan)
        writing = [(tr, p) for tr, p in plans if p.writes and not tr.buffered]
        if writing:
            with session_scope(self.config) as session:
                conn = session.connection()
                for trader in self.flush_group([tr for tr, _ in writing]):
                    if trader.bar_ends:
                        trader.write_bar_ends(conn)
                for trader, plan in writing:
                    trader.commit(session, plan)
        for trader, plan in plans:
            self._guarded(trader, t, trader.send, plan, bars)
        for trader, plan in plans:
            self._guarded(trader, t, trader.close, plan, bars)
        if time.monotonic() - self._flushed_at >= FLUSH_SECONDS:
            self.flush()
        self.summary.steps += 1

    # --- loop ----------------------------------------------------------------------------------------
    def _health_tick(self) -> None:
        now = self.clock.now()
        state = self.primary.state
        last = state.last_health_at
        if last is None or (now - last).total_seconds() >= self.config.engine.health_interval_s:
            self.health["db"].set("healthy")
            self.health["risk"].set("degraded" if state.paused else "healthy", state.pause_reason or "")
            store_health(self.config, self.health)
            state.last_health_at = now

    def run(self, max_steps: int | None = None) -> EngineSummary:
        """Run until the feed ends, a stop command arrives, or max_steps bars were processed."""
        with ExitStack() as stack:
            for trader in self.traders:  # one lock per book: no second engine may trade any of them
                lock = stack.enter_context(
                    InstanceLock(self.config.data_dir / f"engine-{trader.spec.key.replace(':', '_')}.lock")
                )
                stack.enter_context(DatabaseLock(self.config.db_url, trader.spec.key))
                if lock.recovered_stale:
                    self.log.warning("stale_lock_recovered", path=str(lock.path))
            for trader in self.traders:
                trader.load()
                trader.state.stopped = False
                trader.state.started_at = self.clock.now()
                trader.save()
            self.faults.enabled = self.faults.enabled or self.primary.state.faults_enabled
            for name in self.health:
                self.health[name].set("healthy")
            self.log.info(
                "engine_start",
                books=[t.spec.key for t in self.traders],
                strategy=self.loaded.name,
                last_bar=str(self.state.last_bar),
            )
            resume_from = [pd.Timestamp(t.state.last_bar) if t.state.last_bar else None for t in self.traders]
            for trader, last in zip(self.traders, resume_from, strict=True):
                resume = getattr(trader.signals, "resume", None)
                if resume is not None:  # a rolling window continues where the last run left it
                    resume(last)
            # the feed resumes after the book that is furthest behind; books ahead skip those bars
            last_bar = (
                None if any(r is None for r in resume_from) else min(r for r in resume_from if r is not None)
            )
            self._apply_agent_states()
            self._start_rollout()
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
                        for trader in self.traders:
                            trader.orders_until = step.time  # orders of this bar may exist now
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
            for trader in self.traders:
                trader.save()
            self.log.info("engine_stop", reason=self.summary.stopped_by, steps=self.summary.steps)
        return self.summary
