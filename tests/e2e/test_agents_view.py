"""The agents view, served by the real Voila server and driven in Debian's Chromium: the leaderboard
with intervals and flags, the evidence, and a toggle that the running engine applies."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from lab.cli.dashboard_cmds import free_port, voila_command, wait_until_serving
from lab.store.db import session_scope
from lab.store.models import AgentStateRecord
from tests.dashboard.test_agents_app import seed_snapshot
from tests.e2e.test_dashboard import ARGS, CHROMIUM, SHOTS
from tests.trading.helpers import ROOT, agent_project

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium"),
]


@pytest.fixture
def agents_view(lab_root):
    cfg = agent_project(lab_root, days=1)
    shutil.copytree(ROOT / "notebooks", lab_root / "notebooks")
    token, port = "e2e-agents-123", free_port()
    proc = subprocess.Popen(
        voila_command(cfg, port, token, notebook="agents"),
        cwd=lab_root,
        env=os.environ | {"LAB_ROOT": str(lab_root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert wait_until_serving(port), "Voila did not start"
    yield cfg, f"http://127.0.0.1:{port}/?token={token}"
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)


def test_agents_view_shows_the_leaderboard_and_a_toggle_reaches_the_engine(agents_view):
    from playwright.sync_api import sync_playwright

    cfg, url = agents_view
    table = seed_snapshot(cfg)
    engine = subprocess.Popen(
        [sys.executable, "-m", "lab.cli.main", "run", "--replay", "--strategy", "ensemble", "--pace", "0.2"],
        cwd=cfg.root,
        env=os.environ | {"LAB_ROOT": str(cfg.root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.goto(url)
            page.wait_for_selector("text=Leaderboard (latest daily snapshot", timeout=60_000)
            page.wait_for_selector("text=snapshot of", timeout=30_000)
            body = page.inner_text("body")
            assert "2026-11-30" in body and "technical" in body
            ic = table.loc["technical"]
            assert f"{ic['ic']:+.3f}" in body and f"[{ic['ic_low']:+.3f}, {ic['ic_high']:+.3f}]" in body
            assert "is below the minimum 0.030" in body  # the evidence behind the flags
            page.wait_for_selector(".js-plotly-plot .main-svg", state="attached", timeout=30_000)
            page.fill("input[placeholder='reason for the change']", "e2e: noise")
            row = page.locator(".widget-hbox", has=page.locator("code", has_text="volume")).last
            row.locator("button:has-text('Disable')").click()
            page.wait_for_selector("text=agent_disable queued", timeout=30_000)

            def state():
                with session_scope(cfg) as s:
                    return s.scalars(
                        select(AgentStateRecord).where(AgentStateRecord.agent == "volume")
                    ).first()

            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and state() is None:
                time.sleep(0.3)
            applied = state()
            assert applied is not None and not applied.enabled and applied.reason == "e2e: noise"
            assert applied.source == "dashboard"
            page.wait_for_selector("text=agent volume disabled in paper", timeout=30_000)  # the outcome shown
            row.locator("button:has-text('Enable')").wait_for(timeout=30_000)
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "agents.png"), full_page=True)
            browser.close()
    finally:
        os.killpg(engine.pid, signal.SIGTERM)
        engine.wait(timeout=20)
