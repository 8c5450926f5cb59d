"""The Voila status dashboard, served by the real Voila server and driven in Debian's Chromium."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lab.cli.dashboard_cmds import free_port, voila_command, wait_until_serving
from lab.store.db import session_scope
from lab.store.models import EngineState, EngineTrade, EquitySnapshot, HealthRecord, Position, RiskEvent
from lab.trading.ledger import RuntimeState
from tests.trading.helpers import ROOT, make_project

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = ROOT / "reports" / "e2e"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=(
            "Chromium is not installed at /usr/bin/chromium: browser tests skipped (make test installs it when run as root "
            "with apt-get; .ci/run always does)"
        ),
    ),
]


def seed(cfg) -> None:
    when = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    with session_scope(cfg) as s:
        trade = EngineTrade(
            mode="paper",
            strategy="ema_rsi_volume",
            strategy_version="1.0.0",
            symbol="SOL/USD",
            entry_time=when,
            size=10.0,
            entry_price=100.0,
            entry_fees=4.0,
        )
        s.add(trade)
        s.flush()
        s.add(
            Position(
                mode="paper",
                symbol="SOL/USD",
                size=10.0,
                entry_price=100.0,
                entry_fees=4.0,
                entry_time=when,
                stop_loss=0.03,
                take_profit=0.06,
                trailing=False,
                peak=100.0,
                trade_id=trade.id,
            )
        )
        state = RuntimeState(
            initial_capital=10_000, cash=9_000, peak_equity=10_500, day_start_equity=10_100, last_bar=when
        )
        s.add(EngineState(mode="paper", state=state.model_dump(mode="json")))
        for k in range(48):  # the last four hours of 5m equity
            equity = 10_000 + 25 * k - (300 if k > 40 else 0)
            s.add(
                EquitySnapshot(
                    mode="paper",
                    kind="bar",
                    bar_time=when - timedelta(minutes=5 * (47 - k)),
                    equity=equity,
                    cash=9_000,
                    positions_value=equity - 9_000,
                )
            )
        for component, status in (("feed", "degraded"), ("broker", "healthy"), ("strategy", "healthy")):
            s.add(
                HealthRecord(
                    component=component,
                    status=status,
                    detail="stale data: seeded" if status == "degraded" else "",
                )
            )
        s.add(
            RiskEvent(
                bar_time=when,
                symbol=None,
                rule="max_drawdown",
                detail="max drawdown kill switch: seeded alert",
            )
        )


@pytest.fixture
def dashboard(lab_root):
    cfg = make_project(lab_root, days=1)
    shutil.copytree(ROOT / "notebooks", lab_root / "notebooks")
    token, port = "e2e-token-123", free_port()
    proc = subprocess.Popen(
        voila_command(cfg, port, token),
        cwd=lab_root,
        env=os.environ | {"LAB_ROOT": str(lab_root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert wait_until_serving(port), "Voila did not start"
    yield cfg, f"http://127.0.0.1:{port}", token, port
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def open_status(browser, url: str, token: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1300})
    page.goto(f"{url}/?token={token}")
    page.wait_for_selector("text=Component health", timeout=60_000)
    return page


def test_status_page_shows_seeded_positions_health_and_alerts(dashboard, browser):
    cfg, url, token, _ = dashboard
    seed(cfg)
    page = open_status(browser, url, token)
    page.wait_for_selector(
        "text=max drawdown kill switch: seeded alert", timeout=30_000
    )  # the page refreshes itself
    body = page.inner_text("body")
    assert "SOL/USD" in body and "degraded" in body and "stale data: seeded" in body
    assert "drawdown from peak" in body and "max_drawdown" in body
    # The equity chart is drawn once the page has painted (lab.dashboard.painted): both traces appear.
    page.wait_for_selector(".js-plotly-plot .main-svg", state="attached", timeout=30_000)
    assert page.locator(".js-plotly-plot .scatterlayer .trace").count() == 2
    assert "drawing the equity chart" not in page.inner_text("body")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "status.png"), full_page=True)


def test_pause_and_resume_from_the_page_change_the_engine_state(dashboard, browser):
    cfg, url, token, _ = dashboard
    engine = subprocess.Popen(
        [sys.executable, "-m", "lab.cli.main", "run", "--replay", "--pace", "0.2"],
        cwd=cfg.root,
        env=os.environ | {"LAB_ROOT": str(cfg.root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        page = open_status(browser, url, token)

        def state() -> dict:
            with session_scope(cfg) as s:
                row = s.get(EngineState, "paper")
                return dict(row.state) if row else {}

        page.fill("input[placeholder='reason for pausing']", "e2e maintenance")
        page.click("button:has-text('Pause')")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not state().get("paused"):
            time.sleep(0.3)
        assert state().get("paused") is True and state().get("pause_reason") == "e2e maintenance"
        page.wait_for_selector("text=paused: e2e maintenance", timeout=30_000)  # the outcome is shown
        page.click("button:has-text('Resume')")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and state().get("paused"):
            time.sleep(0.3)
        assert state().get("paused") is False
    finally:
        os.killpg(engine.pid, signal.SIGTERM)
        engine.wait(timeout=20)


@pytest.mark.parametrize("query", ["", "?token=wrong"])
def test_missing_or_wrong_token_is_refused(dashboard, query):
    _, _, _, port = dashboard
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", f"/{query}")
    response = conn.getresponse()
    body = response.read().decode(errors="replace")
    assert response.status in (302, 403), response.status
    assert "Component health" not in body and "kernel" not in response.getheader("Location", "")
