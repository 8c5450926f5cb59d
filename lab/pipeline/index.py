"""reports/index.html: every notebook run with its parameters, status, duration and headline numbers;
filtered by notebook and status, sortable, linked to each report, and a comparison view for any two or
more backtest runs (metrics side by side, equity curves overlaid). One self-contained file: plotly.js
is embedded, so it works offline.

Every number is formatted here with lab.core.formatting (the same rules as the reports)."""

from __future__ import annotations

import html
import json
from typing import Any

import pandas as pd

from lab.core import formatting as f
from lab.core.config import LabConfig
from lab.pipeline.history import runs, summary

COMPARED = (
    "total_return",
    "sharpe_daily",
    "max_drawdown",
    "win_rate",
    "trades",
    "fees_paid",
    "deflated_sharpe",
)

_SCRIPT = """
const RUNS = JSON.parse(document.getElementById('lab-runs').textContent);
const rows = Array.from(document.querySelectorAll('#runs tbody tr'));
function applyFilters() {
  const nb = document.getElementById('f-notebook').value, st = document.getElementById('f-status').value;
  let shown = 0;
  for (const r of rows) {
    const ok = (!nb || r.dataset.notebook === nb) && (!st || r.dataset.status === st);
    r.style.display = ok ? '' : 'none'; shown += ok ? 1 : 0;
  }
  document.getElementById('shown').textContent = shown + ' of ' + rows.length + ' runs';
}
let sortState = {col: 0, asc: false};
function sortBy(col) {
  sortState = {col: col, asc: sortState.col === col ? !sortState.asc : true};
  const body = document.querySelector('#runs tbody');
  const key = r => { const c = r.children[col]; const v = c.dataset.sort ?? c.textContent; const n = parseFloat(v);
                     return (c.dataset.sort !== undefined && !isNaN(n)) ? n : v.toLowerCase(); };
  rows.sort((a, b) => { const x = key(a), y = key(b); return (x < y ? -1 : x > y ? 1 : 0) * (sortState.asc ? 1 : -1); });
  rows.forEach(r => body.appendChild(r));
  document.querySelectorAll('#runs th').forEach((th, i) => th.dataset.dir = i === col ? (sortState.asc ? 'asc' : 'desc') : '');
}
function compare() {
  const ids = Array.from(document.querySelectorAll('input.cmp:checked')).map(c => c.value);
  const out = document.getElementById('compare'), msg = document.getElementById('compare-msg');
  if (ids.length < 2) { msg.textContent = 'Select two or more backtest runs to compare.'; out.hidden = true; return; }
  msg.textContent = '';
  const runs = ids.map(id => RUNS[id]);
  const metrics = runs[0].metric_labels;
  let t = '<table class="cmp-table"><thead><tr><th>metric</th>' + runs.map(r => '<th>' + r.title + '</th>').join('') + '</tr></thead><tbody>';
  for (const m of metrics) t += '<tr><td>' + m + '</td>' + runs.map(r => '<td>' + (r.formatted[m] ?? '') + '</td>').join('') + '</tr>';
  document.getElementById('compare-table').innerHTML = t + '</tbody></table>';
  out.hidden = false;  // shown before plotting, so the chart takes the page's width
  const traces = runs.map(r => ({x: r.curve.t, y: r.curve.v, name: r.title, mode: 'lines'}));
  Plotly.newPlot('compare-chart', traces, {title: 'Growth of 1 (equity / starting equity)', height: 420,
                 margin: {t: 50, b: 40}, legend: {orientation: 'h'}}, {displaylogo: false, responsive: true});
  out.scrollIntoView();
}
document.getElementById('f-notebook').addEventListener('change', applyFilters);
document.getElementById('f-status').addEventListener('change', applyFilters);
document.querySelectorAll('#runs th').forEach((th, i) => th.addEventListener('click', () => sortBy(i)));
document.getElementById('compare-btn').addEventListener('click', compare);
applyFilters();
"""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Trading Lab reports</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1.5rem; }}
th, td {{ padding: .35rem .7rem; border-bottom: 1px solid #ddd; text-align: left; font-size: .9rem; vertical-align: top; }}
#runs th {{ cursor: pointer; user-select: none; }} #runs th[data-dir=asc]::after {{ content: ' ▲'; }}
#runs th[data-dir=desc]::after {{ content: ' ▼'; }}
.succeeded {{ color: #1a7f37; font-weight: 600; }} .failed {{ color: #cf222e; font-weight: 600; }}
.running {{ color: #9a6700; }} .err {{ color: #cf222e; font-size: .85rem; max-width: 32rem; }}
.params, .head {{ font-size: .82rem; color: #444; max-width: 26rem; }} .controls {{ margin: .5rem 0 1rem; }}
.controls select, .controls button {{ margin-right: 1rem; font-size: .9rem; }} #compare {{ border-top: 2px solid #ddd; padding-top: 1rem; }}
</style>
<script type="text/javascript">{plotlyjs}</script>
</head><body>
<h1>Trading Lab reports</h1>
<h2>Notebooks</h2>
<table><tr><th>notebook</th><th>runs</th><th>success rate</th><th>mean duration</th><th>last error</th></tr>
{summary}</table>
<h2>Runs</h2>
<div class="controls">
<label>notebook <select id="f-notebook"><option value="">all</option>{notebook_options}</select></label>
<label>status <select id="f-status"><option value="">all</option>{status_options}</select></label>
<button id="compare-btn">Compare selected backtests</button> <span id="compare-msg"></span> <span id="shown"></span>
</div>
<table id="runs"><thead><tr><th>started (UTC)</th><th>notebook</th><th>parameters</th><th>status</th><th>duration</th>
<th>headline</th><th>report</th><th>error</th><th>compare</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<section id="compare" hidden><h2>Comparison</h2><div id="compare-table"></div><div id="compare-chart"></div></section>
<script type="application/json" id="lab-runs">{data}</script>
<script type="text/javascript">{script}</script>
</body></html>
"""


def esc(value: object) -> str:
    """HTML-escaped text; missing values (None, NaN) are empty."""
    return "" if value is None or value != value else html.escape(str(value))


def parameters_text(params: dict[str, Any] | None, limit: int = 140) -> str:
    if not params:
        return "defaults"
    text = ", ".join(f"{k}={json.dumps(v)}" for k, v in params.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def headline_text(head: dict[str, Any] | None) -> str:
    """One line of the run's headline numbers, formatted."""
    if not head:
        return ""
    m = head.get("metrics", {})
    parts = []
    if "total_return" in m:
        bh = head.get("buy_and_hold_return")
        parts.append(
            f"return {f.pct(m['total_return'], signed=True)}"
            + (f" (buy and hold {f.pct(bh, signed=True)})" if bh is not None else "")
        )
    for key, name in (("sharpe_daily", "Sharpe"), ("max_drawdown", "max DD")):
        if key in m:
            parts.append(f"{name} {f.metric(key, m[key])}")
    if "trades" in m:
        parts.append(f"{f.count(m['trades'])} trades")
    for key, value in head.get("facts", {}).items():
        parts.append(f"{key} {value}")
    return ", ".join(parts)


def _compare_entry(r: Any, summary: dict[str, Any]) -> dict[str, Any] | None:
    head, curves = summary.get("headline") or {}, summary.get("curves") or {}
    curve = curves.get("equity")
    if head.get("kind") != "backtest" or not curve or not curve.get("v"):
        return None
    start = curve["v"][0] or 1.0
    m = head.get("metrics", {})
    formatted = {
        f.label(k): f.metric(k, m.get(k), head.get("quote", ""), signed=True) for k in COMPARED if k in m
    }
    formatted["buy-and-hold return"] = f.pct(head.get("buy_and_hold_return"), signed=True)
    formatted["symbols"] = ", ".join(head.get("symbols", []))
    formatted["period"] = head.get("period", "")
    return {
        "title": f"{head.get('strategy', r.notebook)} · {r.started:%m-%d %H:%M}",
        "formatted": formatted,
        "metric_labels": list(formatted),
        "curve": {"t": curve["t"], "v": [v / start for v in curve["v"]]},
    }


def write_index(config: LabConfig) -> str:
    """Regenerate reports/index.html from the run history; returns its path."""
    from plotly.offline import get_plotlyjs

    history = runs(config)
    rows, data = [], {}
    for r in history.itertuples():
        summary_ = r.summary if isinstance(r.summary, dict) else {}
        dur = "" if r.duration_s is None or r.duration_s != r.duration_s else f.seconds(r.duration_s)
        ipynb = r.html[:-5] + ".ipynb" if isinstance(r.html, str) else ""
        entry = _compare_entry(r, summary_)
        if entry is not None:
            data[r.run_id] = entry
        check = f'<input type="checkbox" class="cmp" value="{esc(r.run_id)}">' if entry else ""
        head = summary_.get("headline") or {}
        ret = (head.get("metrics") or {}).get("total_return")
        rows.append(
            f'<tr data-notebook="{esc(r.notebook)}" data-status="{esc(r.status)}" data-run="{esc(r.run_id)}">'
            f'<td data-sort="{r.started.timestamp():.0f}">{r.started:%Y-%m-%d %H:%M:%S}</td><td>{esc(r.notebook)}</td>'
            f'<td class="params">{esc(parameters_text(r.parameters))}</td>'
            f'<td class="{esc(r.status)}">{esc(r.status)}</td>'
            f'<td data-sort="{r.duration_s if dur else -1}">{dur}</td>'
            f'<td class="head" data-sort="{ret if ret is not None else -1e9}">{esc(headline_text(head))}</td>'
            f'<td><a href="{esc(r.html)}">HTML</a> · <a href="{esc(ipynb)}">ipynb</a></td>'
            f'<td class="err">{esc(r.error)}</td><td>{check}</td></tr>'
        )
    sums = [
        f"<tr><td>{esc(s.notebook)}</td><td>{s.runs}</td><td>{f.pct(s.success_rate, 0)}</td>"
        f"<td>{f.seconds(s.mean_duration_s)}</td><td class='err'>{esc(s.last_error)}</td></tr>"
        for s in summary(config).itertuples()
    ]
    options = lambda values: "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in values)  # noqa: E731
    page = _PAGE.format(
        plotlyjs=get_plotlyjs(),
        summary="\n".join(sums),
        notebook_options=options(sorted(set(history["notebook"]))) if len(history) else "",
        status_options=options(sorted(set(history["status"]))) if len(history) else "",
        rows="\n".join(rows),
        data=json.dumps(data).replace("</", "<\\/"),
        script=_SCRIPT,
    )
    path = config.reports_dir / "index.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return str(path)


def comparison_page(config: LabConfig, run_ids: list[str]) -> str:
    """reports/compare-….html for the given backtest runs: metrics side by side, equity overlaid."""
    import plotly.graph_objects as go

    from lab.core.errors import LabError

    history = runs(config)
    picked = []
    for run_id in run_ids:
        match = history[history["run_id"].str.startswith(run_id)]
        if len(match) != 1:
            raise LabError(
                f"run {run_id!r}: {'no such run' if match.empty else 'ambiguous, give more of the id'} (see reports/index.html)"
            )
        r = next(match.itertuples())
        entry = _compare_entry(r, r.summary if isinstance(r.summary, dict) else {})
        if entry is None:
            raise LabError(f"run {r.run_id} ({r.notebook}, {r.status}) has no backtest headline to compare")
        picked.append((r.run_id, entry))
    if len(picked) < 2:
        raise LabError("compare needs two or more backtest runs")
    labels = picked[0][1]["metric_labels"]
    table = pd.DataFrame(
        {"metric": labels} | {e["title"]: [e["formatted"].get(m, "") for m in labels] for _, e in picked}
    )
    fig = go.Figure(
        [go.Scatter(x=e["curve"]["t"], y=e["curve"]["v"], name=e["title"], mode="lines") for _, e in picked]
    )
    fig.update_layout(title="Growth of 1 (equity / starting equity)", height=460, legend={"orientation": "h"})
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Trading Lab: comparison</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem} td,th{padding:.3rem .7rem;border-bottom:1px solid #ddd}</style>"
        f"</head><body><h1>Comparison of {len(picked)} backtest runs</h1>"
        + table.to_html(index=False, border=0)
        + fig.to_html(full_html=False, include_plotlyjs=True)
        + "</body></html>"
    )
    path = config.reports_dir / f"compare-{'-'.join(run_id[-6:] for run_id, _ in picked)}.html"
    path.write_text(body, encoding="utf-8")
    return str(path)
