"""The status view without a browser: empty DB, unreadable DB, large DB (bounded queries)."""

from __future__ import annotations

import shutil

from lab.dashboard import queries as q
from lab.dashboard.base import PLOTLY_MIME
from lab.dashboard.seed import seed_large
from lab.dashboard.status import StatusApp
from lab.store.db import readonly_engine, session_scope
from tests.trading.helpers import ROOT


def _shown(app) -> dict:
    """The mime bundle the equity Output widget shows."""
    (entry,) = app.figure.outputs
    return entry["data"]


def _app(cfg):
    if not cfg.notebooks_dir.exists():
        shutil.copytree(ROOT / "notebooks", cfg.notebooks_dir)
    return StatusApp(cfg, refresh_seconds=60)


def test_empty_database_shows_friendly_states(cfg):
    with session_scope(cfg):
        pass  # creates the schema, nothing else
    app = _app(cfg)
    assert "No engine has run yet" in app.header.value
    assert "no open positions" in app.positions.value and "no trades yet" in app.trades.value
    assert "no alerts" in app.alerts.value and "no equity recorded yet" in _shown(app)["text/html"]


def test_unreadable_database_is_a_clear_message_not_a_traceback(cfg):
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    (cfg.data_dir / "lab.db").write_bytes(b"this is not a database" * 100)
    app = _app(cfg)
    assert "Cannot read the database" in app.header.value and "Traceback" not in app.header.value


def test_dashboard_database_connection_is_read_only(cfg):
    with session_scope(cfg):
        pass
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    with pytest.raises(OperationalError, match="readonly"), readonly_engine(cfg.db_url).begin() as c:
        c.execute(text("DELETE FROM engine_trades"))


def test_large_database_loads_only_what_is_shown(cfg):
    seed_large(cfg, trades=20_000, days=60)
    db = readonly_engine(cfg.db_url)
    assert len(q.equity(db, "paper", "all")) <= 1500  # 17,280 points thinned in SQL
    assert len(q.equity(db, "paper", "1 day")) == 288
    assert len(q.recent_trades(db, "paper", None)) == 25
    app = _app(cfg)
    assert "BTC/USD" in app.trades.value
    app.period.value = "1 day"  # filters re-query
    equity, drawdown = _shown(app)[PLOTLY_MIME]["data"]
    assert len(equity["x"]) == len(drawdown["y"]) == 288 and min(drawdown["y"]) <= 0 == max(drawdown["y"])
    app.symbol.options = ["all", "ETH/USD"]
    app.symbol.value = "ETH/USD"
    assert "BTC/USD" not in app.trades.value and "ETH/USD" in app.trades.value


def test_refreshing_creates_no_widgets_and_redraws_only_on_new_data(cfg):
    import ipywidgets as w

    seed_large(cfg, trades=500, days=3)
    app = _app(cfg)
    first = app.figure.outputs
    before = len(w.Widget.widgets)
    for _ in range(5):
        app.refresh()
    assert app.figure.outputs is first  # unchanged data: the plot is not redrawn
    app.period.value = "1 day"  # changed data: a new plot
    assert app.figure.outputs is not first
    assert len(_shown(app)[PLOTLY_MIME]["data"][0]["x"]) == 288
    assert len(w.Widget.widgets) == before


def test_a_refresh_that_changes_nothing_sends_nothing(cfg):
    """Voila replays every message a preheated kernel sent to each page that opens: idle refreshes must be silent."""
    seed_large(cfg, trades=500, days=3)
    app = _app(cfg)
    app.refresh()
    sent = []
    for widget in (
        app.header,
        app.health,
        app.risk,
        app.alerts,
        app.positions,
        app.trades,
        app.signals,
        app.jobs,
        app.fresh,
        app.symbol,
        app.figure,
    ):
        widget.observe(lambda change, name=widget: sent.append(change["name"]), names=None)
    app.refresh()
    assert sent == []


def test_deferred_chart_waits_for_the_page_to_report_it_has_painted(cfg):
    from lab.dashboard.painted import PagePainted

    seed_large(cfg, trades=500, days=3)
    if not cfg.notebooks_dir.exists():
        shutil.copytree(ROOT / "notebooks", cfg.notebooks_dir)
    app = StatusApp(cfg, refresh_seconds=60, defer_plot=True)
    assert "drawing the equity chart" in _shown(app)["text/html"]
    placeholder = app.figure.outputs
    app.refresh()
    assert app.figure.outputs is placeholder  # refreshes before the page paints send nothing
    (painted,) = [c for c in app.widget.children if isinstance(c, PagePainted)]
    painted._received(painted, {"event": "other"}, [])
    assert app.figure.outputs is placeholder
    painted._received(painted, {"event": "painted"}, [])  # what the page's script sends
    equity, drawdown = _shown(app)[PLOTLY_MIME]["data"]
    assert len(equity["x"]) > 100 and len(equity["x"]) == len(drawdown["y"])


def test_truth_benchmarks_panel_shows_the_research_figures(cfg):
    from lab.research.truth import truth_benchmarks

    seed_large(cfg, trades=2_000, days=10)
    app = _app(cfg)
    bench = truth_benchmarks(readonly_engine(cfg.db_url))["per_strategy"][0]
    panel = app.truth.value
    assert bench["strategy"] in panel and f"<td>{bench['trades']:,}</td>" in panel
    assert f"<td>{bench['win_rate'] * 100:.1f}%</td>" in panel
    assert "entry signals 24h / 7d / 30d" in panel


def test_empty_database_truth_panel_says_so(cfg):
    with session_scope(cfg):
        pass
    assert "no engine trades yet" in _app(cfg).truth.value


def test_budget_alerts_reach_the_status_views_alerts(cfg):
    from lab.core.llm_config import LLMConfig
    from lab.dashboard import queries as q
    from lab.orchestrator.budget import Budget
    from lab.store import spool
    from lab.store.db import ensure_schema, get_engine, readonly_engine

    ensure_schema(cfg.db_url)
    db = get_engine(cfg.db_url)
    spool.record_usage(
        db,
        "nightly",
        None,
        provider="anthropic",
        model="m",
        stage="decide",
        input_tokens=1,
        output_tokens=1,
        cache_write_tokens=0,
        cache_read_tokens=0,
        cost=1.7,
    )
    assert Budget(db, LLMConfig(), "nightly").alerts() == [("day", "dollars", 0.8)]  # $1.70 of $2.00
    shown = q.alerts(readonly_engine(cfg.db_url))
    assert shown["source"].tolist() == ["budget nightly"] and shown["severity"].tolist() == ["warning"]
    assert shown["detail"].iloc[0] == "day dollars: 1.7 of 2 (80%)"
