"""The shadows view without a browser: the promoter's numbers against thresholds, track-record
progress, the rollout's events, and retire / promote-now through the command queue."""

from __future__ import annotations

from sqlalchemy import select

from lab.dashboard.shadows import ShadowsApp
from lab.research.promotions import evaluate_shadows
from lab.store.db import session_scope
from lab.store.models import Command
from lab.trading.rollout_engine import start_rollout
from lab.trading.setup import replay_engine
from lab.trading.shadows import add_shadow
from tests.trading.helpers import SYMBOLS, make_project


def test_shadows_view_shows_evaluations_rollout_and_sends_commands(lab_root):
    cfg = make_project(lab_root, days=3)
    add_shadow(cfg, "bollinger", "bollinger_rsi_reversion")
    empty = ShadowsApp(cfg, refresh_seconds=60)
    assert "not evaluated" in empty.table.value and "no rollout yet" in empty.rollout.value
    replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", shadows=True).run()
    evaluate_shadows(cfg, dry_run=True)
    start_rollout(cfg, "shadow:bollinger", "paper", sigma=0.01)
    app = ShadowsApp(cfg, refresh_seconds=60)
    assert "shadow:bollinger" in app.table.value and "insufficient" in app.table.value
    assert "/ 30 days" in app.table.value  # track-record progress against the minimum
    assert (
        "PSR ≥ 0.95" in app.header.value
        and "rollout:bollinger" in app.rollout.value
        and "started" in app.rollout.value
    )
    retire, promote = app._buttons["shadow:bollinger"]
    retire.click()
    with session_scope(cfg) as s:
        cmd = s.scalars(select(Command)).one()
        assert (cmd.command, cmd.args["shadow"], cmd.source) == (
            "shadow_retire",
            "shadow:bollinger",
            "dashboard",
        )
    assert "shadow_retire queued" in app.outcome.value
    promote.click()
    with session_scope(cfg) as s:
        assert [c.command for c in s.scalars(select(Command).order_by(Command.id))] == [
            "shadow_retire",
            "promote_now",
        ]
    assert app.figure.outputs and "plotly" in str(app.figure.outputs[0]["data"]).lower()
