"""Analysis modules: the shipped ones run in the sandbox on a replayed DB and on an empty one; the
lifecycle validates, deploys, archives and rolls back with versions recorded; bad modules are named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from lab.research import modules as m
from lab.research.schema import describe_schema
from lab.store.db import ensure_schema, session_scope
from lab.store.models import AnalysisModuleRecord, AnalysisOutput, Base
from lab.trading.setup import replay_engine
from tests.trading.helpers import ROOT, SYMBOLS, make_project


@pytest.fixture
def project(lab_root):
    cfg = make_project(lab_root, days=3)
    shutil.copytree(ROOT / "statistics", lab_root / "statistics")
    return cfg


def test_shipped_modules_run_on_a_replayed_db(project):
    replay_engine(project, "ema_rsi_volume", SYMBOLS, exchange="synthetic").run()
    results = m.run_active(project)
    assert set(results) == {"market_analysis", "trade_performance"}
    assert all(r.ok for r in results.values()), {k: r.reason for k, r in results.items()}
    market = results["market_analysis"].value
    assert set(market["symbols"]) == set(SYMBOLS)
    btc = market["symbols"]["BTC/USD"]
    assert btc["close"] > 0 and -1 < btc["change_24h"] < 1 and 0 <= btc["rsi"] <= 100
    assert {s["series"].split()[1] for s in market["data"]["series"]} == set(SYMBOLS)
    perf = results["trade_performance"].value
    from lab.store.models import EngineTrade

    with session_scope(project) as s:
        closed = s.scalars(select(EngineTrade).where(EngineTrade.status == "closed")).all()
    assert perf["closed_trades"] == len(closed) > 0
    assert sum(v["trades"] for v in perf["by_symbol"].values()) == len(closed)
    regimes = {}
    for t in closed:  # the regime the engine stored on each trade's entry
        regimes[t.regime] = regimes.get(t.regime, 0) + 1
    assert {k: v["trades"] for k, v in perf["by_regime"].items()} == regimes and None not in regimes
    assert perf["fee_impact"]["fees_paid"] == pytest.approx(sum(t.entry_fees + t.exit_fees for t in closed))
    # stored with version and hash
    with session_scope(project) as s:
        rows = s.scalars(select(AnalysisOutput)).all()
    assert {(r.name, r.version, r.ok) for r in rows} == {
        ("market_analysis", "1.1.0", True),
        ("trade_performance", "1.2.0", True),
    }
    assert all(len(r.code_hash) == 64 for r in rows)
    assert m.latest_outputs(project)["trade_performance"]["output"]["closed_trades"] == len(closed)


def test_shipped_modules_run_on_an_empty_db(project):
    ensure_schema(project.db_url)
    results = m.run_active(project)
    assert all(r.ok for r in results.values()), {k: r.reason for k, r in results.items()}
    assert results["trade_performance"].value["closed_trades"] == 0
    assert results["market_analysis"].value["symbols"] == {}


GOOD_V2 = '''"""Counts trades."""
NAME = "trade_counter"
VERSION = "{version}"
PARENT_VERSION = {parent}


def analyze(db, schema):
    return {{"trades": db.query("SELECT COUNT(*) AS n FROM engine_trades")[0]["n"], "v": "{version}"}}
'''


def test_lifecycle_validate_deploy_archive_rollback(project, tmp_path):
    v1, v2 = tmp_path / "v1.py", tmp_path / "v2.py"
    v1.write_text(GOOD_V2.format(version="1.0.0", parent=None))
    v2.write_text(GOOD_V2.format(version="1.1.0", parent='"1.0.0"'))
    assert m.validate(project, v1).value == {"trades": 2, "v": "1.0.0"}  # the seeded copy has two trades
    m.deploy(project, v1)
    deployed = m.deploy(project, v2)
    active = project.statistics_dir / "active" / "trade_counter.py"
    assert (
        deployed.version == "1.1.0" and deployed.parent_version == "1.0.0" and "1.1.0" in active.read_text()
    )
    assert [i.version for i in m.archived_versions(project, "trade_counter")] == ["1.0.0"]
    with pytest.raises(m.ModuleError, match="already the active version"):
        m.deploy(project, v2)
    restored = m.rollback(project, "trade_counter")
    assert restored.version == "1.0.0" and '"1.0.0"' in active.read_text()
    assert sorted(i.version for i in m.archived_versions(project, "trade_counter")) == ["1.0.0", "1.1.0"]
    m.rollback(project, "trade_counter", "1.1.0")
    assert "1.1.0" in active.read_text()
    with pytest.raises(m.ModuleError, match=r"no archived version 9.9"):
        m.rollback(project, "trade_counter", "9.9")
    with session_scope(project) as s:
        actions = [
            (r.version, r.action)
            for r in s.scalars(select(AnalysisModuleRecord).order_by(AnalysisModuleRecord.id))
        ]
    assert actions == [
        ("1.0.0", "deployed"),
        ("1.0.0", "archived"),
        ("1.1.0", "deployed"),
        ("1.1.0", "archived"),
        ("1.0.0", "rolled_back"),
        ("1.0.0", "archived"),
        ("1.1.0", "rolled_back"),
    ]


@pytest.mark.parametrize(
    "source,message",
    [
        ("def analyze(db, schema):\n    return {}", "missing top-level literal"),
        ('NAME = "x"\nVERSION = "1"\nPARENT_VERSION = None\n', "defines no function analyze"),
        (
            'NAME = "x"\nVERSION = "1"\nPARENT_VERSION = None\nimport os\ndef analyze(db, schema):\n    return {}',
            "refused by the screen: line 4: import of 'os'",
        ),
        (
            'NAME = "x"\nVERSION = "1"\nPARENT_VERSION = None\ndef analyze(db, schema):\n    return [1]',
            "must return a dict",
        ),
        (
            'NAME = "x"\nVERSION = "1"\nPARENT_VERSION = None\ndef analyze(db, schema):\n    return {"t": db.query("SELECT * FROM nope")}',
            "no such table: nope",
        ),
        ("def analyze(db, schema:\n", "cannot be read as Python"),
    ],
)
def test_bad_modules_are_refused_with_the_problem_named(project, tmp_path, source, message):
    path = tmp_path / "bad.py"
    path.write_text(source)
    with pytest.raises(m.ModuleError, match=message.replace("(", r"\(")):
        m.deploy(project, path)
    assert not (project.statistics_dir / "active" / "bad.py").exists()
    assert not (project.statistics_dir / "active" / "x.py").exists()


def test_schema_description_is_generated_from_the_models():
    schema = describe_schema()
    assert set(schema) == set(Base.metadata.tables)
    trades = schema["engine_trades"]
    assert "net of both fees" in trades["meaning"]
    assert trades["columns"]["pnl"]["meaning"].startswith("net of both fees")
    assert trades["columns"]["exit_time"]["nullable"] is True
    assert schema["scan_results"]["columns"]["signal"]["meaning"] == "entry, exit, none"


def test_lab_stats_prints_benchmarks_and_module_outputs(project, monkeypatch):
    from typer.testing import CliRunner

    from lab.cli.main import app

    replay_engine(project, "ema_rsi_volume", SYMBOLS, exchange="synthetic").run()
    monkeypatch.setenv("LAB_ROOT", str(project.root))
    out = CliRunner().invoke(app, ["stats"])
    assert out.exit_code == 0, out.output
    assert "truth benchmarks" in out.output and "ema_rsi_volume" in out.output and "net_pnl" in out.output
    assert "market_analysis" in out.output and '"closed_trades"' in out.output
    listed = CliRunner().invoke(app, ["stats", "modules", "list"])
    assert "trade_performance" in listed.output and "1.0.0" in listed.output
    bad = CliRunner().invoke(app, ["stats", "modules", "validate", str(Path(project.root) / "nope.py")])
    assert bad.exit_code == 2 and "cannot be read" in bad.output
