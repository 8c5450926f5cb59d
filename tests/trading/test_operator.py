"""Operator commands through the queue; notebook runs started by lab.pipeline (with or without an
engine); the engine's capital settings."""

from __future__ import annotations

import shutil

from lab.core.config import load_config
from lab.store import commands
from lab.trading.setup import replay_engine
from tests.trading.helpers import ROOT, SYMBOLS, make_project


def test_run_notebook_command_uses_the_launcher_it_was_given(lab_root):
    cfg = make_project(lab_root, days=1)
    started = []
    ok = commands.enqueue(cfg, "run_notebook", notebook="backtest")
    engine = replay_engine(
        cfg,
        "ema_rsi_volume",
        SYMBOLS,
        exchange="synthetic",
        start_notebook=lambda n: started.append(n) or f"started {n}",
    )
    engine.run()
    assert started == ["backtest"] and commands.outcome(cfg, ok).result == "started backtest"
    refused = commands.enqueue(cfg, "run_notebook", notebook="backtest")
    bare = replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic")  # no launcher given
    bare.run()
    row = commands.outcome(cfg, refused)
    assert row.status == "failed" and "without a notebook launcher" in row.result


def test_pipeline_launcher_starts_a_detached_run_and_names_unknown_notebooks(lab_root, monkeypatch):
    import pytest

    from lab.core.errors import NotebookError
    from lab.pipeline import launch

    cfg = make_project(lab_root, days=1)
    shutil.copytree(ROOT / "notebooks", lab_root / "notebooks")
    calls = []

    class FakeProcess:
        pid = 4242

        def __init__(self, cmd, **kwargs):
            calls.append((cmd, kwargs))

    monkeypatch.setattr(launch.subprocess, "Popen", FakeProcess)
    assert launch.start_notebook(cfg, "backtest").startswith("notebook backtest started (pid 4242)")
    ((cmd, kwargs),) = calls
    assert (
        cmd[-3:] == ["notebook", "run", "backtest"]
        and kwargs["start_new_session"]
        and kwargs["cwd"] == cfg.root
    )
    with pytest.raises(
        NotebookError,
        match=r"cannot run notebook 'nope'.*available: agent_analysis, backtest, kelly_validation",
    ):
        launch.start_notebook(cfg, "nope")


def test_dashboard_run_now_needs_no_engine(lab_root, monkeypatch):
    from lab.dashboard.status import StatusApp
    from lab.pipeline import launch

    cfg = make_project(lab_root, days=1)
    shutil.copytree(ROOT / "notebooks", lab_root / "notebooks")
    monkeypatch.setattr(launch.subprocess, "Popen", lambda cmd, **kw: type("P", (), {"pid": 7})())
    app = StatusApp(cfg, refresh_seconds=60)
    app.run_notebook("kelly_validation")
    assert "notebook kelly_validation started (pid 7)" in app.outcome.value
    app.run_notebook("missing")
    assert "cannot run notebook" in app.outcome.value


def test_capital_settings_fall_back_to_the_backtest_section(lab_root):
    (lab_root / "lab.toml").write_text(
        "[backtest]\ninitial_cash = 5000.0\nmax_open_positions = 2\n[capital]\nmax_open_positions = 1\n"
    )
    cap = load_config(lab_root / "lab.toml", env={}).trading_capital
    assert (cap.initial_cash, cap.position_fraction, cap.max_open_positions) == (5000.0, 0.25, 1)
