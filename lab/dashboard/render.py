"""Small HTML renderers for the dashboard: tables, status badges, limit bars."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from lab.core import formatting as fmt

COLOURS = {
    "healthy": "#1a7f37",
    "running": "#1a7f37",
    "closed": "#1a7f37",
    "degraded": "#9a6700",
    "paused": "#9a6700",
    "half_open": "#9a6700",
    "starting": "#0969da",
    "failed": "#cf222e",
    "stopped": "#6e7781",
    "critical": "#cf222e",
    "error": "#cf222e",
    "warning": "#9a6700",
    "info": "#0969da",
    "succeeded": "#1a7f37",
    "open": "#0969da",
    "entry": "#1a7f37",
    "enabled": "#1a7f37",
    "disabled": "#6e7781",
    "flagged": "#cf222e",
    "exit": "#6e7781",
}

CSS = """<style>
.lab-dash table { border-collapse: collapse; font-size: 13px; }
.lab-dash th, .lab-dash td { padding: 3px 10px; border-bottom: 1px solid #e5e7eb; text-align: left; }
.lab-badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: white; font-size: 12px; }
.lab-empty { color: #6e7781; font-style: italic; }
.lab-bar { background: #eaeef2; width: 180px; height: 10px; display: inline-block; border-radius: 5px; }
.lab-bar > span { display: block; height: 10px; border-radius: 5px; }
</style>"""


# Columns shown in the dashboard's tables, formatted by the same rules as every report.
COLUMN_KINDS = {
    "pnl": lambda v: fmt.money(v),
    "unrealized_pnl": lambda v: fmt.money(v),
    "net_pnl": lambda v: fmt.money(v),
    "fees": lambda v: fmt.money(v),
    "expectancy": lambda v: fmt.money(v),
    "win_rate": lambda v: fmt.pct(v),
    "max_drawdown": lambda v: fmt.pct(v),
    "trades": lambda v: fmt.count(v),
    "consecutive_losses": lambda v: fmt.count(v),
    "age_hours": lambda v: fmt.duration(v),
}


def badge(status: str) -> str:
    colour = COLOURS.get(str(status), "#6e7781")
    return f'<span class="lab-badge" style="background:{colour}">{html.escape(str(status))}</span>'


def _cell(value: Any, column: str) -> str:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return ""
    if column == "state" and value == "open":  # an open circuit breaker is an alarm
        return badge("failed").replace(">failed<", ">open<")
    if column in ("status", "state", "severity", "last_status", "signal"):
        return badge(value)
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    kind = COLUMN_KINDS.get(column)
    if kind is not None and isinstance(value, int | float) and not isinstance(value, bool):
        return html.escape(kind(value))
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 100 else f"{value:,.6g}"
    return html.escape(str(value))


def table(frame: pd.DataFrame, empty: str, columns: list[str] | None = None) -> str:
    if frame is None or frame.empty:
        return f'<div class="lab-empty">{html.escape(empty)}</div>'
    columns = columns or list(frame.columns)
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_cell(r[c], c)}</td>" for c in columns) + "</tr>" for _, r in frame.iterrows()
    )
    return f"<table><tr>{head}</tr>{rows}</table>"


def limit_bar(label: str, used: float, limit: float, detail: str) -> str:
    """A bar filling up towards a limit (limit 0: the rule is off)."""
    if not limit:
        return f"<tr><td>{html.escape(label)}</td><td class='lab-empty'>off</td><td></td></tr>"
    share = max(0.0, min(1.0, used / limit))
    colour = "#1a7f37" if share < 0.6 else "#9a6700" if share < 0.9 else "#cf222e"
    return (
        f"<tr><td>{html.escape(label)}</td><td><span class='lab-bar'><span style='width:{share * 100:.0f}%;"
        f"background:{colour}'></span></span></td><td>{html.escape(detail)}</td></tr>"
    )
