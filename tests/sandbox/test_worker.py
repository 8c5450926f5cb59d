"""Generated strategies run in a long-lived sandboxed worker: the same signals as in-process, never
imported into the lab's process, no secrets in its environment; a worker that stalls (a time bomb) or
dies disables its shadow with the reason and disturbs nothing else."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from lab.core.errors import StrategyError
from lab.store.db import session_scope
from lab.store.models import Book
from lab.strategy.loader import load_strategy
from lab.strategy.sandboxed import GENERATED_MARKER
from lab.trading.setup import replay_engine
from lab.trading.shadows import add_shadow
from tests.conftest import make_candles
from tests.trading.helpers import ROOT, engine_trades, make_project

SOURCE = (ROOT / "strategies" / "active" / "ema_rsi_volume.py").read_text()


def generated(folder: Path, name: str, source: str = SOURCE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(
        f"{GENERATED_MARKER} (test)\n" + source.replace('name = "ema_rsi_volume"', f'name = "{name}"')
    )
    return path


def test_the_worker_gives_the_in_process_signals_without_importing_the_code(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "-".join(("sk", "ant", "must", "not", "reach", "the", "worker")))
    loaded = load_strategy(str(generated(tmp_path, "gen_a")), ROOT / "strategies")
    trusted = load_strategy("ema_rsi_volume", ROOT / "strategies")
    candles = make_candles(3000, seed=4)
    got, want = loaded.create().signals(candles), trusted.create().signals(candles)
    pd.testing.assert_series_equal(got.entries, want.entries, check_names=False)
    pd.testing.assert_series_equal(got.exits, want.exits, check_names=False)
    assert (got.stop_loss, got.take_profit) == (want.stop_loss, want.take_profit)
    assert loaded.cls.__module__ == "lab.strategy.sandboxed" and loaded.name == "gen_a"
    worker = loaded.cls.worker
    environ = Path(f"/proc/{worker._proc.pid}/environ").read_bytes()
    assert b"ANTHROPIC" not in environ and b"PATH=/usr/bin:/bin" in environ
    with pytest.raises(StrategyError, match="invalid parameters"):
        loaded.create({"volume_min": 9.0})  # the candidate's own Params check it, in the worker


def test_a_killed_worker_is_an_error_that_names_it(tmp_path):
    loaded = load_strategy(str(generated(tmp_path, "gen_b")), ROOT / "strategies")
    strategy = loaded.create()
    os.killpg(loaded.cls.worker._proc.pid, signal.SIGKILL)
    with pytest.raises(StrategyError, match="the sandboxed worker died"):
        strategy.signals(make_candles(500))


def test_code_the_screen_refuses_never_starts(tmp_path):
    bad = "import os\n" + SOURCE
    with pytest.raises(StrategyError, match=r"gen_c\.py: refused by the screen: line 2: import of 'os'"):
        load_strategy(str(generated(tmp_path, "gen_c", bad)), ROOT / "strategies")


BOMB = SOURCE.replace(
    "        p = self.params\n",
    "        p = self.params\n        if len(candles) > 600:  # passes short checks, then waits\n            while True:\n                pass\n",
    1,
)


def test_a_time_bomb_disables_only_its_shadow(lab_root):
    cfg = make_project(lab_root, days=3, env={"LAB_SANDBOX__WALL_SECONDS": "3"})
    generated(cfg.strategies_dir / "candidates" / "generated", "bomb", BOMB)
    add_shadow(cfg, "bomb", "bomb")
    symbols = ["BTC/USD", "ETH/USD"]
    replay_engine(cfg, "ema_rsi_volume", symbols, exchange="synthetic", shadows=True).run()
    with session_scope(cfg) as s:
        status, error = s.execute(select(Book.status, Book.error).where(Book.key == "shadow:bomb")).one()
    assert status == "disabled" and "stalled" in error and "killed" in error
    from lab.backtest.run import run_backtest

    assert_same = run_backtest(cfg, "ema_rsi_volume", symbols, exchange="synthetic", record=False)
    from tests.trading.test_parity import assert_same_trades

    assert_same_trades(assert_same.trades, engine_trades(cfg, "paper"))
