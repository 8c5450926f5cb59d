"""reports/index.html and a comparison page, opened offline in Debian's Chromium: filters, sorting,
the comparison of two backtest runs with every chart drawn, no console error, no request off the
machine."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from lab.pipeline.headline import curve_json
from lab.pipeline.history import finish_run, start_run
from lab.pipeline.index import write_index
from tests.e2e.test_dashboard import ARGS, CHROMIUM

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium"),
]


def _run(cfg, run_id, notebook, status, total_return, strategy, slope):
    idx = pd.date_range("2025-01-01", periods=200, freq="1h", tz="UTC")
    equity = pd.Series(10_000 * (1 + slope * pd.RangeIndex(200) / 200), index=idx)
    summary = (
        {
            "headline": {
                "kind": "backtest",
                "strategy": strategy,
                "symbols": ["BTC/USD"],
                "quote": "USD",
                "period": "2025-01-01 to 2025-01-09",
                "metrics": {
                    "total_return": total_return,
                    "sharpe_daily": 1.25,
                    "max_drawdown": -0.1,
                    "win_rate": 0.5,
                    "trades": 12.0,
                    "fees_paid": 40.5,
                },
                "buy_and_hold_return": 0.02,
            },
            "curves": {"equity": curve_json(equity)},
        }
        if notebook == "backtest" and status == "succeeded"
        else None
    )
    out = cfg.reports_dir / "runs" / "2025-01-01"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{notebook}-{run_id}.html").write_text("<html><body>report</body></html>")
    start_run(
        cfg,
        run_id,
        notebook,
        {"strategy": strategy},
        "h",
        "manual",
        out / f"{notebook}-{run_id}.ipynb",
        out / f"{notebook}-{run_id}.html",
    )
    finish_run(cfg, run_id, status, 3.5, None if status == "succeeded" else "ValueError: boom", summary)


@pytest.fixture
def index(cfg) -> Path:
    _run(cfg, "20250101T000001-aaaaaa", "backtest", "succeeded", 0.25, "alpha 1.0.0", 0.25)
    _run(cfg, "20250101T000002-bbbbbb", "backtest", "succeeded", -0.10, "beta 2.0.0", -0.10)
    _run(cfg, "20250101T000003-cccccc", "kelly_validation", "failed", None, "gamma", 0.0)
    return Path(write_index(cfg))


def _browser(p):
    return p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)


def _watch(page) -> tuple[list, list]:
    errors, offsite = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "request", lambda r: offsite.append(r.url) if not r.url.startswith(("file://", "data:")) else None
    )
    return errors, offsite


def test_index_filters_sorts_and_compares_offline(index):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 1300, "height": 1400})
        errors, offsite = _watch(page)
        page.goto(index.as_uri())
        assert page.locator("#shown").inner_text() == "3 of 3 runs"
        assert "return +25.0% (buy and hold +2.0%), Sharpe 1.25, max DD -10.0%, 12 trades" in page.content()
        page.select_option("#f-status", "failed")
        assert page.locator("#shown").inner_text() == "1 of 3 runs"
        assert page.locator("#runs tbody tr:visible td:nth-child(2)").all_inner_texts() == [
            "kelly_validation"
        ]
        page.select_option("#f-status", "")
        page.locator("#runs th", has_text="headline").click()  # ascending by return
        order = page.locator("#runs tbody tr").evaluate_all("rows => rows.map(r => r.dataset.run)")
        assert order.index("20250101T000002-bbbbbb") < order.index("20250101T000001-aaaaaa")
        page.click("#compare-btn")
        assert "Select two or more" in page.locator("#compare-msg").inner_text()
        for box in page.locator("input.cmp").all():
            box.check()
        page.click("#compare-btn")
        page.wait_for_selector("#compare-chart .main-svg")
        table = page.locator("#compare-table").inner_text()
        assert "alpha 1.0.0" in table and "beta 2.0.0" in table and "+25.0%" in table and "-10.0%" in table
        assert page.locator("#compare-chart .scatterlayer .trace").count() == 2
        page.screenshot(path=str(index.parent / "index-compare.png"), full_page=True)
        browser.close()
    assert errors == [] and offsite == []


def test_lab_report_compare_writes_a_page_that_draws_offline(index, cfg, monkeypatch):
    from playwright.sync_api import sync_playwright

    from lab.cli.main import app

    monkeypatch.setenv("LAB_ROOT", str(cfg.root))
    out = CliRunner().invoke(app, ["report", "compare", "20250101T000001", "20250101T000002-bbbbbb"])
    assert out.exit_code == 0, out.output
    page_path = Path(out.output.split("comparison written: ")[1].strip())
    bad = CliRunner().invoke(app, ["report", "compare", "20250101T000001", "20250101T000003"])
    assert bad.exit_code == 2 and "has no backtest headline" in bad.output
    missing = CliRunner().invoke(app, ["report", "compare", "nope", "20250101T000001"])
    assert missing.exit_code == 2 and "'nope': no such run" in missing.output
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page()
        errors, offsite = _watch(page)
        page.goto(page_path.as_uri())
        page.wait_for_selector(".main-svg")
        assert "alpha 1.0.0" in page.content() and page.locator(".scatterlayer .trace").count() == 2
        browser.close()
    assert errors == [] and offsite == []
