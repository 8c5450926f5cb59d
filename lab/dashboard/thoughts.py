"""The thought-spool view: every nightly cycle (date, provider, decision, tokens, cost, duration, status)
with filters; one cycle's stages in order with each full response, its parsed decision and its errors;
full-text search across every thought (SQLite FTS5); the cycle's observations; and the lineage of each
strategy it produced (parent, diff, gates, and the shadow's record so far)."""

from __future__ import annotations

import html
import json
from typing import Any

import ipywidgets as w
import pandas as pd
from sqlalchemy import func, select

from lab.core.config import LabConfig, load_config
from lab.dashboard.base import DashboardApp, validate_refresh
from lab.dashboard.render import badge, table
from lab.store import spool
from lab.store.models import Book, EngineTrade
from lab.store.models_llm import LLMCycle

validate_parameters = validate_refresh  # the view notebook's parameters: the refresh interval
DECISIONS = ("NO_CHANGE", "PARAMETER_CHANGE", "STRATEGY_UPDATE", "ADAPTATION", "ANALYSIS_UPDATE")
LISTED = 200  # newest cycles in the list (the filters reach older ones)


def _label(r: Any) -> str:
    return f"#{r.id} · {str(r.started_at)[:16]} · {r.provider} · {r.decision or '—'} · {r.status}"


def shadow_record(db: Any, key: str | None) -> str:
    if not key:
        return ""
    with db.connect() as c:
        book = c.execute(select(Book.id, Book.status, Book.error).where(Book.key == key)).first()
        if book is None:
            return f"{key}: not found"
        n, pnl = c.execute(
            select(func.count(), func.coalesce(func.sum(EngineTrade.pnl), 0.0)).where(
                EngineTrade.book_id == book.id, EngineTrade.status == "closed"
            )
        ).one()
    return f"{key}: {book.status}{' (' + book.error + ')' if book.error else ''}, {n} closed trades, net P&L {pnl:+,.2f}"


