"""Plotly figures of the agent analysis (computing stays in agent_stats / agent_report)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lab.research.agent_stats import vote_matrix


def empty_figure(message: str) -> go.Figure:
    """A figure that says why there is nothing to plot (instead of an empty frame)."""
    fig = go.Figure()
    fig.add_annotation(
        text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 14}
    )
    fig.update_layout(height=160, xaxis={"visible": False}, yaxis={"visible": False})
    return fig


def leaderboard_figure(table: pd.DataFrame, min_ic: float) -> go.Figure:
    """Each agent's IC and hit rate with their 95% intervals; flagged agents in red."""
    if table.empty or table["ic"].isna().all():
        return empty_figure("no agent has votes with a known outcome yet")
    t = table.dropna(subset=["ic"]).sort_values("ic")
    colours = np.where(t["flagged"], "#d62728", "#1f77b4")
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        subplot_titles=("IC (Spearman, 95% CI)", "hit rate (Wilson 95% CI)"),
    )
    fig.add_trace(
        go.Scatter(
            x=t["ic"],
            y=t["agent"],
            mode="markers",
            marker={"color": colours, "size": 10},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": t["ic_high"] - t["ic"],
                "arrayminus": t["ic"] - t["ic_low"],
            },
            name="IC",
        ),
        1,
        1,
    )
    fig.add_vline(x=min_ic, line_dash="dash", annotation_text=f"min IC {min_ic:g}", row=1, col=1)
    fig.add_vline(x=0, line_color="#888", row=1, col=1)
    h = t.dropna(subset=["hit_rate"])
    fig.add_trace(
        go.Scatter(
            x=h["hit_rate"],
            y=h["agent"],
            mode="markers",
            marker={"color": np.where(h["flagged"], "#d62728", "#2ca02c"), "size": 10},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": h["hit_high"] - h["hit_rate"],
                "arrayminus": h["hit_rate"] - h["hit_low"],
            },
            name="hit rate",
        ),
        1,
        2,
    )
    fig.add_vline(x=0.5, line_color="#888", row=1, col=2)
    fig.update_layout(height=120 + 40 * max(1, len(t)), showlegend=False, margin={"l": 110})
    return fig


def correlation_figure(votes: pd.DataFrame) -> go.Figure:
    """Pairwise correlation of the agents' votes on the same decisions (abstentions left out)."""
    if votes.empty:
        return empty_figure("no votes recorded")
    corr = vote_matrix(votes).corr(min_periods=10)
    fig = go.Figure(
        go.Heatmap(
            z=corr.to_numpy(),
            x=list(corr.columns),
            y=list(corr.index),
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            text=np.round(corr.to_numpy(), 2),
            texttemplate="%{text}",
        )
    )
    fig.update_layout(
        title="Vote correlation between agents", height=160 + 36 * len(corr), yaxis={"autorange": "reversed"}
    )
    return fig


def ic_over_time_figure(ic: pd.DataFrame, smooth: int = 7) -> go.Figure:
    """Daily IC per agent, smoothed over `smooth` days."""
    if ic.empty:
        return empty_figure("too few votes per day for a daily IC")
    fig = go.Figure()
    for agent in ic.columns:
        s = ic[agent].rolling(smooth, min_periods=max(1, smooth // 2)).mean()
        fig.add_trace(go.Scatter(x=s.index, y=s, name=agent, mode="lines"))
    fig.add_hline(y=0, line_color="#888")
    fig.update_layout(title=f"IC over time (daily, {smooth}-day mean)", yaxis_title="Spearman IC", height=380)
    return fig


def loo_figure(loo: pd.DataFrame) -> go.Figure:
    if loo.empty:
        return empty_figure("leave-one-out was not run")
    t = loo.sort_values("contribution_return")
    fig = go.Figure(
        go.Bar(
            x=t["contribution_return"],
            y=t["agent"],
            orientation="h",
            marker_color=np.where(t["contribution_return"] >= 0, "#2ca02c", "#d62728"),
        )
    )
    fig.update_layout(
        title="Leave-one-out: total return with the agent minus without it",
        xaxis_tickformat=".1%",
        height=120 + 32 * max(1, len(t)),
    )
    return fig


def ml_accuracy_figure(ml: pd.DataFrame) -> go.Figure:
    if ml.empty or ml["predictions"].sum() == 0:
        return empty_figure("the ML agent made no prediction (not enough history to train on)")
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=ml["symbol"],
            y=ml["accuracy"],
            name="walk-forward accuracy",
            error_y={
                "type": "data",
                "symmetric": False,
                "array": ml["accuracy_high"] - ml["accuracy"],
                "arrayminus": ml["accuracy"] - ml["accuracy_low"],
            },
        )
    )
    fig.add_trace(
        go.Scatter(
            x=ml["symbol"],
            y=ml["base_rate"],
            mode="markers",
            marker={"symbol": "line-ew-open", "size": 40},
            name="base rate",
        )
    )
    fig.update_layout(
        title="ML agent: out-of-sample direction accuracy against the base rate",
        yaxis_tickformat=".0%",
        height=360,
    )
    return fig


def rl_figure(curve: pd.DataFrame, reward: pd.DataFrame) -> go.Figure:
    if curve.empty:
        return empty_figure("the RL agent did not train (not enough history)")
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("learning curve (mean training reward per bar)", "out-of-sample cumulative reward"),
    )
    for symbol, g in curve.groupby("symbol"):
        fig.add_trace(
            go.Scatter(x=g["block"], y=g["mean_reward"], name=f"{symbol} training", mode="lines"), 1, 1
        )
    step = max(1, len(reward) // 1500)
    for symbol in reward.columns:
        s = reward[symbol].iloc[::step]
        fig.add_trace(go.Scatter(x=s.index, y=s, name=f"{symbol} out of sample", mode="lines"), 1, 2)
    fig.update_layout(height=380)
    return fig
