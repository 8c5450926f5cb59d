"""The agents view: the latest agent_performance snapshot of a voting strategy as a leaderboard with
intervals, each agent's state in the engine with a toggle that goes through the command queue, and
the evidence behind each flag."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
import pandas as pd
from sqlalchemy import func, select

from lab.core.config import LabConfig, load_config
from lab.dashboard import queries as q
from lab.dashboard.base import DashboardApp, figure_output, validate_refresh
from lab.dashboard.render import badge
from lab.research.agent_figures import leaderboard_figure
from lab.store.models import AgentPerformance, Command
from lab.store.votes import agent_states

validate_parameters = validate_refresh  # the view notebook's parameters: the refresh interval


def snapshot(db: Any, strategy: str | None) -> tuple[str | None, str | None, list[str], pd.DataFrame]:
    """(the newest snapshot day, the strategy shown, the strategies with snapshots, that day's rows)."""
    t = AgentPerformance
    with db.connect() as c:
        strategies = sorted(c.execute(select(t.strategy).distinct()).scalars())
        strategy = strategy if strategy in strategies else (strategies[0] if strategies else None)
        if strategy is None:
            return None, None, [], pd.DataFrame()
        day = c.execute(select(func.max(t.day)).where(t.strategy == strategy)).scalar()
        rows = c.execute(select(t).where(t.strategy == strategy, t.day == day)).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows])
    return (
        day,
        strategy,
        strategies,
        frame.sort_values(["flagged", "ic"], ascending=[True, False], na_position="last"),
    )


def pending_agent_commands(db: Any) -> dict[str, str]:
    with db.connect() as c:
        rows = c.execute(
            select(Command.command, Command.args).where(
                Command.status == "pending", Command.command.in_(["agent_enable", "agent_disable"])
            )
        ).all()
    return {str((args or {}).get("agent")): command for command, args in rows}


def _interval(v: Any, lo: Any, hi: Any, pct: bool = False) -> str:
    if v is None or v != v:
        return "<span class='lab-empty'>—</span>"
    f = (lambda x: f"{x:.1%}") if pct else (lambda x: f"{x:+.3f}")
    return f"{f(v)} <span style='color:#6e7781'>[{f(lo)}, {f(hi)}]</span>"


