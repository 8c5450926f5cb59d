"""The status view: engine state, health, breakers, equity and drawdown, positions, trades, signals,
risk usage, alerts, notebook jobs, data freshness; filters; controls through the command queue."""

from __future__ import annotations

import html
import time
from datetime import UTC, datetime
from typing import Any

import ipywidgets as w
import plotly.graph_objects as go

from lab.core.config import LabConfig, load_config
from lab.core.plots import equity_drawdown_figure
from lab.dashboard import queries as q
from lab.dashboard.base import DashboardApp, figure_output, note, validate_refresh
from lab.dashboard.painted import PagePainted
from lab.dashboard.render import badge, limit_bar, table
from lab.research.truth import benchmarks_frame, truth_benchmarks


def equity_figure(eq: Any) -> go.Figure | None:
    """Equity over drawdown (None without equity points): the same figure as the backtest report's."""
    if eq.empty:
        return None
    times = eq["bar_time"].dt.strftime("%Y-%m-%d %H:%M").tolist()  # plain strings travel to plotly.js intact
    return equity_drawdown_figure(
        eq["equity"], x=times, height=360, margin={"t": 20, "b": 20, "l": 60, "r": 10}
    )


def validate_parameters(refresh_seconds: float, mode: str) -> tuple[float, str]:
    """The dashboard notebook's parameters: a refresh interval of 1 s to 1 h, mode paper or live."""
    from lab.core.errors import LabError

    refresh_seconds = validate_refresh(refresh_seconds)
    if mode not in ("paper", "live"):
        raise LabError(f"mode = {mode!r}: must be 'paper' or 'live'")
    return refresh_seconds, mode


TRUTH_EVERY_S = 60.0


