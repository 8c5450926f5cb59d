"""`lab kelly`: the study from the command line, and its bad input answered in one line."""

from __future__ import annotations

from typer.testing import CliRunner

from lab.cli.main import app
from tests.trading.helpers import make_project


def test_lab_kelly_prints_the_distribution_growth_and_verdict(lab_root, monkeypatch):
    make_project(lab_root, days=6)
    monkeypatch.setenv("LAB_ROOT", str(lab_root))
    out = CliRunner().invoke(
        app, ["kelly", "ema_rsi_volume", "-s", "BTC/USD", "-s", "ETH/USD", "--n-sims", "200"]
    )
    assert out.exit_code == 0, out.output
    assert "signal record of BTC/USD, ETH/USD" in out.output
    assert "growth per trade at each multiple of f*" in out.output
    assert "decisions" in out.output and ("no edge after costs" in out.output or "f* = " in out.output)


def test_lab_kelly_refuses_bad_fractions(lab_root, monkeypatch):
    monkeypatch.setenv("LAB_ROOT", str(lab_root))
    for bad in ("abc", "0,1", "2.5", ""):
        out = CliRunner().invoke(app, ["kelly", "ema_rsi_volume", "--fractions", bad])
        assert out.exit_code != 0
        assert "--fractions" in out.output and "Traceback" not in out.output
