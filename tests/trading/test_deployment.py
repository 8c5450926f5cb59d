"""Deployment: strategy files move between candidates/, active/ and archive/ with every version and its
parent recorded, any archived version can be restored, and a completed rollout makes its candidate the
primary book and the active strategy at the next start."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from lab.core.errors import LabError
from lab.store.db import session_scope
from lab.store.models import Book, Rollout
from lab.trading.deployment import active_strategy, deploy, history, promote_completed_rollout, rollback
from lab.trading.setup import replay_engine
from tests.trading.helpers import ROOT, SYMBOLS, engine_trades, make_project
from tests.trading.test_rollout import CALM, promoted, state


def names(folder):
    return sorted(p.name for p in folder.glob("*.py"))


def test_deploy_archives_the_active_version_and_rollback_restores_it(lab_root):
    cfg = make_project(lab_root, days=1)
    sd = cfg.strategies_dir
    assert active_strategy(cfg).name == "ema_rsi_volume"
    deploy(cfg, "bollinger_rsi_reversion", {"rsi_entry": 25.0})
    assert names(sd / "active") == ["bollinger_rsi_reversion.py"]
    assert "bollinger_rsi_reversion.py" not in names(sd / "candidates")
    archived = names(sd / "archive")
    assert "ema_rsi_volume.py" in archived and any(n.startswith("ema_rsi_volume-v1.0.0-") for n in archived)
    active = active_strategy(cfg)
    assert (active.name, active.params["rsi_entry"]) == ("bollinger_rsi_reversion", 25.0)
    rollback(cfg)  # the newest archived version: ema_rsi_volume 1.0.0
    assert names(sd / "active") == ["ema_rsi_volume.py"] and active_strategy(cfg).params["volume_min"] == 1.2
    assert any(n.startswith("bollinger_rsi_reversion-v") for n in names(sd / "archive"))
    rollback(cfg, "bollinger_rsi_reversion")  # and back, with the parameters it was deployed with
    assert active_strategy(cfg).params["rsi_entry"] == 25.0
    rows = history(cfg)
    assert rows["action"].tolist() == [
        "archived",
        "deployed",
        "archived",
        "rolled_back",
        "archived",
        "rolled_back",
    ]
    assert rows["version"].tolist()[:2] == ["1.0.0", "1.0.0"]
    with pytest.raises(LabError, match=r"no archived version 9\.9\.9"):
        rollback(cfg, "ema_rsi_volume", "9.9.9")
    with pytest.raises(LabError, match="invalid parameters"):
        deploy(cfg, "donchian_atr_breakout", {"nonsense": 1})
    assert names(sd / "active") == ["bollinger_rsi_reversion.py"]  # a refused deploy moves nothing


def test_a_completed_rollout_makes_the_candidate_the_primary_book(lab_root):
    cfg = promoted(lab_root, CALM)
    replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", shadows=True).run()
    before_trades = len(engine_trades(cfg, "paper"))
    capital = state(cfg, "rollout:bollinger").cash
    message = promote_completed_rollout(cfg)
    assert message.startswith("rollout #1: shadow:bollinger now trades as paper")
    assert promote_completed_rollout(cfg) is None  # once
    with session_scope(cfg) as s:
        books = {b.key: (b.strategy, b.status) for b in s.scalars(select(Book))}
        assert s.scalars(select(Rollout)).one().state["deployed"] is True
    assert books["paper"][0] == "bollinger_rsi_reversion" and books["retired:paper:1"] == (
        "ema_rsi_volume",
        "retired",
    )
    assert books["shadow:bollinger"][1] == "active" and "rollout:bollinger" not in books
    assert state(cfg, "paper").cash == pytest.approx(capital)  # the capital came with the book
    assert len(engine_trades(cfg, "retired:paper:1")) == before_trades  # the old record is kept whole
    assert names(cfg.strategies_dir / "active") == ["bollinger_rsi_reversion.py"]
    # `lab run` now trades the new active strategy in the primary book, without a rollout book
    env = os.environ | {"LAB_ROOT": str(lab_root), "PYTHONPATH": str(ROOT)} | CALM
    out = subprocess.run(
        [sys.executable, "-m", "lab.cli.main", "run", "--replay", *[a for s in SYMBOLS for a in ("-s", s)]],
        cwd=lab_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "engine (paper) started: bollinger_rsi_reversion" in out.stdout
