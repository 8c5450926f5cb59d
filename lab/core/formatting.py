"""How numbers are shown, defined once for every report, the index and the dashboard: percentages as
percentages, counts as integers, money with the quote currency, durations as durations, ratios with
sensible precision, and a missing value as "n/a" with the reason where it is known."""

from __future__ import annotations

import math
from typing import Any

# What each metric of lab.core.metrics.compute_metrics is, for formatting and for "better".
METRIC_KINDS: dict[str, str] = {
    "total_return": "pct",
    "annualized_return": "pct",
    "sharpe_daily": "ratio",
    "sortino_daily": "ratio",
    "calmar": "ratio",
    "max_drawdown": "pct",
    "max_drawdown_hours": "hours",
    "win_rate": "pct",
    "profit_factor": "ratio",
    "expectancy": "money",
    "average_win": "money",
    "average_loss": "money",
    "exposure": "pct",
    "trades": "count",
    "open_trades": "count",
    "fees_paid": "money",
    "fee_share_of_gross_profit": "pct",
    "break_even_move": "pct",
    "final_equity": "money",
    "trades_per_day": "ratio",
    "psr": "pct",
    "deflated_sharpe": "pct",
}
LABELS: dict[str, str] = {
    "total_return": "total return",
    "annualized_return": "annualised return",
    "sharpe_daily": "Sharpe (daily, annualised)",
    "sortino_daily": "Sortino (daily, annualised)",
    "calmar": "Calmar",
    "max_drawdown": "max drawdown",
    "max_drawdown_hours": "longest drawdown",
    "win_rate": "win rate",
    "profit_factor": "profit factor",
    "expectancy": "expectancy per trade",
    "average_win": "average win",
    "average_loss": "average loss",
    "exposure": "time in the market",
    "trades": "closed trades",
    "open_trades": "open trades",
    "fees_paid": "fees paid",
    "fee_share_of_gross_profit": "fees / gross profit",
    "break_even_move": "break-even move per round trip",
    "final_equity": "final equity",
    "trades_per_day": "trades per day",
    "psr": "probabilistic Sharpe (P[SR > 0])",
    "deflated_sharpe": "deflated Sharpe of the sweep",
}
# Why a metric can be missing, when it is.
NA_REASONS: dict[str, str] = {
    "win_rate": "no closed trades",
    "profit_factor": "no losing trades",
    "expectancy": "no closed trades",
    "average_win": "no winning trades",
    "average_loss": "no losing trades",
    "fee_share_of_gross_profit": "no gross profit",
    "sharpe_daily": "fewer than 2 days or no variation",
    "sortino_daily": "no losing days",
    "calmar": "no drawdown",
    "annualized_return": "period too short or equity wiped out",
    "psr": "fewer than 2 days or no variation",
}


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value)))


def na(reason: str | None = None) -> str:
    return f"n/a ({reason})" if reason else "n/a"


def pct(value: Any, digits: int = 1, signed: bool = False, reason: str | None = None) -> str:
    if is_missing(value):
        return na(reason)
    return f"{value * 100:+.{digits}f}%" if signed else f"{value * 100:.{digits}f}%"


def points(value: Any, digits: int = 1) -> str:
    """A difference of two percentages, in percentage points."""
    return na() if is_missing(value) else f"{value * 100:+.{digits}f} pts"


def count(value: Any, reason: str | None = None) -> str:
    return na(reason) if is_missing(value) else f"{round(float(value)):,}"


def money(value: Any, quote: str = "", reason: str | None = None) -> str:
    if is_missing(value):
        return na(reason)
    return f"{value:,.2f} {quote}".rstrip()


def ratio(value: Any, reason: str | None = None) -> str:
    if is_missing(value):
        return na(reason)
    return f"{value:.2f}" if abs(value) < 100 else f"{value:,.0f}"


def duration(hours: Any, reason: str | None = None) -> str:
    """Hours as '3 d 4 h', '5 h 12 min' or '40 min'."""
    if is_missing(hours):
        return na(reason)
    minutes = round(float(hours) * 60)
    d, rem = divmod(minutes, 24 * 60)
    h, m = divmod(rem, 60)
    if d:
        return f"{d} d {h} h"
    return f"{h} h {m:02d} min" if h else f"{m} min"


def seconds(value: Any) -> str:
    if is_missing(value):
        return na()
    return f"{value:.1f} s" if value < 120 else duration(value / 3600)


def metric(name: str, value: Any, quote: str = "", signed: bool = False) -> str:
    """One metric by its kind; unknown names fall back to a plain number."""
    kind = METRIC_KINDS.get(name, "number")
    reason = NA_REASONS.get(name)
    if kind == "pct":
        return pct(value, signed=signed and name.endswith("return"), reason=reason)
    if kind == "count":
        return count(value, reason)
    if kind == "money":
        return money(value, quote, reason)
    if kind == "hours":
        return duration(value, reason)
    if kind == "ratio":
        return ratio(value, reason)
    return na(reason) if is_missing(value) else f"{value:,.6g}"


def difference(name: str, a: Any, b: Any, quote: str = "") -> str:
    """a − b in the metric's unit (points for percentages)."""
    if is_missing(a) or is_missing(b):
        return ""
    kind = METRIC_KINDS.get(name, "number")
    if kind == "pct":
        return points(a - b)
    if kind == "money":
        return f"{a - b:+,.2f} {quote}".rstrip()
    if kind == "hours":
        return ("+" if a >= b else "−") + duration(abs(a - b))
    if kind == "count":
        return f"{round(a - b):+,}"
    return f"{a - b:+.2f}"


def label(name: str) -> str:
    return LABELS.get(name, name.replace("_", " "))
