"""The staged rollout in the engine: the candidate's book receives 25%, 50%, then 100% of the previous
strategy's capital day by day; a failed check rolls back at once and the capital returns; the money
is conserved at every step; a SIGKILL at any moment leaves one consistent stage."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from sqlalchemy import select

from lab.store.db import session_scope
from lab.store.models import EngineState, Rollout, RolloutEvent
from lab.trading.ledger import RuntimeState
from lab.trading.rollout_engine import start_rollout
from lab.trading.setup import replay_engine
from lab.trading.shadows import add_shadow
from tests.trading.helpers import ROOT, SYMBOLS, engine_trades, make_project
from tests.trading.test_parity import assert_same_trades

SYMBOL_ARGS = [arg for s in SYMBOLS for arg in ("-s", s)]
CALM = {
    "LAB_PROMOTER__STAGE_DAYS": "1",
    "LAB_PROMOTER__CUSUM_H": "50",
    "LAB_PROMOTER__MAX_STAGE_DRAWDOWN": "0.9",
}


def state(cfg, key: str) -> RuntimeState:
    with session_scope(cfg) as s:
        return RuntimeState.model_validate(s.get(EngineState, key).state)


def events(cfg) -> list[tuple[str, str, float]]:
    with session_scope(cfg) as s:
        return [
            (e.day, e.kind, round(e.share, 2))
            for e in s.scalars(select(RolloutEvent).order_by(RolloutEvent.id))
        ]


def promoted(root, env, days=6):
    cfg = make_project(root, days=days, env=env)
    add_shadow(cfg, "bollinger", "bollinger_rsi_reversion")
    start_rollout(cfg, "shadow:bollinger", "paper", sigma=0.01)
    return cfg


def test_a_rollout_moves_25_50_100_percent_and_completes_with_the_money_conserved(lab_root):
    cfg = promoted(lab_root, CALM)
    engine = replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", shadows=True)
    assert [t.spec.key for t in engine.traders] == ["paper", "shadow:bollinger", "rollout:bollinger"]
    engine.run()
    kinds = [k for _, k, _ in events(cfg)]
    assert kinds[:2] == ["started", "transfer"] and kinds.count("stage") == 2 and "completed" in kinds
    shares = [sh for _, k, sh in events(cfg) if k == "transfer"]
    assert shares[:3] == [0.25, 0.5, 1.0]
    with session_scope(cfg) as s:
        row = s.scalars(select(Rollout)).one()
        assert row.status == "completed" and row.state["flat_wait"] is None
    paper, cand = state(cfg, "paper"), state(cfg, "rollout:bollinger")
    # every unit of capital is in exactly one book: what each started with moved, nothing was created
    assert paper.initial_capital + cand.initial_capital == pytest.approx(10_000)
    assert cand.initial_capital == pytest.approx(
        10_000 - paper.initial_capital
    ) and paper.cash == pytest.approx(0, abs=1e-6)
    assert paper.paused and "replaced by shadow:bollinger" in paper.pause_reason
    assert (
        len(engine_trades(cfg, "rollout:bollinger")) > 0
        and engine_trades(cfg, "paper")["status"].eq("closed").all()
    )


def test_a_failed_check_rolls_back_and_the_capital_returns(lab_root):
    cfg = promoted(
        lab_root, CALM | {"LAB_PROMOTER__MAX_STAGE_DRAWDOWN": "0.0001", "LAB_FEES__TAKER": "0.004"}
    )
    replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", shadows=True).run()
    with session_scope(cfg) as s:
        row = s.scalars(select(Rollout)).one()
        reason = row.state["reason"]
    assert row.status == "rolled_back" and "drawdown" in reason and "rolled back to paper" in reason
    kinds = [k for _, k, _ in events(cfg)]
    assert kinds[-2:] == ["rolled_back", "transfer"] or kinds[-1] == "rolled_back"
    cand = state(cfg, "rollout:bollinger")
    paper = state(cfg, "paper")
    assert (
        cand.paused
        and cand.cash == pytest.approx(0, abs=1e-6)
        and not engine_trades(cfg, "rollout:bollinger")["status"].eq("open").any()
    )
    # all it had came back: the 25% it received, net of what it lost while it traded
    lost = -engine_trades(cfg, "rollout:bollinger")["pnl"].sum()
    assert paper.initial_capital == pytest.approx(10_000 - lost) and cand.initial_capital == pytest.approx(
        lost
    )
    assert not paper.paused


@pytest.mark.slow
def test_sigkill_during_the_rollout_leaves_one_consistent_stage_and_loses_no_trade(tmp_path, lab_root):
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "lab.toml").write_text((lab_root / "lab.toml").read_text())
    ref = promoted(reference, CALM, days=4)
    replay_engine(ref, "ema_rsi_volume", SYMBOLS, exchange="synthetic", shadows=True).run()
    cfg = promoted(lab_root, CALM, days=4)
    env = os.environ | {"LAB_ROOT": str(lab_root), "PYTHONPATH": str(ROOT)} | CALM
    rng = random.Random(3)
    for _ in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-m", "lab.cli.main", "run", "--replay", "--pace", "0.01", *SYMBOL_ARGS],
            cwd=lab_root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(2.0, 6.0))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with session_scope(cfg) as s:  # after every kill: the capital is in exactly one place
            states = {
                k: RuntimeState.model_validate(s.get(EngineState, k).state)
                for k in ("paper", "rollout:bollinger")
                if s.get(EngineState, k)
            }
        if len(states) == 2:
            assert sum(st.initial_capital for st in states.values()) == pytest.approx(10_000)
    done = subprocess.run(
        [sys.executable, "-m", "lab.cli.main", "run", "--replay", *SYMBOL_ARGS],
        cwd=lab_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert [(d, k, sh) for d, k, sh in events(cfg)] == [(d, k, sh) for d, k, sh in events(ref)]
    # a restart after the completion made the candidate primary; make the reference's too, then the
    # same books hold the same trades (the candidate's book is "paper" now, the old one retired)
    from lab.trading.deployment import promote_completed_rollout

    promote_completed_rollout(ref), promote_completed_rollout(cfg)  # (cfg's may have happened at a restart)
    with session_scope(cfg) as s:
        completed = s.scalars(select(Rollout)).one().status == "completed"
    books = ("paper", "shadow:bollinger", "retired:paper:1" if completed else "rollout:bollinger")
    counts = {b: (len(engine_trades(ref, b)), len(engine_trades(cfg, b))) for b in books}
    for book in books:
        assert counts[book][0] == counts[book][1], (book, counts)
        assert_same_trades(engine_trades(ref, book), engine_trades(cfg, book))


def test_the_live_engine_trades_a_running_rollout_and_moves_its_first_stage(lab_root):
    """The rollout's book joins the live engine (ccxt against a local Kraken-like server) as it joins a
    replay: the candidate trades through the engine's broker and receives the first stage's capital."""
    from lab.market.fetch import make_exchange
    from lab.store.models import Book
    from lab.trading.setup import live_engine
    from tests.conftest import make_candles
    from tests.fakes.kraken import FakeKraken

    cfg = promoted(lab_root, CALM, days=1)
    forming = pd.Timestamp.now(tz="UTC").floor("5min")
    start = forming - pd.Timedelta(minutes=5 * 80)
    data = {"BTC/USD": make_candles(81, start=str(start), seed=3)}
    with FakeKraken(data) as fake:
        ex = make_exchange("kraken", {"public": fake.url})
        ex.rateLimit = 1
        engine = live_engine(cfg, "ema_rsi_volume", ["BTC/USD"], exchange=ex, shadows=True)
        engine.feed.max_polls = 2
        engine.feed.poll_seconds = 0.01
        assert [t.spec.key for t in engine.traders] == ["paper", "shadow:bollinger", "rollout:bollinger"]
        engine.run()
    kinds = [k for _d, k, _s in events(cfg)]
    assert kinds[:2] == ["started", "transfer"]
    assert state(cfg, "rollout:bollinger").cash == pytest.approx(0.25 * 10_000)  # held: not a day yet
    with session_scope(cfg) as s:
        assert s.scalar(select(Book.mode).where(Book.key == "rollout:bollinger")) == "paper"
