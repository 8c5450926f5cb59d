"""The shadows view, served by the real Voila server and driven in Debian's Chromium: the shadows with
the promoter's numbers, the rollout, and a Retire that the running engine applies."""

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
from lab.research.promotions import evaluate_shadows
from lab.store.db import session_scope
from lab.store.models import Book
from lab.trading.setup import replay_engine
from lab.trading.shadows import add_shadow
from tests.e2e.test_dashboard import ARGS, CHROMIUM, SHOTS
from tests.trading.helpers import ROOT, SYMBOLS, make_project

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium"),
]


def test_shadows_view_shows_the_promoter_and_a_retire_reaches_the_engine(lab_root):
    from playwright.sync_api import sync_playwright

    cfg = make_project(lab_root, days=2)
    shutil.copytree(ROOT / "notebooks", lab_root / "notebooks")
    add_shadow(cfg, "bollinger", "bollinger_rsi_reversion")
    add_shadow(cfg, "donchian", "donchian_atr_breakout")
    replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", shadows=True).run(max_steps=300)
    evaluate_shadows(cfg, dry_run=True)
    token, port = "e2e-shadows-123", free_port()
    env = os.environ | {"LAB_ROOT": str(lab_root)}
    voila = subprocess.Popen(
        voila_command(cfg, port, token, notebook="shadows"),
        cwd=lab_root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    engine = subprocess.Popen(
        [sys.executable, "-m", "lab.cli.main", "run", "--replay", "--pace", "0.2"],
        cwd=lab_root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert wait_until_serving(port), "Voila did not start"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            page.goto(f"http://127.0.0.1:{port}/?token={token}")
            page.wait_for_selector("text=Shadows against the active strategy", timeout=60_000)
            page.wait_for_selector("text=shadow:donchian", timeout=30_000)
            body = page.inner_text("body")
            assert "insufficient" in body and "PSR ≥ 0.95" in body and "/ 30 days" in body
            page.wait_for_selector(".js-plotly-plot .main-svg", state="attached", timeout=30_000)
            row = page.locator(".widget-hbox", has=page.locator("code", has_text="shadow:donchian")).last
            row.locator("button:has-text('Retire')").click()

            def status():
                with session_scope(cfg) as s:
                    return s.scalar(select(Book.status).where(Book.key == "shadow:donchian"))

            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and status() != "retired":
                time.sleep(0.3)
            assert status() == "retired"
            page.wait_for_selector(
                "text=shadow shadow:donchian retired", timeout=30_000
            )  # the engine's answer
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "shadows.png"), full_page=True)
            browser.close()
    finally:
        for proc in (engine, voila):
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
