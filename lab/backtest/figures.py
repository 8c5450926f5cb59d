"""Plotly figures for backtest reports: equity and drawdown, trades on price, monthly returns,
a sweep heatmap. Figures only: computing stays in run/sweep/metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from lab.backtest.run import BacktestResult
from lab.core.plots import equity_drawdown_figure

MAX_POINTS = 5000  # plotted points per line; more only slows the page without showing more


def _thin(series: pd.Series) -> pd.Series:
    step = max(1, len(series) // MAX_POINTS)
    return series.iloc[::step]


def equity_figure(result: BacktestResult, buy_and_hold: pd.Series | None = None) -> go.Figure:
    """Equity curve (with equal-weight buy-and-hold of the same symbols, when given) over the drawdown."""
    eq = _thin(result.equity)
    extra = {"buy and hold": buy_and_hold.reindex(eq.index)} if buy_and_hold is not None else None
    return equity_drawdown_figure(
        eq,
        title="Equity and drawdown (strategy vs equal-weight buy-and-hold)"
        if extra
        else "Equity and drawdown",
        extra=extra,
    )


def trades_figure(result: BacktestResult, symbol: str) -> go.Figure:
    """Close price with entry and exit markers for one symbol."""
    close = _thin(result.candles[symbol]["close"])
    trades = result.trades[result.trades["symbol"] == symbol]
    fig = go.Figure(
        go.Scatter(x=close.index, y=close.values, name="close", line={"color": "#7f7f7f", "width": 1})
    )
    fig.add_trace(
        go.Scatter(
            x=trades["entry_time"],
            y=trades["entry_price"],
            mode="markers",
            name="entry",
            marker={"symbol": "triangle-up", "color": "#2ca02c", "size": 9},
        )
    )
    closed = trades[trades["status"] == "closed"]
    colours = np.where(closed["pnl"] > 0, "#2ca02c", "#d62728")
    fig.add_trace(
        go.Scatter(
            x=closed["exit_time"],
            y=closed["exit_price"],
            mode="markers",
            name="exit",
            text=closed["exit_reason"],
            marker={"symbol": "triangle-down", "color": colours, "size": 9},
        )
    )
    fig.update_layout(height=420, title=f"{symbol}: trades on price", margin={"t": 50, "b": 30})
    return fig


def monthly_returns_figure(result: BacktestResult) -> go.Figure:
    """Heatmap of returns per calendar month (rows: years)."""
    monthly = result.equity.resample("ME").last()
    start = pd.Series([result.equity.iloc[0]], index=[monthly.index[0] - pd.offsets.MonthEnd(1)])
    returns = pd.concat([start, monthly]).pct_change().dropna() * 100
    table = pd.DataFrame({"year": returns.index.year, "month": returns.index.month, "r": returns.values})
    grid = table.pivot(index="year", columns="month", values="r").reindex(columns=range(1, 13))
    fig = go.Figure(
        go.Heatmap(
            z=grid.values,
            x=[pd.Timestamp(2000, k, 1).strftime("%b") for k in range(1, 13)],
            y=[str(y) for y in grid.index],
            colorscale="RdYlGn",
            zmid=0,
            text=np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.1f}%")(grid.values),
            texttemplate="%{text}",
            colorbar={"title": "%"},
        )
    )
    fig.update_layout(height=120 + 60 * len(grid), title="Monthly returns", margin={"t": 50, "b": 30})
    return fig


def sweep_heatmap(table: pd.DataFrame, x: str, y: str, value: str = "sharpe_daily") -> go.Figure:
    """Best `value` for each (x, y) pair of parameters, over all other parameters."""
    grid = table.groupby([y, x])[value].max().unstack(x)
    fig = go.Figure(
        go.Heatmap(
            z=grid.values,
            x=[str(c) for c in grid.columns],
            y=[str(i) for i in grid.index],
            colorscale="Viridis",
            colorbar={"title": value},
        )
    )
    fig.update_layout(
        height=460,
        title=f"Sweep: best {value} by {x} and {y}",
        xaxis_title=x,
        yaxis_title=y,
        margin={"t": 50, "b": 40},
    )
    return fig