class ThoughtsApp(DashboardApp):
    title = "Trading Lab — thought spool"

    def __init__(self, config: LabConfig, refresh_seconds: float = 15.0) -> None:
        super().__init__(config, refresh_seconds)
        self.decision = w.Dropdown(options=["all", *DECISIONS], value="all", description="decision")
        self.provider = w.Dropdown(
            options=["all", "anthropic", "offline", "replay"], value="all", description="provider"
        )
        self.cycle_list = w.Select(options=[], rows=12, layout=w.Layout(width="640px"))
        self.cycles_table = w.HTML()
        self.query = w.Text(placeholder="search every thought", layout=w.Layout(width="320px"))
        self.search_button = w.Button(description="Search", button_style="info")
        self.hits = w.HTML()
        self.detail, self.notes, self.lineage = w.HTML(), w.HTML(), w.HTML()
        self._listed: tuple = ()
        self._shown: tuple = ()
        for f in (self.decision, self.provider):
            f.observe(lambda _c: self.refresh(), names="value")
        self.cycle_list.observe(lambda _c: self._show_cycle(force=True), names="value")
        self.search_button.on_click(lambda _b: self._search())
        self.query.on_submit(lambda _t: self._search())
        self.finish(
            [
                w.HBox([self.decision, self.provider]),
                w.HBox(
                    [
                        self.section("Cycles (newest first; choose one)", self.cycle_list),
                        self.section("Search", w.VBox([w.HBox([self.query, self.search_button]), self.hits])),
                    ]
                ),
                self.section("Summary", self.cycles_table),
                self.section("The cycle's stages, in order", self.detail),
                self.section("Observations", self.notes),
                self.section("Strategies it produced: lineage, gates, shadow record", self.lineage),
            ]
        )
        self.refresh()

    @classmethod
    def from_config(cls, refresh_seconds: float = 15.0) -> ThoughtsApp:
        return cls(load_config(), refresh_seconds)

    def _refresh(self) -> None:
        with self.db.connect() as c:
            total, cost = c.execute(select(func.count(), func.coalesce(func.sum(LLMCycle.cost), 0.0))).one()
        self.header.value = (
            f"<h2>{html.escape(self.title)}</h2><p>{total:,} cycles, ${cost:,.4f} spent on models in all</p>"
        )
        frame = spool.cycles(
            self.db,
            LISTED,
            decision=None if self.decision.value == "all" else self.decision.value,
            provider=None if self.provider.value == "all" else self.provider.value,
        )
        key = tuple(zip(frame["id"], frame["status"], strict=True)) if len(frame) else ()
        if key != self._listed:
            self._listed = key
            current = self.cycle_list.value
            self.cycle_list.options = [(_label(r), int(r.id)) for r in frame.itertuples(index=False)]
            ids = [int(i) for i in frame["id"]]
            self.cycle_list.value = current if current in ids else (ids[0] if ids else None)
            shown = frame.head(20).copy()
            shown["reason"] = shown["reason"].str.slice(0, 90)
            self.cycles_table.value = table(
                shown.drop(columns=["dry_run"]), "no cycles yet: `lab nightly` or the nightly notebook"
            )
        self._show_cycle()

    def _show_cycle(self, force: bool = False) -> None:
        cid = self.cycle_list.value
        if cid is None:
            self.detail.value = "<div class='lab-empty'>no cycle chosen</div>"
            self.notes.value = self.lineage.value = ""
            return
        row = spool.cycle(self.db, int(cid))
        key = (cid, row["status"] if row else None)
        if key == self._shown and not force:
            return
        self._shown = key
        if row is None:
            return
        self.detail.value = self._stages(row)
        notes = spool.observations(self.db, int(cid))
        self.notes.value = (
            "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>"
            if notes
            else "<div class='lab-empty'>no observations this cycle</div>"
        )
        self.lineage.value = self._lineage(int(cid))

    def _stages(self, row: dict[str, Any]) -> str:
        head = (
            f"<p><b>Cycle #{row['id']}</b> {badge('closed' if row['status'] == 'completed' else 'failed')} "
            f"{html.escape(row['status'])} · {html.escape(row['provider'])} · <b>{html.escape(row['decision'] or '—')}</b> · "
            f"{row['input_tokens']:,}+{row['output_tokens']:,} tokens · ${row['cost']:.4f} · {row['duration_s']:.1f} s"
            f"<br>{html.escape(row['reason'] or '')}</p>"
        )
        parts = []
        for t in spool.thoughts(self.db, int(row["id"])).to_dict("records"):
            title = (
                f"[{t['seq']}] {t['stage']} · {t['provider']} {t['model']} · attempt {t['attempt']} · "
                f"{t['input_tokens']}+{t['output_tokens']} tokens · ${t['cost']:.4f} · {t['latency_s']:.2f} s"
            )
            error = f"<p style='color:#cf222e'>error: {html.escape(t['error'])}</p>" if t["error"] else ""
            parsed = (
                f"<p style='color:#6e7781'>parsed: {html.escape(json.dumps(t['parsed'])[:600])}</p>"
                if t["parsed"] and t["stage"] != "tool"
                else ""
            )
            parts.append(
                f"<details class='lab-thought' open><summary>{html.escape(title)}</summary>{error}"
                f"<pre style='white-space:pre-wrap;max-height:22rem;overflow:auto'>{html.escape(t['raw_text'])}</pre>"
                f"{parsed}</details>"
            )
        return head + ("".join(parts) or "<div class='lab-empty'>no responses recorded</div>")

    def _lineage(self, cid: int) -> str:
        rows = spool.candidates(self.db, cid)
        if rows.empty:
            return "<div class='lab-empty'>this cycle produced no candidate</div>"
        out = []
        for c in rows.to_dict("records"):
            gates = "".join(
                f"<li>{'✓' if g['passed'] else '✗'} <b>{html.escape(g['gate'])}</b>: {html.escape(g['detail'])}</li>"
                for g in c["gates"]
            )
            out.append(
                f"<p><b>{html.escape(c['name'])} {html.escape(c['version'])}</b> ({html.escape(c['kind'])}) from "
                f"parent <b>{html.escape(c['parent'])}</b>: {html.escape(c['status'])} — {html.escape(c['reason'])}</p>"
                f"<ul>{gates}</ul><p>{html.escape(shadow_record(self.db, c['shadow_key']))}</p>"
                + (f"<pre style='white-space:pre-wrap'>{html.escape(c['diff'])}</pre>" if c["diff"] else "")
            )
        return "".join(out)

    def _search(self) -> None:
        text = self.query.value.strip()
        if not text:
            self.hits.value = ""
            return
        found = spool.search(self.db, text, 20)
        if found.empty:
            self.hits.value = f"<div class='lab-empty'>nothing matches {html.escape(text)!s}</div>"
            return
        self.hits.value = table(pd.DataFrame(found[["cycle_id", "stage", "snippet"]]), "")
        first = int(found["cycle_id"].iloc[0])
        if first in [v for _l, v in self.cycle_list.options]:
            self.cycle_list.value = first
