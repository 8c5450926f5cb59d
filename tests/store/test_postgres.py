"""The lab on a real PostgreSQL server (tests/pg.py starts a throwaway one): migrations up and down,
backtest records, an engine replay equal to the backtest with its state read back as on SQLite, the
SIGKILL crash test, the command queue, the dashboard's read-only queries, and two engines on two
machines contending for the same book."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import DBAPIError

from lab.backtest.run import run_backtest
from lab.core.errors import LabError
from lab.store import commands, db
from lab.store.models import BacktestTrade, EngineState, Experiment
from lab.trading.ledger import RuntimeState
from lab.trading.setup import replay_engine
from tests.trading.helpers import ROOT, SYMBOLS, engine_trades, make_project
from tests.trading.test_parity import assert_same_trades

pytestmark = pytest.mark.postgres


def test_migrations_up_and_down(pg_url):
    db.upgrade(pg_url)
    assert db.current_revision(pg_url) == db.head_revision()
    tables = set(inspect(db.get_engine(pg_url)).get_table_names())
    assert {"engine_trades", "sizing_decisions", "analysis_outputs", "notebook_runs"} <= tables
    db.downgrade(pg_url, "base")
    assert set(inspect(db.get_engine(pg_url)).get_table_names()) == {"alembic_version"}
    db.upgrade(pg_url)
    assert db.current_revision(pg_url) == db.head_revision()


def test_backtest_is_recorded(lab_root, pg_url):
    cfg = make_project(lab_root, days=2, env={"LAB_DB_URL": pg_url})
    result = run_backtest(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic")
    with db.session_scope(cfg) as s:
        exp = s.get(Experiment, result.extra["experiment_id"])
        assert exp.trades_hash == result.trades_hash and exp.symbols == SYMBOLS
        assert s.scalar(select(func.count()).select_from(BacktestTrade)) == len(result.trades) > 0


def test_replay_equals_backtest_and_state_reads_back_as_on_sqlite(tmp_path, lab_root, pg_url):
    cfg = make_project(lab_root, days=3, env={"LAB_DB_URL": pg_url})
    bt = run_backtest(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", record=False)
    engine = replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic")
    summary = engine.run()
    assert summary.steps == len(bt.equity)
    assert_same_trades(bt.trades, engine_trades(cfg))
    # the same replay on SQLite leaves the same state, field for field
    lite_root = tmp_path / "lite"
    lite_root.mkdir()
    (lite_root / "lab.toml").write_text((lab_root / "lab.toml").read_text())
    lite = make_project(lite_root, days=3)
    replay_engine(lite, "ema_rsi_volume", SYMBOLS, exchange="synthetic").run()
    states = []
    for c in (cfg, lite):
        with db.session_scope(c) as s:
            states.append(RuntimeState.model_validate(s.get(EngineState, "paper").state))
    pg_state, lite_state = (st.model_dump(exclude={"started_at", "last_health_at"}) for st in states)
    assert pg_state == lite_state and pg_state["cash"] > 0


@pytest.mark.slow
def test_sigkill_on_postgres_loses_and_duplicates_nothing(tmp_path, lab_root, pg_url):
    from tests.trading.test_crash import sigkill_trials

    sigkill_trials(tmp_path, lab_root, 8, extra_env={"LAB_DB_URL": pg_url})


def test_command_queue_on_postgres(lab_root, pg_url):
    cfg = make_project(lab_root, days=1, env={"LAB_DB_URL": pg_url})
    cid = commands.enqueue(cfg, "pause", reason="maintenance")
    engine = replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic")
    engine.run()
    row = commands.outcome(cfg, cid)
    assert row.status == "done" and "maintenance" in row.result
    assert engine.state.paused and engine_trades(cfg).empty  # paused before the first bar: no entries


def test_dashboard_queries_are_read_only_on_postgres(lab_root, pg_url):
    from lab.dashboard import queries as q

    cfg = make_project(lab_root, days=1, env={"LAB_DB_URL": pg_url})
    replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic").run()
    ro = db.readonly_engine(pg_url)
    assert len(q.equity(ro, "paper", "all")) > 0
    assert len(q.recent_trades(ro, "paper", None)) == min(25, len(engine_trades(cfg)))
    for sql in (
        "DELETE FROM engine_trades",
        "UPDATE engine_state SET mode = 'x'",
        "CREATE TABLE evil (x int)",
        "DROP TABLE engine_trades",
    ):
        with pytest.raises(DBAPIError, match="read-only transaction"), ro.connect() as c:
            c.execute(text(sql))
    with ro.connect() as c:
        assert c.execute(text("SELECT COUNT(*) FROM engine_trades")).scalar() == len(engine_trades(cfg))


def test_two_engines_on_one_database_cannot_trade_the_same_book(tmp_path, pg_url):
    """Two machines (two project directories, so two instance-lock files) on one database."""
    roots = []
    for name in ("machine_a", "machine_b"):
        root = tmp_path / name
        root.mkdir()
        (root / "lab.toml").write_text("")
        make_project(root, days=2, env={"LAB_DB_URL": pg_url})
        roots.append(root)
    env = os.environ | {"LAB_DB_URL": pg_url, "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-m", "lab.cli.main", "run", "--replay", "-s", SYMBOLS[0]]
    first = subprocess.Popen(
        [*run, "--pace", "0.05"],
        cwd=roots[0],
        env=env | {"LAB_ROOT": str(roots[0])},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with db.get_engine(pg_url).connect() as c:
                if c.execute(text("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory'")).scalar():
                    break
            time.sleep(0.1)
        second = subprocess.run(
            run,
            cwd=roots[1],
            env=env | {"LAB_ROOT": str(roots[1])},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode != 0
        assert "another engine holds the paper book's lock in the database" in second.stderr
        assert "Traceback" not in second.stderr
        assert first.poll() is None  # the first engine was not disturbed
    finally:
        first.kill()
        first.wait()


def test_a_missing_driver_is_named_with_the_extra():
    with pytest.raises(
        LabError, match=r"needs the pg8000 driver, which is not installed \(pip install -e '\.\[postgres\]'\)"
    ):
        db.get_engine("postgresql+pg8000://lab:secret@127.0.0.1:1/x")
    with pytest.raises(LabError) as bad:
        db.get_engine("postgresql+pg8000://lab:hunter2@127.0.0.1:1/x")
    assert "hunter2" not in str(bad.value)


def test_truth_benchmarks_and_analysis_modules_on_postgres(lab_root, pg_url):
    """Modules read a snapshot copied from PostgreSQL table by table; benchmarks read in a read-only
    transaction."""
    import shutil

    from lab.research import modules as m
    from lab.research.truth import truth_benchmarks

    cfg = make_project(lab_root, days=2, env={"LAB_DB_URL": pg_url})
    shutil.copytree(ROOT / "statistics", lab_root / "statistics")
    replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic").run()
    bench = truth_benchmarks(db.readonly_engine(pg_url))
    closed = engine_trades(cfg)
    closed = closed[closed["status"] == "closed"]
    assert bench["per_strategy"][0]["trades"] == len(closed)
    results = m.run_active(cfg)
    assert all(r.ok for r in results.values()), {k: r.reason for k, r in results.items()}
    assert results["trade_performance"].value["closed_trades"] == len(closed)


def test_a_nightly_cycle_and_its_spool_on_postgres(lab_root, pg_url):
    from lab.dashboard import queries as q
    from lab.orchestrator.budget import Budget
    from lab.orchestrator.nightly import run_nightly
    from lab.orchestrator.offline import OfflinePolicy
    from lab.store import spool
    from tests.orchestrator.helpers import night_project

    cfg = night_project(lab_root, env={"LAB_DB_URL": pg_url})
    result = run_nightly(cfg, client=OfflinePolicy(), tools=False)
    assert (result.status, result.decision) == ("completed", "STRATEGY_UPDATE"), result.reason
    engine = db.get_engine(pg_url)
    assert spool.candidates(engine, result.cycle_id)["status"].tolist() == ["shadow"]
    hits = spool.search(engine, "tighten its entry filter")  # no FTS5 on PostgreSQL: ILIKE
    assert hits["cycle_id"].tolist() == [result.cycle_id] and hits["stage"].tolist() == ["decide"]
    spool.record_usage(
        engine,
        "nightly",
        result.cycle_id,
        provider="anthropic",
        model="m",
        stage="decide",
        input_tokens=1,
        output_tokens=1,
        cache_write_tokens=0,
        cache_read_tokens=0,
        cost=5.5,
    )  # of $5.00
    assert {lvl for _p, _m, lvl in Budget(engine, cfg.llm, "nightly").alerts()} == {0.8, 1.0}
    alerts = q.alerts(db.readonly_engine(pg_url))
    assert "budget nightly" in alerts["source"].tolist()