class StatusApp(DashboardApp):
    def __init__(
        self, config: LabConfig, refresh_seconds: float = 5.0, mode: str = "paper", defer_plot: bool = False
    ) -> None:
        """With defer_plot, the equity chart is drawn once a page showing the app has painted
        (lab.dashboard.painted), so the chart's plotly.js does not hold back the page's first render."""
        super().__init__(config, refresh_seconds)
        self.mode = mode
        self.plot_ready = not defer_plot
        self._pending_equity: Any = None  # the data of a chart not drawn yet
        self._equity_key: tuple | None = None  # what the drawn chart shows
        self.symbol = w.Dropdown(options=["all"], value="all", description="Symbol")
        self.period = w.Dropdown(options=list(q.PERIODS), value="7 days", description="Period")
        self.reason = w.Text(placeholder="reason for pausing", layout=w.Layout(width="260px"))
        self.pause = w.Button(description="Pause", button_style="warning", icon="pause")
        self.resume = w.Button(description="Resume", button_style="success", icon="play")
        self.stop = w.Button(description="Stop", button_style="danger", icon="stop")
        self.notebook = w.Dropdown(
            options=sorted(p.stem for p in config.notebooks_dir.glob("*.ipynb")), description="Notebook"
        )
        self.run_nb = w.Button(description="Run now", icon="play-circle")
        self.health, self.risk, self.alerts = w.HTML(), w.HTML(), w.HTML()
        self.positions, self.trades, self.signals = w.HTML(), w.HTML(), w.HTML()
        self.jobs, self.fresh = w.HTML(), w.HTML()
        self.truth = w.HTML()
        self._truth_at = 0.0  # monotonic time of the last truth-benchmark query
        self.figure = w.Output(layout=w.Layout(width="100%", min_height="360px"))
        if defer_plot:
            self.figure.outputs = (note("drawing the equity chart…"),)
        for button, command in ((self.pause, "pause"), (self.resume, "resume"), (self.stop, "stop")):
            button.on_click(lambda _b, c=command: self.send(c))
        self.run_nb.on_click(lambda _b: self.run_notebook(self.notebook.value))
        self.symbol.observe(lambda _c: self.refresh(), "value")
        self.period.observe(lambda _c: self.refresh(), "value")
        self.finish(
            [
                w.HBox([self.symbol, self.period]),
                w.HBox([self.reason, self.pause, self.resume, self.stop, self.notebook, self.run_nb]),
                self.outcome,
                w.HBox(
                    [self.section("Component health", self.health), self.section("Risk usage", self.risk)]
                ),
                self.section("Equity and drawdown", self.figure),
                self.section("Truth benchmarks", self.truth),
                w.HBox([self.section("Open positions", self.positions), self.section("Alerts", self.alerts)]),
                w.HBox(
                    [self.section("Recent trades", self.trades), self.section("Recent signals", self.signals)]
                ),
                w.HBox(
                    [self.section("Notebook jobs", self.jobs), self.section("Data freshness", self.fresh)]
                ),
            ]
        )
        if defer_plot:
            self.widget.children = (*self.widget.children, PagePainted(self.draw_plot))
        self.refresh()

    @classmethod
    def from_config(cls, refresh_seconds: float = 5.0, mode: str = "paper") -> StatusApp:
        """The dashboard notebook's app: lab.toml's config, the chart drawn once the page has painted."""
        return cls(load_config(), refresh_seconds, mode, defer_plot=True)

    # --- controls ------------------------------------------------------------------------------
    def engine_running(self) -> bool:
        return q.engine_running(self.config, self.mode)

    def send(self, command: str, **args: Any) -> int | None:
        if command == "pause":
            args["reason"] = self.reason.value.strip() or "paused from the dashboard"
        return super().send(command, **args)

    def run_notebook(self, name: str) -> None:
        """Start the run at once (lab.pipeline.launch): it needs no engine."""
        from lab.pipeline.launch import start_notebook

        try:
            self.outcome.value = html.escape(start_notebook(self.config, name))
        except Exception as exc:  # unknown notebook, cannot spawn: say so, never a traceback
            self.outcome.value = f"<b style='color:#cf222e'>{html.escape(str(exc))}</b>"

    # --- refresh -------------------------------------------------------------------------------
    def _refresh(self) -> None:
        cfg = self.config
        view = q.engine_view(self.db, cfg, self.mode)
        symbol = None if self.symbol.value == "all" else self.symbol.value
        now = datetime.now(UTC)
        if view is None:
            self.header.value = (
                "<h2>Trading Lab</h2><p class='lab-empty'>No engine has run yet. Start one with "
                "<code>lab run --replay</code> (paper) — this page fills in as it trades.</p>"
            )
        else:
            uptime = ""
            if (
                view.running and view.started_at is not None
            ):  # whole minutes: a refresh must not resend the header
                minutes = int((now - view.started_at.to_pydatetime()).total_seconds() // 60)
                uptime = f", up {minutes // 60} h {minutes % 60:02d} min"
            reason = f" — {html.escape(view.pause_reason)}" if view.paused and view.pause_reason else ""
            self.header.value = (
                f"<h2>Trading Lab {badge(view.status)} {badge(view.mode)}</h2>"
                f"<p>last bar processed: <b>{view.last_bar:%Y-%m-%d %H:%M} UTC</b>{uptime}{reason}</p>"
                if view.last_bar is not None
                else f"<h2>Trading Lab {badge(view.status)}</h2>"
            )
        health = q.latest_health(self.db)
        breakers = q.breakers(self.db)
        self.health.value = (
            table(health, "no health records yet", ["component", "status", "detail"])
            + "<h4>Circuit breakers</h4>"
            + table(breakers, "none tripped yet", ["name", "state", "failures"])
        )
        eq = q.equity(self.db, self.mode, self.period.value)
        self._show_equity(eq)
        pos = q.positions(self.db, self.mode)
        options = ("all", *sorted(set(q.freshness(self.db)["symbol"])))
        if tuple(self.symbol.options) != options:  # re-setting equal options would still message the page
            self.symbol.options = options
        if symbol:
            pos = pos[pos["symbol"] == symbol]
        self.positions.value = table(
            pos,
            "no open positions",
            ["symbol", "size", "entry_price", "last_price", "unrealized_pnl", "entry_time"],
        )
        self.trades.value = table(
            q.recent_trades(self.db, self.mode, symbol),
            "no trades yet",
            ["symbol", "entry_time", "exit_time", "pnl", "exit_reason", "status"],
        )
        self.signals.value = table(
            q.recent_signals(self.db, symbol), "no signals yet", ["bar_time", "symbol", "signal", "rejected"]
        )
        self.alerts.value = table(
            q.alerts(self.db), "no alerts", ["time", "severity", "source", "symbol", "detail"]
        )
        self.risk.value = self._risk(view, eq, pos)
        self.jobs.value = table(
            q.notebook_jobs(self.db, cfg),
            "no scheduled jobs",
            ["job", "notebook", "next_run", "last_run", "last_status"],
        )
        self._show_truth()
        fresh = q.freshness(self.db, now)
        self.fresh.value = table(
            fresh.head(30), "no candles stored", ["exchange", "symbol", "timeframe", "last_ts", "age_hours"]
        )

    def _show_truth(self) -> None:
        """The truth benchmarks (lab.research.truth), at most once a minute: they scan every trade."""
        if self._truth_at and time.monotonic() - self._truth_at < TRUTH_EVERY_S:
            return
        self._truth_at = time.monotonic()
        bench = truth_benchmarks(self.db)
        frame = benchmarks_frame(bench)
        act = bench["activity"]
        drought = (
            f"last entry signal {act['last_signal'][:16].replace('T', ' ')} UTC, "
            f"{act['hours_since_last_signal']:.1f} h before the newest scan"
            if act["last_signal"]
            else "no entry signal yet"
        )
        value = table(
            frame,
            "no engine trades yet",
            [
                "strategy",
                "book",
                "strategy_version",
                "trades",
                "win_rate",
                "net_pnl",
                "fees",
                "expectancy",
                "consecutive_losses",
                "max_drawdown",
            ],
        ) + (
            f"<p>entry signals 24h / 7d / 30d: {act['signals']['24h']} / {act['signals']['7d']} / "
            f"{act['signals']['30d']}; scans {act['scans']['24h']} / {act['scans']['7d']} / {act['scans']['30d']}; "
            f"{html.escape(drought)}</p>"
        )
        if self.truth.value != value:  # an idle refresh sends nothing
            self.truth.value = value

    def _show_equity(self, eq: Any) -> None:
        """Redraw the equity plot only when its data changed: a preheated kernel's messages are replayed
        to every page that opens, so an idle refresh must send nothing."""
        key = (
            len(eq),
            str(eq["bar_time"].iloc[-1]) if len(eq) else "",
            float(eq["equity"].iloc[-1]) if len(eq) else 0.0,
        )
        if not self.plot_ready:
            self._pending_equity = eq
            return
        if key == self._equity_key:
            return
        self._equity_key = key
        self.figure.outputs = (figure_output(equity_figure(eq), "no equity recorded yet"),)

    def draw_plot(self) -> None:
        """Draw the equity chart from now on (a page has painted)."""
        if self.plot_ready:
            return
        self.plot_ready = True
        if self._pending_equity is not None:
            self._show_equity(self._pending_equity)

    def _risk(self, view: q.EngineView | None, eq: Any, pos: Any) -> str:
        if view is None:
            return "<div class='lab-empty'>no engine state yet</div>"
        r, equity_now = self.config.risk, float(eq["equity"].iloc[-1]) if len(eq) else view.cash
        dd = max(0.0, 1 - equity_now / view.peak_equity) if view.peak_equity else 0.0
        day = max(0.0, 1 - equity_now / view.day_start_equity) if view.day_start_equity else 0.0
        largest = 0.0
        if len(pos) and equity_now:  # positions without a recorded price yet are valued at their entry price
            largest = float((pos["size"] * pos["last_price"].fillna(pos["entry_price"])).max() / equity_now)
        rows = [
            limit_bar("drawdown from peak", dd, r.max_drawdown, f"{dd:.1%} of {r.max_drawdown:.0%}"),
            limit_bar("loss today", day, r.daily_loss_limit, f"{day:.1%} of {r.daily_loss_limit:.0%}"),
            limit_bar(
                "open positions",
                len(pos),
                self.config.trading_capital.max_open_positions,
                f"{len(pos)} of {self.config.trading_capital.max_open_positions}",
            ),
            limit_bar(
                "losing streak",
                view.consecutive_losses,
                r.max_consecutive_losses,
                f"{view.consecutive_losses} of {r.max_consecutive_losses}",
            ),
            limit_bar(
                "largest position",
                largest,
                r.max_position_fraction,
                f"{largest:.1%} of {r.max_position_fraction:.0%} of equity",
            ),
        ]
        return "<table>" + "".join(rows) + "</table>"
