"""Figures more than one layer draws (the backtest report, the status dashboard, research views),
built once here on top of lab.core.metrics so every page shows the same numbers the same way."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lab.core.metrics import drawdown


def equity_drawdown_figure(
    equity: pd.Series,
    *,
    x: Sequence | None = None,
    title: str | None = None,
    height: int = 520,
    margin: dict | None = None,
    extra: dict[str, pd.Series] | None = None,
) -> go.Figure:
    """Equity over the drawdown beneath it (drawdown from lab.core.metrics). `x` replaces the index
    (e.g. plain strings, which travel to plotly.js intact); `extra` adds named lines to the equity panel."""
    xs = list(equity.index) if x is None else list(x)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.05)
    fig.add_trace(go.Scatter(x=xs, y=equity.tolist(), name="equity", line={"color": "#1f77b4"}), row=1, col=1)
    for name, series in (extra or {}).items():
        fig.add_trace(go.Scatter(x=xs, y=series.tolist(), name=name, line={"width": 1}), row=1, col=1)
    dd = (drawdown(equity.reset_index(drop=True)) * 100).tolist()
    fig.add_trace(
        go.Scatter(x=xs, y=dd, name="drawdown %", fill="tozeroy", line={"color": "#d62728"}), row=2, col=1
    )
    fig.update_yaxes(title_text="equity", row=1, col=1)
    fig.update_yaxes(title_text="drawdown %", row=2, col=1)
    fig.update_layout(height=height, margin=margin or {"t": 50, "b": 30}, showlegend=bool(extra), title=title)
    return fig
