"""What every Voila view of the lab shares: a read-only DB, a refresh loop on the kernel's event loop,
a clear message instead of a traceback when the DB cannot be read, sections, plotly output through the
page's mime renderer, and commands sent through the queue with their outcome shown."""

from __future__ import annotations

import asyncio
import html
import json
from typing import Any

import ipywidgets as w

from lab.core.config import LabConfig
from lab.dashboard.render import CSS
from lab.store.db import readonly_engine

PLOTLY_MIME = "application/vnd.plotly.v1+json"


def validate_refresh(refresh_seconds: float) -> float:
    """A view notebook's refresh interval: a number of seconds from 1 to 3600."""
    from lab.core.errors import LabError

    if not isinstance(refresh_seconds, int | float) or not 1 <= refresh_seconds <= 3600:
        raise LabError(f"refresh_seconds = {refresh_seconds!r}: must be a number of seconds from 1 to 3600")
    return float(refresh_seconds)


def output_entry(data: dict[str, Any]) -> dict[str, Any]:
    """One entry of an Output widget's outputs: a mime bundle to display."""
    return {"output_type": "display_data", "data": data, "metadata": {}}


def note(text: str) -> dict[str, Any]:
    return output_entry(
        {"text/html": f"<div class='lab-empty'>{html.escape(text)}</div>", "text/plain": text}
    )


def figure_output(fig: Any, empty: str = "nothing to plot yet") -> dict[str, Any]:
    """An Output widget entry showing the figure through plotly's mime renderer (the jupyterlab-plotly
    extension the page loads anyway). A FigureWidget would carry plotly.js (~5 MB) in its own widget
    state to every page, which made the first render ~2 s slower."""
    if fig is None:
        return note(empty)
    spec = json.loads(fig.to_json())
    spec["config"] = {"displaylogo": False}
    return output_entry({PLOTLY_MIME: spec, "text/plain": "figure"})


def section(title: str, body: w.Widget) -> w.VBox:
    return w.VBox(
        [w.HTML(f"<h3 style='margin:10px 0 4px'>{html.escape(title)}</h3>"), body],
        layout=w.Layout(margin="0 24px 0 0"),
    )


class DashboardApp:
    """Base of the lab's views: subclasses build their widgets, then call `finish(children)`, and
    implement `_refresh()`; `engine_running()` says whether queued commands run now."""

    title = "Trading Lab"

    def __init__(self, config: LabConfig, refresh_seconds: float = 5.0) -> None:
        self.config, self.refresh_seconds = config, refresh_seconds
        self.db = readonly_engine(config.db_url)
        self.refreshes = 0
        self.header = w.HTML()
        self.outcome = w.HTML()
        self.pending_command: int | None = None

    def finish(self, children: list[w.Widget]) -> None:
        self.widget = w.VBox([w.HTML(CSS), self.header, *children], layout=w.Layout(padding="8px"))
        self.widget.add_class("lab-dash")

    section = staticmethod(section)

    # --- commands ------------------------------------------------------------------------------
    def engine_running(self) -> bool:  # pragma: no cover - overridden
        return False

    def send(self, command: str, **args: Any) -> int | None:
        """Queue a command for the engine and say so (and, on a later refresh, how it ended)."""
        from lab.store import commands

        try:
            cid = commands.enqueue(self.config, command, source="dashboard", **args)
        except Exception as exc:  # the DB may be locked or gone; say so, never a traceback
            self.outcome.value = f"<b style='color:#cf222e'>{command} not sent: {html.escape(str(exc))}</b>"
            return None
        waiting = (
            ""
            if self.engine_running()
            else " — no engine is running; it will run when one starts (`lab run`)"
        )
        self.pending_command = cid
        self.outcome.value = f"{html.escape(command)} queued (#{cid}){waiting}"
        return cid

    def _command_outcome(self) -> None:
        cid = self.pending_command
        if cid is None:
            return
        from lab.store import commands

        row = commands.outcome(self.config, cid)
        if row is not None and row.status != "pending":
            colour = "#1a7f37" if row.status == "done" else "#cf222e"
            self.outcome.value = (
                f"<span style='color:{colour}'>{html.escape(row.command)}: {row.status}</span> "
                f"{html.escape(row.result or '')}"
            )
            self.pending_command = None

    # --- refresh -------------------------------------------------------------------------------
    def refresh(self) -> None:
        try:
            self._refresh()
            self._command_outcome()
        except Exception as exc:  # unreadable DB, missing tables: a clear message instead of a stack trace
            self.header.value = (
                f"<h2>{html.escape(self.title)}</h2><p style='color:#cf222e'><b>Cannot read the database</b> "
                f"({html.escape(self.config.db_url)}): {html.escape(str(exc).splitlines()[0])}</p>"
                f"<p>Run <code>make run</code> or <code>lab db upgrade</code> to create it.</p>"
            )
        self.refreshes += 1

    def _refresh(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def start(self) -> DashboardApp:
        """Refresh every refresh_seconds from the kernel's event loop (no page reload)."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(self.refresh_seconds)
                self.refresh()

        self.task = asyncio.get_event_loop().create_task(loop())
        return self
