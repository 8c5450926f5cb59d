"""Shadows: registered candidates trade virtual books on the same bars; each shadow equals its own
backtest (its own sizing included); a shadow that raises is disabled with its error and disturbs
neither the active book nor the other shadows; retired shadows stop; the promoter records its
evaluations."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lab.backtest.run import run_backtest
from lab.core.errors import LabError
from lab.research.promotions import evaluate_shadows, trials_evaluated
from lab.store import db
from lab.store.models import Book, EngineError, PromotionEvaluation
from lab.trading.setup import replay_engine
from lab.trading.shadows import add_shadow, retire_shadow, shadow_table
from tests.trading.helpers import SYMBOLS, engine_trades, make_project
from tests.trading.test_parity import assert_same_trades

BROKEN = """
import pathlib

import pandas as pd
from lab.core.contract import Signals, Strategy, StrategyParams


class Broken(Strategy):
    name = "broken"
    timeframe = "5m"

    def warmup(self):
        return 10

    def signals(self, candles):
        if pathlib.Path(MARKER).exists():  # passes the checks on load, then fails in the replay
            raise ValueError("the model file is gone")
        e = pd.Series(False, index=candles.index)
        return Signals(entries=e, exits=e)
"""


def test_each_shadow_equals_its_own_backtest_its_own_sizing_included(lab_root):
    cfg = make_project(lab_root, days=4, env={"LAB_FEES__TAKER": "0.0005"})
    add_shadow(cfg, "bollinger", "bollinger_rsi_reversion")
    add_shadow(cfg, "kelly_sizing", "ema_rsi_volume", sizing="kelly")
    engine = replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", shadows=True)
    engine.run()
    active = run_backtest(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", record=False)
    boll = run_backtest(cfg, "bollinger_rsi_reversion", SYMBOLS, exchange="synthetic", record=False)
    kelly_cfg = cfg.model_copy(update={"sizing": cfg.sizing.model_copy(update={"method": "kelly"})})
    kelly = run_backtest(kelly_cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", record=False)
    assert_same_trades(active.trades, engine_trades(cfg, "paper"))
    assert_same_trades(boll.trades, engine_trades(cfg, "shadow:bollinger"))
    assert_same_trades(kelly.trades, engine_trades(cfg, "shadow:kelly_sizing"))
    assert len(boll.trades) and len(kelly.trades)
    assert not engine_trades(cfg, "paper")["size"].equals(engine_trades(cfg, "shadow:kelly_sizing")["size"])
    # a restart leaves a retired shadow out
    retire_shadow(cfg, "bollinger", "enough evidence")
    again = replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", shadows=True)
    assert [t.spec.key for t in again.traders] == ["paper", "shadow:kelly_sizing"]
    assert shadow_table(cfg).set_index("shadow").loc["shadow:bollinger", "error"] == "enough evidence"


def test_a_shadow_that_raises_is_disabled_and_disturbs_nothing(lab_root):
    cfg = make_project(lab_root, days=2)
    marker = lab_root / "break-now"
    (cfg.strategies_dir / "candidates" / "broken.py").write_text(BROKEN.replace("MARKER", repr(str(marker))))
    add_shadow(cfg, "broken", "broken")
    add_shadow(cfg, "bollinger", "bollinger_rsi_reversion")
    engine = replay_engine(
        cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", shadows=True, signal_mode="rolling"
    )
    marker.touch()
    summary = engine.run()
    active = run_backtest(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", record=False)
    boll = run_backtest(cfg, "bollinger_rsi_reversion", SYMBOLS, exchange="synthetic", record=False)
    assert summary.steps == len(active.equity)
    assert_same_trades(active.trades, engine_trades(cfg, "paper"))
    assert_same_trades(boll.trades, engine_trades(cfg, "shadow:bollinger"))
    table = shadow_table(cfg).set_index("shadow")
    assert table.loc["shadow:broken", "status"] == "disabled"
    assert "the model file is gone" in table.loc["shadow:broken", "error"]
    with db.session_scope(cfg) as s:
        errors = [e.message for e in s.scalars(select(EngineError).where(EngineError.component == "shadow"))]
    assert len(errors) == 1 and "shadow:broken disabled" in errors[0]
    again = replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", shadows=True)
    assert [t.spec.key for t in again.traders] == ["paper", "shadow:bollinger"]


def test_shadow_names_and_parameters_are_checked_when_added(lab_root):
    cfg = make_project(lab_root, days=1)
    with pytest.raises(LabError, match="use lowercase letters"):
        add_shadow(cfg, "Bad Name!", "ema_rsi_volume")
    with pytest.raises(LabError, match="invalid parameters"):
        add_shadow(cfg, "x", "ema_rsi_volume", {"fast": 500})
    with pytest.raises(LabError, match="not found"):
        add_shadow(cfg, "x", "no_such_strategy")
    add_shadow(cfg, "x", "ema_rsi_volume")
    with pytest.raises(LabError, match="exists already"):
        add_shadow(cfg, "x", "ema_rsi_volume")
    with db.session_scope(cfg) as s:
        assert s.scalars(select(Book.key).where(Book.mode == "shadow")).all() == ["shadow:x"]


def test_the_promoter_records_every_evaluation_with_n_from_everything_tried(lab_root):
    cfg = make_project(lab_root, days=3)
    add_shadow(cfg, "bollinger", "bollinger_rsi_reversion")
    run_backtest(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic")  # one recorded trial
    replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", shadows=True).run()
    results = evaluate_shadows(cfg, dry_run=True)
    assert [r.shadow for r in results] == ["shadow:bollinger"]
    assert results[0].decision == "insufficient" and "30 needed" in results[0].reason  # 3 days of returns
    with db.session_scope(cfg) as s:
        assert trials_evaluated(s) == 2  # the backtest and the shadow
        row = s.scalars(select(PromotionEvaluation)).one()
        assert row.dry_run and row.n_trials == 2 and row.numbers["thresholds"]["psr_min"] == 0.95


def test_retire_and_promote_now_through_the_command_queue(lab_root):
    from lab.store import commands
    from lab.store.models import Rollout

    cfg = make_project(lab_root, days=5)
    add_shadow(cfg, "bollinger", "bollinger_rsi_reversion")
    add_shadow(cfg, "donchian", "donchian_atr_breakout")
    early = commands.enqueue(cfg, "promote_now", shadow="bollinger")  # before any record: refused
    retire = commands.enqueue(
        cfg, "shadow_retire", source="dashboard", shadow="shadow:donchian", reason="enough"
    )
    engine = replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", shadows=True)
    engine.run()
    assert commands.outcome(cfg, retire).status == "done"
    refused = commands.outcome(cfg, early)
    assert refused.status == "failed" and "too few common days" in refused.result
    assert engine.trader("shadow:donchian").disabled == "retired"
    assert len(engine_trades(cfg, "shadow:donchian")) == 0  # retired before its first bar
    promote = commands.enqueue(cfg, "promote_now", shadow="bollinger")
    replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", shadows=True).run()
    row = commands.outcome(cfg, promote)
    assert row.status == "done", row.result
    assert "rollout #1 of shadow:bollinger started" in row.result
    with db.session_scope(cfg) as s:
        assert s.scalars(select(Rollout)).one().status == "running"


def test_a_shadows_quiet_bars_leave_the_state_and_trades_of_the_full_close(tmp_path, lab_root, monkeypatch):
    """The engine's fast path for a flat shadow on a bar with no entry or exit (lab.trading.trader
    Trader._close_quiet) is only bookkeeping: the same state and trades as the full close."""
    from lab.store.models import EngineState
    from lab.trading.trader import Trader

    def run(root, quiet: bool):
        root.mkdir(exist_ok=True)
        (root / "lab.toml").write_text((lab_root / "lab.toml").read_text())
        cfg = make_project(root, days=3)
        add_shadow(cfg, "donchian", "donchian_atr_breakout")
        if not quiet:
            monkeypatch.setattr(Trader, "_quiet", lambda self, plan, bars: None)
        calls = []
        original = Trader._close_quiet
        monkeypatch.setattr(Trader, "_close_quiet", lambda self, *a: calls.append(1) or original(self, *a))
        replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", shadows=True).run()
        monkeypatch.undo()
        with db.session_scope(cfg) as s:
            state = dict(s.get(EngineState, "shadow:donchian").state)
        state.pop("started_at", None)
        return state, engine_trades(cfg, "shadow:donchian"), len(calls)

    fast, fast_trades, quiet_bars = run(tmp_path / "fast", True)
    full, full_trades, none = run(tmp_path / "full", False)
    assert quiet_bars > 100 and none == 0
    assert fast == full
    assert_same_trades(full_trades, fast_trades)
    assert len(full_trades) > 0
