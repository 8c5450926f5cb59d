"""Plotly figures of the Kelly validation study (computing stays in kelly / kelly_study)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lab.research import kelly as k
from lab.research.kelly_study import KellyStudy, horizon_for

COLORS = ["#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e"]


def growth_curve_figure(s: KellyStudy) -> go.Figure:
    """g(f) from the trades, f* and its bootstrap band, and the fractions compared."""
    fig = go.Figure()
    finite = np.isfinite(s.curve["g"])
    fig.add_trace(go.Scatter(x=s.curve["f"][finite], y=s.curve["g"][finite], name="g(f) from the trades"))
    if s.f_star > 0:
        fig.add_vrect(
            x0=max(s.band["low"], 0), x1=s.band["high"], fillcolor="#1f77b4", opacity=0.1, line_width=0
        )
        fig.add_vline(x=s.f_star, line_dash="dash", annotation_text=f"f* = {s.f_star:.3f}")
        for i, c in enumerate(s.fractions):
            f = c * s.f_star
            fig.add_trace(
                go.Scatter(
                    x=[f],
                    y=[float(k.growth(f, s.returns)[0])],
                    mode="markers",
                    marker={"size": 10, "color": COLORS[i % len(COLORS)]},
                    name=f"{c:g} Kelly",
                )
            )
    fig.update_layout(
        title="Growth per trade g(f) = mean log(1 + f·r), band: bootstrap interval of f*",
        xaxis_title="fraction allocated per trade",
        yaxis_title="expected log growth per trade",
        height=420,
    )
    return fig


def wealth_paths_figure(s: KellyStudy) -> go.Figure:
    """Simulated log-wealth paths per fraction (continuous model) with the theoretical drift."""
    fig = make_subplots(
        rows=1,
        cols=max(1, len(s.monte_carlo)),
        shared_yaxes=False,
        subplot_titles=[f"{m.c:g} Kelly" for m in s.monte_carlo],
    )
    for j, m in enumerate(s.monte_carlo, start=1):
        t = np.linspace(0, horizon_for(m.c, s.simulated_g), m.paths.shape[1])
        for row in m.paths:
            fig.add_trace(
                go.Scatter(
                    x=t,
                    y=row,
                    mode="lines",
                    line={"width": 0.7, "color": COLORS[(j - 1) % len(COLORS)]},
                    opacity=0.35,
                    showlegend=False,
                ),
                row=1,
                col=j,
            )
        fig.add_trace(
            go.Scatter(
                x=t,
                y=k.growth_share(m.c) * s.g_star * t,
                mode="lines",
                line={"color": "black", "dash": "dash"},
                name="theory: c(2−c)·g*·t",
                showlegend=j == 1,
            ),
            row=1,
            col=j,
        )
        fig.add_hline(y=np.log(0.5), line_dash="dot", line_color="#d62728", row=1, col=j)
    fig.update_layout(
        title="Monte Carlo log-wealth paths (time in trades); dotted: half the starting wealth", height=420
    )
    return fig


def realised_vs_predicted_figure(s: KellyStudy) -> go.Figure:
    """Per fraction: predicted g(f), the trades in their real order, and the bootstrap mean."""
    labels = [f"{p['f']:.3f} ({c:g} Kelly)" for p, c in zip(s.trade_paths, s.fractions, strict=False)]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=labels, y=[p["predicted"] for p in s.trade_paths], name="predicted g(f)"))
    fig.add_trace(
        go.Bar(x=labels, y=[p["realised_in_order"] for p in s.trade_paths], name="realised, trades in order")
    )
    fig.add_trace(
        go.Bar(
            x=labels,
            y=[p["simulated"] for p in s.trade_paths],
            error_y={"type": "data", "array": [2 * p["simulated_se"] for p in s.trade_paths]},
            name="resampled trade sequences (±2 s.e.)",
        )
    )
    fig.update_layout(barmode="group", title="Log growth per trade: realised vs predicted", height=380)
    return fig


def sizing_figure(s: KellyStudy) -> go.Figure:
    """The fraction the sizer allocated at each decision, skips at zero."""
    sz = s.sizing
    fig = go.Figure()
    for label, mask, color in (
        ("Kelly-sized", sz["reason"] == "", "#1f77b4"),
        ("fallback", sz["reason"].str.startswith("fallback"), "#7f7f7f"),
        ("skipped", sz["skipped"], "#d62728"),
    ):
        part = sz[mask]
        fig.add_trace(
            go.Scatter(
                x=part["time"],
                y=part["fraction"],
                mode="markers",
                name=label,
                marker={"color": color, "size": 5},
            )
        )
    fig.update_layout(
        title="Sizing decisions on this run (fraction of free cash allocated)",
        height=360,
        yaxis_title="fraction allocated",
    )
    return fig
