"""The ensemble strategy: its backtest and its engine replay make the same trades and the same vote
records (every decision bar, every agent); agents are switched off and on at run time through the
command queue; a failing agent abstains without stopping the engine."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select

from lab.backtest.run import run_backtest
from lab.store import commands, db
from lab.store.models import AgentStateRecord, EngineError, EngineTrade, ScanResult, VoteDecision
from lab.store.votes import votes_frame
from lab.trading.setup import replay_engine
from tests.trading.helpers import SYMBOLS, agent_project, engine_trades
from tests.trading.test_parity import assert_same_trades

PARAMS = {"entry_threshold": 0.2, "exit_threshold": 0.2}


def decisions(frame: pd.DataFrame) -> pd.DataFrame:
    cols = ["symbol", "bar_time", "action", "agent", "vote", "confidence", "abstain", "enabled", "regime"]
    return frame[cols].sort_values(["bar_time", "symbol", "agent"], ignore_index=True)


def test_ensemble_replay_equals_its_backtest_with_the_same_vote_rows(lab_root):
    cfg = agent_project(lab_root, days=4)
    bt = run_backtest(cfg, "ensemble", SYMBOLS, exchange="synthetic", params=PARAMS)
    engine = replay_engine(cfg, "ensemble", SYMBOLS, exchange="synthetic", params=PARAMS)
    engine.run()
    assert len(bt.trades) >= 5
    assert_same_trades(bt.trades, engine_trades(cfg))
    with db.session_scope(cfg) as s:
        book_id = engine.trader("paper").book.id
        ours = votes_frame(s, book_id=book_id)
        theirs = votes_frame(s, experiment_id=bt.extra["experiment_id"])
        n_decisions = s.scalar(
            select(func.count()).select_from(VoteDecision).where(VoteDecision.book_id == book_id)
        )
        n_signal_scans = s.scalar(
            select(func.count())
            .select_from(ScanResult)
            .where(ScanResult.book_id == book_id, ScanResult.signal != "none")
        )
        regimes = set(s.scalars(select(EngineTrade.regime)))
    # one decision per signalled bar, ten agents each, the same in both
    assert n_decisions == n_signal_scans and len(ours) == 10 * n_decisions
    pd.testing.assert_frame_equal(decisions(ours), decisions(theirs), check_dtype=False)
    by_agent = ours.groupby("agent")
    assert (by_agent["abstain"].apply(lambda a: (a == "live-only data in a backtest").all()))[
        ["order_book", "funding_rate"]
    ].all()
    assert by_agent["vote"].count()[["technical", "regime", "volume", "ml", "rl"]].min() > 0.5 * n_decisions
    assert regimes <= {"trend_up", "trend_down", "range", "high_vol", "unknown"} and regimes - {"unknown"}


def test_an_agent_disabled_through_the_command_queue_stops_weighing_and_stays_disabled(lab_root):
    cfg = agent_project(lab_root, days=3)
    commands.enqueue(cfg, "agent_disable", agent="technical", reason="flagged in review")
    engine = replay_engine(cfg, "ensemble", SYMBOLS, exchange="synthetic", params=PARAMS)
    engine.run(max_steps=400)
    with db.session_scope(cfg) as s:
        states = [(r.agent, r.enabled, r.reason, r.source) for r in s.scalars(select(AgentStateRecord))]
        frame = votes_frame(s, book_id=engine.trader("paper").book.id)
    assert states == [("technical", False, "flagged in review", "cli")]
    tech = frame[frame["agent"] == "technical"]
    assert len(tech) and not tech["enabled"].any() and tech["vote"].notna().any()  # still votes, unweighted
    assert frame[frame["agent"] == "volume"]["enabled"].all()
    # a restarted engine keeps it disabled (agent_states); enabling it takes effect from then on
    seen = len(frame)
    again = replay_engine(cfg, "ensemble", SYMBOLS, exchange="synthetic", params=PARAMS)
    again.run(max_steps=150)
    assert "technical" not in again.trader("paper").panel.enabled
    with db.session_scope(cfg) as s:
        resumed = votes_frame(s, book_id=again.trader("paper").book.id).iloc[seen:]
    assert len(resumed) and not resumed[resumed["agent"] == "technical"]["enabled"].any()
    commands.enqueue(cfg, "agent_enable", agent="technical")
    replay_engine(cfg, "ensemble", SYMBOLS, exchange="synthetic", params=PARAMS).run()
    with db.session_scope(cfg) as s:
        frame = votes_frame(s, book_id=again.trader("paper").book.id)
        last = s.scalars(select(AgentStateRecord).order_by(AgentStateRecord.id.desc())).first()
    assert last.enabled and last.reason == "enabled by the operator"
    assert frame[frame["agent"] == "technical"]["enabled"].iloc[-1]


def test_unknown_agent_command_fails_with_a_clear_result(lab_root):
    cfg = agent_project(lab_root, days=2)
    cid = commands.enqueue(cfg, "agent_disable", agent="astrology")
    replay_engine(cfg, "ensemble", SYMBOLS, exchange="synthetic", params=PARAMS).run(max_steps=5)
    row = commands.outcome(cfg, cid)
    assert (
        row.status == "failed"
        and "no book of this engine trades with an agent named 'astrology'" in row.result
    )


def test_an_agent_failing_at_run_time_abstains_and_the_engine_goes_on(lab_root):
    cfg = agent_project(lab_root, days=2)
    path = cfg.agents_dir / "volume.py"
    marker = lab_root / "fail-now"
    # it works while the engine loads (the checks pass), then fails once the marker exists
    path.write_text(
        path.read_text().replace(
            "    def votes(self, candles, live=None):\n",
            "    def votes(self, candles, live=None):\n"
            f"        if __import__('pathlib').Path({str(marker)!r}).exists():\n"
            "            raise RuntimeError('exchange hiccup')\n",
        )
    )
    engine = replay_engine(
        cfg, "ensemble", SYMBOLS, exchange="synthetic", params=PARAMS, signal_mode="rolling"
    )
    marker.touch()
    summary = engine.run(max_steps=60)
    assert summary.steps == 60
    with db.session_scope(cfg) as s:
        errors = [e.message for e in s.scalars(select(EngineError).where(EngineError.component == "agent"))]
    assert errors and "agent volume abstained" in errors[0] and "exchange hiccup" in errors[0]
