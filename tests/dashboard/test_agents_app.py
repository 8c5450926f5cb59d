"""The agents view without a browser: empty DB, a snapshot with a flag and its evidence, toggles that
go through the command queue."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import select

from lab.dashboard.agents import AgentsApp
from lab.research.agent_records import save_snapshot
from lab.research.agent_stats import agent_table
from lab.store.db import session_scope
from lab.store.models import Command
from lab.store.votes import set_agent_state


def seed_snapshot(cfg, day: str = "2026-11-30") -> pd.DataFrame:
    """A snapshot where 'technical' is informative and 'volume' is noise with plenty of votes."""
    rng = np.random.default_rng(0)
    n = 40_000
    fwd = rng.normal(0, 1, n)
    rows = []
    for agent in cfg.agents.enabled:
        if agent in ("order_book", "funding_rate"):
            vote, abstain = np.full(n, np.nan), np.full(n, "live-only data in a backtest", dtype=object)
        else:
            signal = fwd if agent == "technical" else rng.normal(0, 1, n)
            vote, abstain = np.clip(signal + rng.normal(0, 2, n), -1, 1), np.full(n, "", dtype=object)
        rows.append(
            pd.DataFrame(
                {
                    "decision_id": np.arange(n),
                    "agent": agent,
                    "vote": vote,
                    "abstain": abstain,
                    "fwd_return": fwd,
                    "symbol": "BTC/USD",
                    "bar_time": pd.date_range("2026-01-01", periods=n, freq="5min", tz="UTC"),
                }
            )
        )
    table = agent_table(pd.concat(rows, ignore_index=True), cfg.agents)
    with session_scope(cfg) as s:
        save_snapshot(s, "ensemble", table, day)
    return table.set_index("agent")


def test_empty_database_says_how_to_get_a_snapshot(cfg):
    with session_scope(cfg):
        pass
    app = AgentsApp(cfg, refresh_seconds=60)
    assert "No agent snapshot yet" in app.header.value and "lab agents report" in app.header.value


def test_leaderboard_flags_and_evidence_from_the_latest_snapshot(cfg):
    table = seed_snapshot(cfg)
    assert table.loc["volume", "flagged"] and not table.loc["technical", "flagged"]
    app = AgentsApp(cfg, refresh_seconds=60)
    assert "snapshot of <b>2026-11-30</b>" in app.header.value
    board = app.board.value
    assert "technical" in board and f"{table.loc['technical', 'ic']:+.3f}" in board
    assert f"[{table.loc['technical', 'ic_low']:+.3f}, {table.loc['technical', 'ic_high']:+.3f}]" in board
    assert board.count("flagged") == int(table["flagged"].sum())
    assert "is below the minimum 0.030" in app.evidence.value and "holm, alpha 0.05" in app.evidence.value
    assert "not enough evidence" in app.evidence.value  # the live-only agents


def test_a_toggle_queues_the_command_and_shows_the_engine_state(cfg):
    seed_snapshot(cfg)
    app = AgentsApp(cfg, refresh_seconds=60)
    app.reason.value = "noise on the leaderboard"
    button = app._buttons["volume"]
    assert button.description == "Disable"
    button.click()
    with session_scope(cfg) as s:
        cmd = s.scalars(select(Command)).one()
        assert (cmd.command, cmd.args, cmd.source) == (
            "agent_disable",
            {"agent": "volume", "reason": "noise on the leaderboard"},
            "dashboard",
        )
    assert "agent_disable queued" in app.outcome.value and "no engine is running" in app.outcome.value
    assert "(change pending)" in app.board.value
    # the engine applied it (what Engine.set_agent records): the button now offers to enable it
    with session_scope(cfg) as s:
        set_agent_state(s, "volume", False, "noise on the leaderboard", "dashboard")
    app.refresh()
    assert app._buttons["volume"].description == "Enable"
    label = app.toggles.children[list(app._buttons).index("volume")].children[2].value
    assert "dashboard at" in label and "noise on the leaderboard" in label
