"""Numbers as a person reads them, defined once."""

from __future__ import annotations

import math

from lab.core import formatting as f


def test_kinds():
    assert f.metric("total_return", 1.0, signed=True) == "+100.0%"
    assert f.metric("total_return", -0.6002) == "-60.0%"
    assert f.metric("trades", 430.0) == "430" and f.metric("open_trades", 0.0) == "0"
    assert f.metric("fees_paid", 5126.9557, "USD") == "5,126.96 USD"
    assert f.metric("sharpe_daily", -32.69143) == "-32.69"
    assert f.metric("max_drawdown_hours", 49.5) == "2 d 1 h"
    assert f.duration(1.25) == "1 h 15 min" and f.duration(0.5) == "30 min"
    assert f.seconds(9.04) == "9.0 s"


def test_missing_values_say_why():
    assert f.metric("win_rate", math.nan) == "n/a (no closed trades)"
    assert f.metric("profit_factor", float("inf")) == "n/a (no losing trades)"
    assert f.pct(None) == "n/a"


def test_differences_in_the_metric_unit():
    assert f.difference("total_return", 1.0, 0.0) == "+100.0 pts"
    assert f.difference("fees_paid", 10.0, 12.5, "USD") == "-2.50 USD"
    assert f.difference("trades", 5.0, 3.0) == "+2"
    assert f.difference("sharpe_daily", 1.0, math.nan) == ""
    assert f.label("sharpe_daily") == "Sharpe (daily, annualised)"
