"""Every notebook runs through the runner with tiny parameters; failures still leave a report."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from lab.core.errors import NotebookError
from lab.market.repository import store_candles
from lab.market.sample import generate
from lab.pipeline.history import runs, summary
from lab.pipeline.runner import run_notebook

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
TINY = {
    "backtest": {"symbols": ["BTC/USD", "ETH/USD"], "sweep_limit": 4, "walk_forward_splits": 1},
    "kelly_validation": {"symbols": ["BTC/USD", "ETH/USD"], "n_sims": 300, "fractions": [0.5, 1.0]},
    "agent_analysis": {"symbols": ["BTC/USD", "ETH/USD"], "min_votes": 10},
    "nightly_orchestration": {"tools": False, "history": 5},
}


@pytest.fixture
def project(cfg):
    shutil.copytree(ROOT / "notebooks", cfg.root / "notebooks")
    shutil.copytree(ROOT / "strategies", cfg.root / "strategies")
    start = pd.Timestamp("2025-06-01", tz="UTC")
    for s in ("BTC/USD", "ETH/USD"):
        store_candles(cfg, "synthetic", s, "5m", generate(s, "5m", start, start + pd.Timedelta(days=5), 2),
                      source="t", action="sample", synthetic=True)
    return cfg


def test_every_notebook_has_tiny_test_parameters():
    assert set(NOTEBOOKS) == set(TINY), "add tiny parameters for each notebook to TINY"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_and_exports_offline_html(project, name):
    outcome = run_notebook(project, name, TINY[name])
    assert outcome.status == "succeeded", outcome.error
    html = outcome.output_html.read_text()
    assert "Plotly.newPlot" in html and "<script src=\"http" not in html  # charts embedded, nothing from a CDN
    assert "Traceback" not in html
    history = runs(project)
    assert history.iloc[0]["status"] == "succeeded" and history.iloc[0]["parameters"] == TINY[name]
    index = (project.reports_dir / "index.html").read_text()
    assert outcome.output_html.name in index and "succeeded" in index


def test_backtest_notebook_shows_metrics_and_records_the_experiment(project):
    outcome = run_notebook(project, "backtest", TINY["backtest"])
    html = outcome.output_html.read_text()
    for text in ("Metrics", "sharpe_daily", "fees_paid", "Equity and drawdown", "Walk-forward", "deflated Sharpe"):
        assert text in html
    assert "api.run_report(params)" not in html  # code cells are hidden; only their outputs show


def test_agent_analysis_notebook_shows_the_leaderboard_and_saves_a_snapshot(project):
    from sqlalchemy import func, select

    from lab.store.db import session_scope
    from lab.store.models import AgentPerformance, VoteDecision

    outcome = run_notebook(project, "agent_analysis", TINY["agent_analysis"])
    assert outcome.status == "succeeded", outcome.error
    html = outcome.output_html.read_text()
    for text in ("Leaderboard", "hit_low", "ic_high", "Leave-one-out", "contribution_return", "base rate",
                 "learning curve", "Vote correlation", "agents tested"):
        assert text in html, text
    with session_scope(project) as s:
        agents = s.scalar(select(func.count(func.distinct(AgentPerformance.agent))))
        decisions = s.scalar(select(func.count()).select_from(VoteDecision))
    assert agents == 10 and decisions > 100


def test_failing_notebook_still_writes_html_and_a_failed_row(project):
    outcome = run_notebook(project, "backtest", {"strategy": "does_not_exist", "sweep": False,
                                                 "walk_forward_splits": 0})
    assert outcome.status == "failed"
    assert "does_not_exist" in outcome.error and "not found" in outcome.error
    assert outcome.output_html.exists() and "not found" in outcome.output_html.read_text()
    assert "Traceback" not in outcome.output_html.read_text()  # the one-line message, as the CLI shows it
    row = runs(project).iloc[0]
    assert row["status"] == "failed" and "does_not_exist" in row["error"]
    stats = summary(project).set_index("notebook")
    assert stats.loc["backtest", "success_rate"] == 0.0


def test_bad_notebook_values_are_named_by_the_validation_cell(project):
    outcome = run_notebook(project, "backtest", {"sweep_limit": -1, "sweep": False, "walk_forward_splits": 0})
    assert outcome.status == "failed" and "sweep_limit" in outcome.error


def test_unknown_or_non_json_parameters_are_refused_before_a_kernel_starts(project):
    with pytest.raises(NotebookError, match=r"unknown parameter\(s\) \['nope'\]"):
        run_notebook(project, "backtest", {"nope": 1})
    with pytest.raises(NotebookError, match="not a JSON value"):
        run_notebook(project, "backtest", {"symbols": {"BTC/USD"}})
    with pytest.raises(NotebookError, match="no notebook 'missing'"):
        run_notebook(project, "missing")
    assert not (project.reports_dir / "runs").exists()
    assert runs(project).empty


def test_wall_clock_timeout_kills_the_run_and_records_it(project):
    cfg = project.model_copy(update={"pipeline": project.pipeline.model_copy(update={"wall_timeout": 3})})
    outcome = run_notebook(cfg, "backtest", TINY["backtest"])
    assert outcome.status == "failed" and "wall-clock timeout after 3 s" in outcome.error
    assert outcome.output_html.exists()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_are_committed_thin_and_without_outputs(name):
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    first = code[0]
    assert "parameters" in first.metadata.get("tags", [])
    for stmt in ast.parse(first.source).body:  # plain literals only
        assert isinstance(stmt, ast.Assign)
        json.dumps(ast.literal_eval(stmt.value))
    assert "validate_parameters" in code[1].source
    assert nb.metadata["kernelspec"]["name"] == "lab"


DOUBLER = '''
import pandas as pd

from lab.core.contract import Signals, Strategy, StrategyParams


class TimedDouble(Strategy):
    """Buys on the 50th bar, sells once the close reaches 200: a known trade on known candles."""

    name = "timed_double"
    timeframe = "5m"

    class Params(StrategyParams):
        pass

    def warmup(self) -> int:
        return 1

    def signals(self, candles: pd.DataFrame) -> Signals:
        position = pd.Series(range(len(candles)), index=candles.index)
        entries = position == 50
        exits = (candles["close"] >= 200.0) & (position > 50)
        return Signals(entries=entries, exits=exits)
'''


def test_report_reads_plus_100_percent_and_beats_flat_buy_and_hold(lab_root):
    """Known inputs: the price goes 100 → 200 → 100 (buy-and-hold ends flat); the strategy buys at 100
    and sells at 200 with all its cash, no fees: the report must read +100.0% and say it beat B&H."""
    import numpy as np

    (lab_root / "lab.toml").write_text(
        "[backtest]\ninitial_cash = 10000.0\nposition_fraction = 1.0\nmax_open_positions = 1\n"
    )
    cfg = __import__("lab.core.config", fromlist=["load_config"]).load_config(lab_root / "lab.toml", env={})
    shutil.copytree(ROOT / "notebooks", lab_root / "notebooks")
    (lab_root / "strategies" / "candidates").mkdir(parents=True)
    (lab_root / "strategies" / "candidates" / "timed_double.py").write_text(DOUBLER)
    path = np.r_[np.full(100, 100.0), np.linspace(100, 200, 500), np.full(100, 200.0),
                 np.linspace(200, 100, 500), np.full(500, 100.0)]
    idx = pd.date_range("2025-06-01", periods=len(path), freq="5min", tz="UTC")
    frame = pd.DataFrame({"open": np.r_[path[0], path[:-1]], "close": path, "volume": 1.0}, index=idx)
    frame["high"], frame["low"] = frame[["open", "close"]].max(axis=1), frame[["open", "close"]].min(axis=1)
    store_candles(cfg, "test", "BTC/USD", "5m", frame[["open", "high", "low", "close", "volume"]], source="t", action="import")
    outcome = run_notebook(cfg, "backtest", {"strategy": "timed_double", "exchange": "test", "symbols": ["BTC/USD"],
                                             "taker_fee": 0.0, "slippage": 0.0, "sweep": False, "walk_forward_splits": 0})
    assert outcome.status == "succeeded", outcome.error
    text = outcome.output_html.read_text()
    assert "the strategy returned +100.0% against +0.0% for equal-weight buy-and-hold of BTC/USD, beating by 100.0 points" in text
    assert "<td>+100.0%</td>" in text and "<td>+100.0 pts</td>" in text
    row = runs(cfg).iloc[0]
    assert row["summary"]["headline"]["metrics"]["total_return"] == pytest.approx(1.0)
    assert row["summary"]["headline"]["buy_and_hold_return"] == pytest.approx(0.0, abs=1e-12)


def test_nightly_notebook_shows_the_spool_and_the_shadows(project):
    from lab.store.db import get_engine
    from lab.store.spool import cycles

    outcome = run_notebook(project, "nightly_orchestration", TINY["nightly_orchestration"])
    assert outcome.status == "succeeded", outcome.error
    html = outcome.output_html.read_text()
    night = cycles(get_engine(project.db_url)).iloc[0]
    assert night["provider"] == "offline" and night["status"] == "completed"
    for text in (f"Night {night['id']} (offline)", "[1] analyze · offline", "[2] decide · offline", "truth_benchmark",
                 "constraint", "The shadows and the promoter", "Model spend per day"):
        assert text in html, text


def test_nightly_notebook_through_the_real_sdk_leaves_no_key_in_any_file(project, monkeypatch):
    """The notebook's kernel talks to a local Messages API server over HTTP (ANTHROPIC_BASE_URL) with a
    key in its environment; the key reaches the server and no file the run leaves (the DB, the executed
    notebook, the HTML report, the logs) contains it."""
    from tests.fakes.messages_api import MessagesAPI, MessagesServer, answer

    key = "-".join(("sk", "ant", "notebook", "test", "0a1b2c3d4e5f6a7b8c9d"))  # a fake, built here
    api = MessagesAPI(
        [
            answer({"thought": "t", "action": "finish", "analysis": f"nothing to see; key {key}", "observations": []}),
            answer({"decision": "NO_CHANGE", "rationale": f"no record yet ({key})", "confidence": 0.9}),
        ]
    )
    server = MessagesServer(api)
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    try:
        outcome = run_notebook(project, "nightly_orchestration", TINY["nightly_orchestration"])
    finally:
        server.close()
    assert outcome.status == "succeeded", outcome.error
    assert len(api.requests) == 2 and any(key in v for v in api.headers[0].values())
    html = outcome.output_html.read_text()
    assert "(anthropic)" in html and "NO_CHANGE" in html and "[redacted]" in html
    leaked = [str(p) for p in project.root.rglob("*") if p.is_file() and key.encode() in p.read_bytes()]
    assert leaked == []