class AgentsApp(DashboardApp):
    title = "Trading Lab — agents"

    def __init__(self, config: LabConfig, refresh_seconds: float = 10.0) -> None:
        super().__init__(config, refresh_seconds)
        self.strategy = w.Dropdown(options=[], description="Strategy")
        self.reason = w.Text(placeholder="reason for the change", layout=w.Layout(width="260px"))
        self.board, self.evidence = w.HTML(), w.HTML()
        self.toggles = w.VBox()
        self.figure = w.Output(layout=w.Layout(width="100%"))
        self._buttons: dict[str, w.Button] = {}
        self._figure_key: tuple | None = None
        self._updating = False
        self.strategy.observe(lambda _c: None if self._updating else self.refresh(), "value")
        self.finish(
            [
                w.HBox([self.strategy, self.reason]),
                self.outcome,
                self.section("Leaderboard (latest daily snapshot, 95% intervals)", self.board),
                self.section(
                    "Enabled in the engine (the change goes through the command queue)", self.toggles
                ),
                self.section("IC and hit rate", self.figure),
                self.section("Flags and the evidence behind each", self.evidence),
            ]
        )
        self.refresh()

    @classmethod
    def from_config(cls, refresh_seconds: float = 10.0) -> AgentsApp:
        return cls(load_config(), refresh_seconds)

    def engine_running(self) -> bool:
        return q.engine_running(self.config, "paper") or q.engine_running(self.config, "live")

    def toggle(self, agent: str, enable: bool) -> None:
        reason = self.reason.value.strip() or f"{'enabled' if enable else 'disabled'} from the agents view"
        self.send("agent_enable" if enable else "agent_disable", agent=agent, reason=reason)
        self.refresh()

    def states(self) -> dict[str, tuple[bool, str]]:
        """Each agent's state: the newest agent_states row, else lab.toml's enabled list."""
        with self.db.connect() as c:
            rows = agent_states(c)
        names = list(self.config.agents.enabled) + [n for n in rows if n not in self.config.agents.enabled]
        out = {}
        for name in names:
            if name in rows:
                on, reason, source, at = rows[name]
                out[name] = (on, f"{source} at {pd.Timestamp(at):%Y-%m-%d %H:%M}: {reason}")
            else:
                out[name] = (True, "lab.toml")
        return out

    def _refresh(self) -> None:
        day, shown, strategies, rows = snapshot(self.db, self.strategy.value)
        if tuple(self.strategy.options) != tuple(strategies) or self.strategy.value != shown:
            self._updating = True  # setting the dropdown must not start a second refresh
            try:
                self.strategy.options = strategies
                self.strategy.value = shown
            finally:
                self._updating = False
        states, pending = self.states(), pending_agent_commands(self.db)
        head = f"<h2>{html.escape(self.title)}</h2>"
        if day is None:
            self.header.value = head + (
                "<p class='lab-empty'>No agent snapshot yet: run <code>make run</code>, the agent analysis "
                "notebook or <code>lab agents report</code>.</p>"
            )
        else:
            flagged = int(rows["flagged"].sum()) if len(rows) else 0
            self.header.value = head + (
                f"<p>{html.escape(str(shown))}: snapshot of <b>{day}</b>, {len(rows)} agents, "
                f"{flagged} flagged</p>"
            )
        self._board(rows, states, pending)
        self._toggles(states, pending)
        self._evidence(rows)
        key = (day, self.strategy.value, len(rows))
        if key != self._figure_key and len(rows):
            self._figure_key = key
            self.figure.outputs = (figure_output(leaderboard_figure(rows, self.config.agents.min_ic)),)

    def _board(self, rows: pd.DataFrame, states: dict, pending: dict) -> None:
        if rows.empty:
            value = "<div class='lab-empty'>no snapshot rows</div>"
        else:
            body = "".join(
                "<tr>"
                f"<td><b>{html.escape(r.agent)}</b></td>"
                f"<td>{badge('enabled' if states.get(r.agent, (True,))[0] else 'disabled')}"
                f"{' <i>(change pending)</i>' if r.agent in pending else ''}</td>"
                f"<td>{r.votes:,}</td><td>{r.abstention_rate:.0%}</td>"
                f"<td>{_interval(r.hit_rate, r.hit_low, r.hit_high, pct=True)}</td>"
                f"<td>{_interval(r.ic, r.ic_low, r.ic_high)}</td>"
                f"<td>{'' if r.p_adjusted != r.p_adjusted or r.p_adjusted is None else f'{r.p_adjusted:.2g}'}</td>"
                f"<td>{badge('flagged') if r.flagged else ''}</td>"
                "</tr>"
                for r in rows.itertuples(index=False)
            )
            value = (
                "<table><tr><th>agent</th><th>engine</th><th>votes</th><th>abstained</th><th>hit rate</th>"
                f"<th>IC</th><th>adjusted p</th><th>flag</th></tr>{body}</table>"
            )
        if self.board.value != value:
            self.board.value = value

    def _toggles(self, states: dict, pending: dict) -> None:
        if set(self._buttons) != set(states):
            self._buttons = {}
            for name in states:
                button = w.Button(layout=w.Layout(width="110px"))
                button.on_click(lambda b, n=name: self.toggle(n, b.description == "Enable"))
                self._buttons[name] = button
            self.toggles.children = [
                w.HBox(
                    [
                        w.HTML(f"<code style='display:inline-block;width:110px'>{html.escape(n)}</code>"),
                        b,
                        w.HTML(),
                    ]
                )
                for n, b in self._buttons.items()
            ]
        for row, (name, (on, why)) in zip(self.toggles.children, states.items(), strict=True):
            button, label = row.children[1], row.children[2]
            description, style = ("Disable", "warning") if on else ("Enable", "success")
            if button.description != description:
                button.description, button.button_style = description, style
            text = f"<span style='color:#6e7781;font-size:12px'>{html.escape(why)}</span>" + (
                f" <i>{html.escape(pending[name])} pending</i>" if name in pending else ""
            )
            if label.value != text:
                label.value = text

    def _evidence(self, rows: pd.DataFrame) -> None:
        items = []
        for r in rows.itertuples(index=False):
            ev = r.evidence or {}
            items.append(
                f"<li><b>{html.escape(r.agent)}</b> {'(flagged) ' if r.flagged else ''}— {html.escape(str(ev.get('reason', '')))}"
                f"<br><span style='color:#6e7781;font-size:12px'>{html.escape(str(ev.get('test', '')))}; "
                f"n = {ev.get('n')}, {ev.get('agents_tested')} agents tested, {html.escape(str(ev.get('correction')))}, "
                f"alpha {ev.get('alpha')}, min IC {ev.get('min_ic')}, clear streak {ev.get('clear_streak')} of "
                f"{ev.get('reenable_after')}</span></li>"
            )
        value = (
            f"<ul>{''.join(items)}</ul>" if items else "<div class='lab-empty'>no flags to explain yet</div>"
        )
        if self.evidence.value != value:
            self.evidence.value = value
