"""SIGKILL the engine at random points of a replay, restart it each time: nothing lost, nothing doubled."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lab.store.db import session_scope
from lab.store.models import Book, EngineState, Fill, Order
from lab.trading.ledger import RuntimeState
from lab.trading.setup import ExtraBook, replay_engine
from tests.trading.helpers import ROOT, SYMBOLS, engine_trades, make_project
from tests.trading.test_parity import assert_same_trades

KILLS = 20


def _child(
    root: Path,
    pace: float,
    extra_env: dict[str, str] | None = None,
    signal_mode: str = "precomputed",
    two_books: bool = False,
) -> subprocess.Popen:
    env = os.environ | {"LAB_ROOT": str(root), "PYTHONPATH": str(ROOT)} | (extra_env or {})
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "trading" / "crash_child.py"), str(pace), signal_mode]
        + (["two-books"] if two_books else []),
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _progress(cfg) -> str | None:
    with session_scope(cfg) as s:
        row = s.get(EngineState, "paper")
        return row.state.get("last_bar") if row else None


@pytest.mark.slow
def test_sigkill_at_random_points_loses_and_duplicates_nothing(tmp_path, lab_root):
    sigkill_trials(tmp_path, lab_root, KILLS)


@pytest.mark.slow
def test_sigkill_on_the_rolling_signal_path_loses_and_duplicates_nothing(tmp_path, lab_root):
    """The path live trading uses: the strategy on a rolling window, which a restart must rebuild."""
    sigkill_trials(
        tmp_path, lab_root, 12, extra_env={"LAB_ENGINE__WINDOW_BARS": "300"}, signal_mode="rolling"
    )


@pytest.mark.slow
def test_sigkill_with_two_books_loses_and_duplicates_nothing_in_either(tmp_path, lab_root):
    sigkill_trials(tmp_path, lab_root, 12, two_books=True)


@pytest.mark.slow
def test_sigkill_with_the_kelly_sizer_resumes_its_signal_record(tmp_path, lab_root):
    """The Kelly sizer's record lives in the runtime state: killed and restarted, the engine sizes
    every entry exactly as an uninterrupted run (same trades, sizes and cash)."""
    kelly = {"LAB_SIZING__METHOD": "kelly", "LAB_SIZING__MIN_TRADES": "8", "LAB_FEES__TAKER": "0.0005"}
    sigkill_trials(tmp_path, lab_root, 10, extra_env=kelly)
    from lab.core.config import load_config
    from lab.store.models import SizingRecord

    ref = load_config(tmp_path / "reference" / "lab.toml", env=kelly)
    with session_scope(ref) as s:
        reasons = [r.reason for r in s.scalars(select(SizingRecord))]
    assert "" in reasons and any(r.startswith("fallback") for r in reasons)  # Kelly really sized entries


def sigkill_trials(
    tmp_path: Path,
    lab_root: Path,
    kills_wanted: int,
    extra_env: dict[str, str] | None = None,
    signal_mode: str = "precomputed",
    two_books: bool = False,
) -> None:
    """Kill a paced replay `kills_wanted` times at random points, restart, and check the final ledger
    against an uninterrupted reference run (on SQLite, whatever database the killed run uses)."""
    reference_root = tmp_path / "reference"
    reference_root.mkdir()
    (reference_root / "lab.toml").write_text((lab_root / "lab.toml").read_text())
    ref_env = {k: v for k, v in (extra_env or {}).items() if k != "LAB_DB_URL"}
    ref_cfg = make_project(reference_root, days=2, env=ref_env)
    books = [ExtraBook("shadow:bollinger", "bollinger_rsi_reversion")] if two_books else None
    replay_engine(
        ref_cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", signal_mode=signal_mode, books=books
    ).run()
    expected = engine_trades(ref_cfg)
    expected_second = engine_trades(ref_cfg, "shadow:bollinger") if two_books else None
    with session_scope(ref_cfg) as s:
        expected_state = RuntimeState.model_validate(s.get(EngineState, "paper").state)

    cfg = make_project(lab_root, days=2, env=extra_env)
    rng = random.Random(1)
    kills, seen = 0, set()
    while kills < kills_wanted:
        proc = _child(lab_root, pace=0.02, extra_env=extra_env, signal_mode=signal_mode, two_books=two_books)
        lock = cfg.data_dir / "engine-paper.lock"
        deadline = time.monotonic() + 60
        while (
            time.monotonic() < deadline
            and proc.poll() is None
            and not (lock.exists() and _progress(cfg) not in seen)
        ):
            time.sleep(0.05)
        assert proc.poll() is None, f"the replay finished before {kills_wanted} kills: {proc.communicate()}"
        time.sleep(rng.uniform(0.0, 0.4))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        seen.add(_progress(cfg))
        kills += 1
    assert len(seen) > kills_wanted // 2, "kills should land at many different points of the replay"
    final = _child(lab_root, pace=0.0, extra_env=extra_env, signal_mode=signal_mode, two_books=two_books)
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err

    assert_same_trades(expected, engine_trades(cfg))
    if two_books:
        assert_same_trades(expected_second, engine_trades(cfg, "shadow:bollinger"))
    with session_scope(cfg) as s:
        orders = s.scalar(select(func.count()).select_from(Order))
        fills = s.scalar(select(func.count()).select_from(Fill))
        assert orders == fills == s.scalar(select(func.count(func.distinct(Order.client_order_id))))
        state = RuntimeState.model_validate(s.get(EngineState, "paper").state)
        cash = state.initial_capital
        paper = s.scalar(select(Book.id).where(Book.key == "paper"))
        for f in s.scalars(select(Fill).where(Fill.book_id == paper).order_by(Fill.id)):
            cash += -(f.size * f.price + f.fee) if f.side == "buy" else f.size * f.price - f.fee
    trades = engine_trades(cfg)
    closed = trades[trades["status"] == "closed"]
    open_ = trades[trades["status"] == "open"]
    assert abs(state.cash - cash) < 0.005  # the cash balance reconciles with the fills to the cent
    # the same cash, peak and day-start equity as the uninterrupted run
    assert state.cash == pytest.approx(expected_state.cash, rel=1e-12)
    assert state.peak_equity == pytest.approx(expected_state.peak_equity, rel=1e-12)
    assert state.last_bar == expected_state.last_bar
    # cash + cost of open positions = initial capital + realized P&L (net of both fees)
    invested = float((open_["size"] * open_["entry_price"] + open_["entry_fees"]).sum())
    assert abs(state.cash + invested - (state.initial_capital + float(closed["pnl"].sum()))) < 0.005
