"""The thought-spool view, served by the real Voila server and driven in Debian's Chromium: the cycles,
a cycle's stages with their full text, the lineage of the strategy it produced, and a full-text search."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess

import pytest

from lab.cli.dashboard_cmds import free_port, voila_command, wait_until_serving
from lab.orchestrator.nightly import run_nightly
from lab.orchestrator.offline import OfflinePolicy
from tests.e2e.test_dashboard import ARGS, CHROMIUM, SHOTS
from tests.orchestrator.helpers import night_project
from tests.trading.helpers import ROOT

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium"),
]


def test_thought_spool_view_shows_cycles_stages_lineage_and_search(lab_root):
    from playwright.sync_api import sync_playwright

    cfg = night_project(lab_root)
    shutil.copytree(ROOT / "notebooks", lab_root / "notebooks")
    update = run_nightly(cfg, client=OfflinePolicy(), tools=False)
    quiet = run_nightly(cfg, client=OfflinePolicy(), tools=False)
    assert (update.decision, quiet.decision) == ("STRATEGY_UPDATE", "NO_CHANGE")
    token, port = "e2e-thoughts-123", free_port()
    voila = subprocess.Popen(
        voila_command(cfg, port, token, notebook="thoughts"),
        cwd=lab_root,
        env=os.environ | {"LAB_ROOT": str(lab_root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert wait_until_serving(port), "Voila did not start"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.goto(f"http://127.0.0.1:{port}/?token={token}")
            page.wait_for_selector("text=The cycle's stages, in order", timeout=60_000)
            body = page.inner_text("body")
            assert "2 cycles" in body and f"Cycle #{quiet.cycle_id}" in body and "tried already" in body
            # choose the night that produced a candidate: its four stages and the candidate's lineage
            options = page.locator(".widget-select select option")
            options.filter(has_text=f"#{update.cycle_id} ·").first.click()
            page.wait_for_selector("text=[4] review · offline", timeout=30_000)
            name = f"ema_rsi_volume_c{update.cycle_id}"
            page.wait_for_selector(f"text=shadow:{name}: active", timeout=30_000)
            body = page.inner_text("body")
            assert "parent ema_rsi_volume 1.0.0" in body and "✓ lookahead" in body and "param(1.4," in body
            # full-text search finds the decision's words and opens its cycle
            page.locator("input[placeholder='search every thought']").fill("tighten its entry filter")
            page.locator("button:has-text('Search')").click()
            page.wait_for_selector("text=«tighten", timeout=30_000)
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "thoughts.png"), full_page=True)
            browser.close()
    finally:
        os.killpg(voila.pid, signal.SIGTERM)
        voila.wait(timeout=20)
