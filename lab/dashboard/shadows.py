"""The shadows view: every shadow against the active strategy (daily equity curves, the promoter's
latest statistics against their thresholds, track-record progress), the rollout's stage and history,
and retire / promote-now controls through the command queue."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
import pandas as pd
import plotly.graph_objects as go
from sqlalchemy import func, select

from lab.core.config import LabConfig, load_config
from lab.dashboard import queries as q
from lab.dashboard.base import DashboardApp, figure_output, validate_refresh
from lab.dashboard.render import badge
from lab.store.models import Book, EquitySnapshot, PromotionEvaluation, Rollout, RolloutEvent

validate_parameters = validate_refresh  # the view notebook's parameters: the refresh interval


def shadow_rows(db: Any) -> pd.DataFrame:
    """Each shadow book with its latest evaluation."""
    with db.connect() as c:
        books = c.execute(
            select(Book.key, Book.strategy, Book.strategy_version, Book.status, Book.error)
            .where(Book.mode == "shadow")
            .order_by(Book.id)
        ).all()
        newest = (
            select(PromotionEvaluation.shadow, func.max(PromotionEvaluation.id).label("id"))
            .group_by(PromotionEvaluation.shadow)
            .subquery()
        )
        evals = {
            r.shadow: r
            for r in c.execute(
                select(PromotionEvaluation).join(newest, PromotionEvaluation.id == newest.c.id)
            )
        }
    rows = []
    for key, strategy, version, status, error in books:
        e = evals.get(key)
        rows.append(
            {
                "shadow": key,
                "strategy": f"{strategy} {version}",
                "status": status,
                "error": error or "",
                "days": e.days if e else None,
                "psr": e.psr if e else None,
                "dsr": e.dsr if e else None,
                "paired_p": e.paired_p if e else None,
                "min_track_days": e.min_track_days if e else None,
                "n_trials": e.n_trials if e else None,
                "decision": e.decision if e else "not evaluated",
                "reason": e.reason if e else "run `lab promote --dry-run`",
                "at": e.created_at if e else None,
            }
        )
    return pd.DataFrame(rows)


def daily_equity(db: Any, keys: list[str]) -> pd.DataFrame:
    with db.connect() as c:
        rows = c.execute(
            select(Book.key, EquitySnapshot.bar_time, EquitySnapshot.equity)
            .join(Book, Book.id == EquitySnapshot.book_id)
            .where(Book.key.in_(keys), EquitySnapshot.kind == "daily")
            .order_by(EquitySnapshot.bar_time)
        ).all()
    frame = pd.DataFrame(rows, columns=["book", "bar_time", "equity"])
    return (
        frame.pivot_table(index="bar_time", columns="book", values="equity", aggfunc="last")
        if len(frame)
        else frame
    )


def _num(v: Any, fmt: str) -> str:
    return "—" if v is None or v != v else fmt.format(v)


class ShadowsApp(DashboardApp):
    title = "Trading Lab — shadows"

    def __init__(self, config: LabConfig, refresh_seconds: float = 10.0) -> None:
        super().__init__(config, refresh_seconds)
        self.table, self.rollout = w.HTML(), w.HTML()
        self.controls = w.VBox()
        self.figure = w.Output(layout=w.Layout(width="100%"))
        self._buttons: dict[str, tuple[w.Button, w.Button]] = {}
        self._figure_key: tuple | None = None
        self.finish(
            [
                self.outcome,
                self.section(
                    "Shadows against the active strategy (the promoter's latest evaluation)", self.table
                ),
                self.section("Retire or promote (through the command queue)", self.controls),
                self.section("Daily equity, each book from 1", self.figure),
                self.section("Rollout", self.rollout),
            ]
        )
        self.refresh()

    @classmethod
    def from_config(cls, refresh_seconds: float = 10.0) -> ShadowsApp:
        return cls(load_config(), refresh_seconds)

    def engine_running(self) -> bool:
        return q.engine_running(self.config, "paper") or q.engine_running(self.config, "live")

    def _refresh(self) -> None:
        p = self.config.promoter
        rows = shadow_rows(self.db)
        self.header.value = (
            f"<h2>{html.escape(self.title)}</h2><p>{len(rows)} shadows; thresholds: PSR ≥ {p.psr_min}, DSR ≥ "
            f"{p.dsr_min}, paired p &lt; {p.paired_alpha}, at least {p.min_days} days and the minimum track record</p>"
        )
        self._table(rows)
        self._controls(rows)
        self._figure(rows)
        self._rollout()

    def _table(self, rows: pd.DataFrame) -> None:
        p = self.config.promoter
        if rows.empty:
            value = "<div class='lab-empty'>no shadows yet: [shadows.*] in lab.toml or <code>lab shadows add</code></div>"
        else:
            body = []
            for r in rows.itertuples(index=False):
                need = (
                    r.min_track_days
                    if r.min_track_days is not None and r.min_track_days == r.min_track_days
                    else None
                )
                progress = (
                    f"{r.days or 0} / {max(p.min_days, need or 0):.0f} days" if r.days is not None else "—"
                )
                mark = lambda ok: "✓" if ok else "✗"  # noqa: E731
                body.append(
                    f"<tr><td><b>{html.escape(r.shadow)}</b><br><span style='color:#6e7781'>{html.escape(r.strategy)}</span></td>"
                    f"<td>{badge('enabled' if r.status == 'active' else 'disabled')} {html.escape(r.status)}"
                    f"{'<br><small>' + html.escape(r.error) + '</small>' if r.error else ''}</td>"
                    f"<td>{progress}</td>"
                    f"<td>{_num(r.psr, '{:.3f}')} {'' if r.psr is None else mark(r.psr >= p.psr_min)}</td>"
                    f"<td>{_num(r.paired_p, '{:.2g}')} {'' if r.paired_p is None else mark(r.paired_p < p.paired_alpha)}</td>"
                    f"<td>{_num(r.dsr, '{:.3f}')} {'' if r.dsr is None else mark(r.dsr >= p.dsr_min)} "
                    f"<small>N = {r.n_trials or '—'}</small></td>"
                    f"<td>{html.escape(r.decision)}<br><small>{html.escape(r.reason)}</small></td></tr>"
                )
            value = (
                "<table><tr><th>shadow</th><th>status</th><th>track record</th><th>PSR</th><th>paired p</th>"
                f"<th>DSR</th><th>decision</th></tr>{''.join(body)}</table>"
            )
        if self.table.value != value:
            self.table.value = value

    def _controls(self, rows: pd.DataFrame) -> None:
        active = [r.shadow for r in rows.itertuples(index=False) if r.status == "active"]
        if list(self._buttons) != active:
            self._buttons = {}
            children = []
            for key in active:
                retire = w.Button(
                    description="Retire", button_style="warning", layout=w.Layout(width="110px")
                )
                promote = w.Button(
                    description="Promote now", button_style="success", layout=w.Layout(width="130px")
                )
                retire.on_click(
                    lambda _b, k=key: self.send(
                        "shadow_retire", shadow=k, reason="retired from the shadows view"
                    )
                )
                promote.on_click(lambda _b, k=key: self.send("promote_now", shadow=k))
                self._buttons[key] = (retire, promote)
                children.append(
                    w.HBox(
                        [
                            w.HTML(
                                f"<code style='display:inline-block;width:230px'>{html.escape(key)}</code>"
                            ),
                            retire,
                            promote,
                        ]
                    )
                )
            self.controls.children = children

    def _figure(self, rows: pd.DataFrame) -> None:
        keys = ["paper", *rows["shadow"].tolist()] if len(rows) else ["paper"]
        eq = daily_equity(self.db, keys)
        key = (len(eq), tuple(eq.columns) if len(eq) else ())
        if key == self._figure_key:
            return
        self._figure_key = key
        if eq.empty:
            self.figure.outputs = (
                figure_output(None, "no daily equity yet: the engine writes one point per UTC day"),
            )
            return
        fig = go.Figure()
        for book in eq.columns:
            s = eq[book].dropna()
            if len(s) and s.iloc[0] > 0:
                fig.add_trace(
                    go.Scatter(
                        x=[str(t)[:10] for t in s.index],
                        y=s / s.iloc[0],
                        name=book,
                        mode="lines+markers",
                        line={"width": 3 if book == "paper" else 1.5},
                    )
                )
        fig.update_layout(height=360, margin={"t": 20, "b": 20, "l": 50, "r": 10})
        self.figure.outputs = (figure_output(fig),)

    def _rollout(self) -> None:
        with self.db.connect() as c:
            row = c.execute(select(Rollout).order_by(Rollout.id.desc()).limit(1)).first()
            events = (
                c.execute(
                    select(RolloutEvent).where(RolloutEvent.rollout_id == row.id).order_by(RolloutEvent.id)
                ).all()
                if row
                else []
            )
        if row is None:
            value = "<div class='lab-empty'>no rollout yet: <code>lab promote</code> starts one when a shadow passes every test</div>"
        else:
            stages = self.config.promoter.stages
            stage = stages[min(int(row.state.get("stage", 0)), len(stages) - 1)]
            value = (
                f"<p><b>{html.escape(row.candidate)}</b> in {html.escape(row.book)} against {html.escape(row.previous)}: "
                f"{badge('running' if row.status == 'running' else ('closed' if row.status == 'completed' else 'failed'))} "
                f"{html.escape(row.status)}, stage {stage:.0%} {html.escape(row.state.get('reason') or '')}</p><table>"
                "<tr><th>day</th><th>event</th><th>share</th><th>moved</th><th>detail</th></tr>"
                + "".join(
                    f"<tr><td>{html.escape(e.day)}</td><td>{html.escape(e.kind)}</td><td>{e.share:.0%}</td>"
                    f"<td>{e.amount:,.2f}</td><td>{html.escape(e.detail)}</td></tr>"
                    for e in events
                )
                + "</table>"
            )
        if self.rollout.value != value:
            self.rollout.value = value
