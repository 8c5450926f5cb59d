"""Resilience: injected exchange faults, stale data, malformed bars, broker rejections, unknown
commands, corrupt runtime state. None crashes the engine or damages the ledger."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select

from lab.core.clock import ManualClock
from lab.store import commands
from lab.store.db import session_scope
from lab.store.models import EngineError, EngineState, Fill, Order, RiskEvent
from lab.trading.brokers import BrokerRejected
from lab.trading.ledger import RuntimeState
from lab.trading.setup import replay_engine
from lab.trading.types import Bar, Step
from tests.trading.helpers import SYMBOLS, engine_trades, make_project
from tests.trading.test_parity import assert_same_trades


class ClockedFeed:
    """Wraps a replay feed: sets the clock to when each bar 'arrives'; every `stale_every`-th bar is late."""

    def __init__(self, feed, clock: ManualClock, stale_every: int, late: pd.Timedelta) -> None:
        self.feed, self.clock, self.symbols = feed, clock, feed.symbols
        self.stale_every, self.late = stale_every, late
        self.stale_times: set[pd.Timestamp] = set()

    def steps(self, after):
        for i, step in enumerate(self.feed.steps(after)):
            delay = self.late if i % self.stale_every == self.stale_every - 1 else pd.Timedelta(seconds=2)
            if delay == self.late:
                self.stale_times.add(step.time)
            self.clock._now = (step.time + pd.Timedelta(minutes=5) + delay).to_pydatetime()
            yield step


def test_30_percent_exchange_faults_open_the_circuit_recover_and_skip_stale_bars(lab_root):
    cfg = make_project(
        lab_root,
        days=6,
        env={
            "LAB_FAULTS__ENABLED": "true",
            "LAB_FAULTS__ERROR_RATE": "{ broker = 0.3 }",
            "LAB_ENGINE__BREAKER_FAILURES": "2",
            "LAB_ENGINE__BREAKER_RECOVERY_S": "20",
            "LAB_ENGINE__MAX_RETRIES": "4",
        },
    )
    clock = ManualClock(pd.Timestamp("2025-03-01", tz="UTC").to_pydatetime())
    engine = replay_engine(
        cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", clock=clock, check_staleness=True
    )
    feed = ClockedFeed(engine.feed, clock, stale_every=10, late=pd.Timedelta(minutes=30))
    engine.feed = feed
    summary = engine.run()

    assert summary.steps == 6 * 288  # it kept running to the end
    assert engine.faults.injected["broker"] >= 10
    assert engine.breaker.times_opened >= 1 and engine.breaker.state == "closed"  # opened, then recovered
    assert summary.retried_steps >= 1 and summary.stale_steps == len(feed.stale_times) > 0
    with session_scope(cfg) as s:
        orders = s.scalars(select(Order)).all()
        assert orders and all(o.status == "filled" for o in orders)  # every decided order went through
        assert not {pd.Timestamp(o.bar_time).tz_localize("UTC") for o in orders} & feed.stale_times
        assert s.scalar(select(func.count()).select_from(Fill)) == len(orders)
        messages = [e.message for e in s.scalars(select(EngineError))]
    assert any("not sent yet" in m and ("injected fault in broker" in m or "is open" in m) for m in messages)
    assert any("is stale" in m and "no action taken" in m for m in messages)


def test_malformed_bars_are_logged_and_skipped(lab_root):
    cfg = make_project(lab_root, days=1)
    engine = replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic")
    original = engine.feed.steps

    def corrupted(after):
        for i, step in enumerate(original(after)):
            if i in (50, 51):
                bad = dict(step.bars)
                bad["BTC/USD"] = (
                    Bar(float("nan"), 1.0, 1.0, 1.0, 1.0) if i == 50 else Bar(10.0, 5.0, 9.0, 7.0, 1.0)
                )
                step = Step(step.time, bad)
            yield step

    engine.feed.steps = corrupted
    summary = engine.run()
    assert summary.bad_bars == 2 and summary.steps == 288
    with session_scope(cfg) as s:
        errors = [e.message for e in s.scalars(select(EngineError).where(EngineError.component == "feed"))]
    assert any("NaN" in m for m in errors) and any("inconsistent range" in m for m in errors)


def test_broker_rejection_is_recorded_and_the_ledger_is_untouched(lab_root):
    cfg = make_project(lab_root, days=2)
    engine = replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic")
    real_submit = engine.submit
    calls = {"n": 0}

    def flaky(order, cash, bar):
        calls["n"] += 1
        if order.side == "buy" and calls["n"] == 1:
            raise BrokerRejected(f"{order.client_order_id}: insufficient funds (test)")
        return real_submit(order, cash, bar)

    engine.submit = flaky
    summary = engine.run()
    assert summary.rejected_orders == 1
    with session_scope(cfg) as s:
        rejected = s.scalars(select(Order).where(Order.status == "rejected")).one()
        assert "insufficient funds" in rejected.error
        assert s.scalar(select(func.count()).select_from(Fill).where(Fill.order_id == rejected.id)) == 0
        state = RuntimeState.model_validate(s.get(EngineState, "paper").state)
        cash = state.initial_capital
        for f in s.scalars(select(Fill)):
            cash += -(f.size * f.price + f.fee) if f.side == "buy" else f.size * f.price - f.fee
    assert abs(cash - state.cash) < 1e-6


def test_unknown_command_fails_with_a_message_and_known_ones_work(lab_root):
    cfg = make_project(lab_root, days=1)
    bogus = commands.enqueue(cfg, "self_destruct")
    pause = commands.enqueue(cfg, "pause", reason="maintenance")
    engine = replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic")
    engine.run()
    assert commands.outcome(cfg, bogus).status == "failed"
    assert "unknown command 'self_destruct'" in commands.outcome(cfg, bogus).result
    assert commands.outcome(cfg, pause).result == "paused: maintenance"
    with session_scope(cfg) as s:
        assert (
            s.scalar(select(func.count()).select_from(Order).where(Order.side == "buy")) == 0
        )  # paused: no entries
        assert s.scalar(select(func.count()).select_from(RiskEvent).where(RiskEvent.rule == "paused")) > 0


def test_corrupt_runtime_state_is_recovered_from_its_backup_then_from_the_ledger(lab_root):
    cfg = make_project(lab_root, days=2)
    first = replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", end="2025-03-02")
    first.run()
    with session_scope(cfg) as s:
        s.get(EngineState, "paper").state = {"cash": "lots", "garbage": True}
    replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic").run()
    with session_scope(cfg) as s:
        errors = [e.message for e in s.scalars(select(EngineError).where(EngineError.component == "db"))]
    assert any("runtime state row 'paper' is corrupt" in m for m in errors)
    # both copies corrupt: rebuilt from the fills, and the engine still runs
    with session_scope(cfg) as s:
        for key in ("paper", "paper:backup"):
            s.get(EngineState, key).state = {"nonsense": 1}
    summary = replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic").run()
    with session_scope(cfg) as s:
        errors = [e.message for e in s.scalars(select(EngineError).where(EngineError.component == "db"))]
        state = RuntimeState.model_validate(s.get(EngineState, "paper").state)
    assert any("rebuilt from the ledger" in m for m in errors)
    assert state.last_bar is not None and summary.stopped_by == "feed ended"


def test_restart_continues_where_it_stopped(lab_root):
    cfg = make_project(lab_root, days=2)
    replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic").run(max_steps=300)
    summary = replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic").run()
    assert summary.steps == 2 * 288 - 300
    from lab.backtest.run import run_backtest

    bt = run_backtest(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", record=False)
    assert_same_trades(bt.trades, engine_trades(cfg))
