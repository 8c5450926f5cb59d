from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from lab.cli.main import app
from lab.core.config import RiskConfig
from lab.core.locks import AlreadyRunning, InstanceLock, is_held
from lab.trading.decide import decide
from lab.trading.ledger import RuntimeState
from lab.trading.risk import RiskManager
from lab.trading.types import Bar, OpenPosition, Pending
from tests.trading.helpers import SYMBOLS, make_project


def _state(**kw):
    return RuntimeState(
        initial_capital=10_000,
        cash=kw.pop("cash", 10_000),
        peak_equity=kw.pop("peak", 10_000),
        day_start_equity=kw.pop("day_start", 10_000),
        **kw,
    )


def test_drawdown_kill_switch_daily_loss_consecutive_losses_and_clamp():
    risk = RiskManager(
        RiskConfig(
            max_position_fraction=0.2, daily_loss_limit=0.05, max_drawdown=0.25, max_consecutive_losses=3
        )
    )
    s = _state()
    assert risk.check_entry(s, 10_000, 0.5) == (
        0.2,
        "position_size_clamped",
        "entry of 5,000.00 clamped to 2,000.00",
    )
    assert risk.check_entry(s, 10_000, 0.1)[0] == 0.1
    assert risk.check_entry(s, 9_400, 0.1)[1] == "daily_loss_limit"
    risk.update_after_close(s, 9_400, "2025-01-02")  # a new day starts from here
    assert risk.check_entry(s, 9_400, 0.1)[0] == 0.1
    events = risk.update_after_close(s, 7_400, "2025-01-02")
    assert events and events[0][0] == "max_drawdown" and s.paused
    assert risk.check_entry(s, 7_400, 0.1)[1] == "paused"
    s2 = _state()
    for pnl in (-1, -2):
        assert risk.record_trade(s2, pnl) == []
    assert risk.record_trade(s2, 5) == [] and s2.consecutive_losses == 0
    for pnl in (-1, -1, -1):
        events = risk.record_trade(s2, pnl)
    assert events[0][0] == "consecutive_losses" and s2.paused


def test_exits_are_never_blocked_by_risk():
    bar = Bar(90, 91, 80, 85, 1)
    position = OpenPosition(
        "BTC/USD", 1.0, 100.0, 0.4, pd.Timestamp("2025-01-01", tz="UTC"), 0.05, None, False, 100.0
    )
    refuse_all = lambda symbol, fraction: (None, "paused", "paused")  # noqa: E731
    out = decide(
        ["BTC/USD", "ETH/USD"],
        {"BTC/USD": bar, "ETH/USD": bar},
        {"BTC/USD": position},
        {"ETH/USD": Pending(entry=True)},
        5,
        lambda symbol: (0.5, ""),
        refuse_all,
    )
    assert [(i.symbol, i.side, i.reason, i.reference_price) for i in out.intents] == [
        ("BTC/USD", "sell", "stop_loss", 90)
    ]
    assert out.rejections == [("ETH/USD", "paused", "paused")]


def test_single_instance_lock_and_stale_lock_recovery(tmp_path):
    path = tmp_path / "engine.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from lab.core.locks import InstanceLock; import time; l = InstanceLock(__import__('pathlib').Path({str(path)!r})); l.acquire(); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(AlreadyRunning, match=f"already running \\(pid {holder.pid}, lock"):
        InstanceLock(path).acquire()
    assert is_held(path)
    holder.kill()  # SIGKILL: no release; the OS frees the lock with the process
    holder.wait()
    assert not is_held(path)
    lock = InstanceLock(path)
    lock.acquire()
    assert lock.recovered_stale and lock.holder() == os.getpid()
    lock.release()
    assert not is_held(path) and lock.holder() is None


def test_twenty_simultaneous_contenders_never_both_hold_the_lock(tmp_path):
    """20 processes try at the same instant, 100 times: exactly one holder each round, never two."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    n, rounds = 20, 100
    start, end = ctx.Barrier(n), ctx.Barrier(n)
    holders, overlap, guard = ctx.Value("i", 0), ctx.Value("i", 0), ctx.Lock()
    won = ctx.Value("i", 0)
    path = str(tmp_path / "race.lock")

    def worker() -> None:
        lock = InstanceLock(Path(path))
        for _ in range(rounds):
            start.wait()
            try:
                lock.acquire()
            except AlreadyRunning:
                end.wait()
                continue
            with guard:
                holders.value += 1
                overlap.value += holders.value > 1
                won.value += 1
            end.wait()  # hold until every contender has tried
            with guard:
                holders.value -= 1
            lock.release()

    procs = [ctx.Process(target=worker) for _ in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert all(p.exitcode == 0 for p in procs)
    assert overlap.value == 0 and won.value == rounds


def test_cli_run_status_pause_errors(lab_root):
    make_project(lab_root, days=1)
    runner = CliRunner()
    result = runner.invoke(app, ["pause", "--reason", "news event", "--wait", "0"])
    assert result.exit_code == 0 and "queued" in result.output
    result = runner.invoke(app, ["run", "--replay", "-s", SYMBOLS[0], "-s", SYMBOLS[1]])
    assert result.exit_code == 0, result.output
    assert "engine stopped (feed ended): 288 bars" in result.output
    result = runner.invoke(app, ["status"])
    assert "paper engine: stopped" in result.output and "last bar 2025-03-01 23:55" in result.output
    assert runner.invoke(app, ["errors"]).exit_code == 0
    result = runner.invoke(app, ["run", "--live", "--replay"])
    assert result.exit_code == 2 and "exclude each other" in result.output


def test_live_mode_refuses_without_keys_or_confirmation(lab_root, monkeypatch):
    make_project(lab_root, days=1)
    monkeypatch.delenv("LAB_EXCHANGE_API_KEY", raising=False)
    result = CliRunner().invoke(app, ["run", "--live", "-s", "BTC/USD"])
    assert result.exit_code == 2 and "LAB_EXCHANGE_API_KEY" in result.output
    monkeypatch.setenv("LAB_EXCHANGE_API_KEY", "k")
    monkeypatch.setenv("LAB_EXCHANGE_API_SECRET", "s")
    result = CliRunner().invoke(app, ["run", "--live", "-s", "BTC/USD"])
    assert result.exit_code == 2 and "live.confirm = true" in result.output
