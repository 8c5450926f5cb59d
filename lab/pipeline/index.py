"""reports/index.html: every notebook run, newest first, with status, duration and links."""

from __future__ import annotations

import html

from lab.core.config import LabConfig
from lab.pipeline.history import runs, summary

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Trading Lab reports</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 2rem; }}
th, td {{ padding: .35rem .8rem; border-bottom: 1px solid #ddd; text-align: left; font-size: .92rem; }}
.succeeded {{ color: #1a7f37; font-weight: 600; }} .failed {{ color: #cf222e; font-weight: 600; }}
.running {{ color: #9a6700; }} .err {{ color: #cf222e; font-size: .85rem; max-width: 40rem; }}
</style></head><body>
<h1>Trading Lab reports</h1>
<h2>Notebooks</h2>
<table><tr><th>notebook</th><th>runs</th><th>success rate</th><th>mean duration</th><th>last error</th></tr>
{summary}</table>
<h2>Runs (newest first)</h2>
<table><tr><th>started (UTC)</th><th>notebook</th><th>status</th><th>duration</th><th>trigger</th><th>report</th>
<th>notebook file</th><th>error</th></tr>
{rows}</table>
</body></html>
"""


def esc(value: object) -> str:
    """HTML-escaped text; missing values (None, NaN) are empty."""
    return "" if value is None or value != value else html.escape(str(value))


def write_index(config: LabConfig) -> str:
    """Regenerate reports/index.html from the run history; returns its path."""
    rows = []
    for r in runs(config).itertuples():
        dur = "" if r.duration_s is None or r.duration_s != r.duration_s else f"{r.duration_s:.1f} s"
        ipynb = r.html[:-5] + ".ipynb" if isinstance(r.html, str) else ""
        rows.append(
            f"<tr><td>{r.started:%Y-%m-%d %H:%M:%S}</td><td>{esc(r.notebook)}</td>"
            f'<td class="{esc(r.status)}">{esc(r.status)}</td><td>{dur}</td><td>{esc(r.trigger)}</td>'
            f'<td><a href="{esc(r.html)}">HTML</a></td><td><a href="{esc(ipynb)}">ipynb</a></td>'
            f'<td class="err">{esc(r.error)}</td></tr>'
        )
    sums = [
        f"<tr><td>{esc(s.notebook)}</td><td>{s.runs}</td><td>{s.success_rate:.0%}</td>"
        f"<td>{s.mean_duration_s:.1f} s</td><td class='err'>{esc(s.last_error)}</td></tr>"
        for s in summary(config).itertuples()
    ]
    path = config.reports_dir / "index.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_PAGE.format(rows="\n".join(rows), summary="\n".join(sums)), encoding="utf-8")
    return str(path)
