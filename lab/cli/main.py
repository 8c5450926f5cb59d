"""The `lab` command: one entry point for data, backtests, notebooks and the engine."""

from __future__ import annotations

import os

import typer

from lab.cli import (
    agents_cmds,
    backtest_cmds,
    dashboard_cmds,
    data_cmds,
    db_cmds,
    engine_cmds,
    kelly_cmds,
    nightly_cmds,
    notebook_cmds,
    report_cmds,
    shadow_cmds,
    stats_cmds,
    strategy_cmds,
)
from lab.cli.common import config, console, reports_errors
from lab.cli.errors import DEBUG_ENV, LabGroup

app = typer.Typer(
    cls=LabGroup,
    help="Trading Lab: research and trading for crypto spot markets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(
    debug: bool = typer.Option(
        False, "--debug", help="Show the traceback of a failure (it is always in data/logs/cli.log)"
    ),
) -> None:
    if debug:
        os.environ[DEBUG_ENV] = "1"


app.add_typer(data_cmds.app, name="data")
app.add_typer(db_cmds.app, name="db")
app.command("backtest")(backtest_cmds.backtest_cmd)
app.command("kelly")(kelly_cmds.kelly_cmd)
app.add_typer(notebook_cmds.app, name="notebook")
app.add_typer(stats_cmds.app, name="stats")
app.add_typer(agents_cmds.app, name="agents")
app.add_typer(shadow_cmds.app, name="shadows")
app.add_typer(strategy_cmds.app, name="strategy")
app.command("promote")(shadow_cmds.promote_cmd)
app.command("rollout")(shadow_cmds.rollout_cmd)
app.command("nightly")(nightly_cmds.nightly_cmd)
app.command("thoughts")(nightly_cmds.thoughts_cmd)
app.add_typer(report_cmds.app, name="report")
app.command("schedule")(notebook_cmds.schedule_cmd)
app.command("run")(engine_cmds.run_cmd)
app.command("status")(engine_cmds.status_cmd)
app.command("pause")(engine_cmds.pause_cmd)
app.command("resume")(engine_cmds.resume_cmd)
app.command("stop")(engine_cmds.stop_cmd)
app.command("errors")(engine_cmds.errors_cmd)
app.command("dashboard")(dashboard_cmds.dashboard_cmd)


@app.command()
@reports_errors
def main() -> None:
    """The main job (`make run`): sample data, validate, then every research notebook; ends with the report index."""
    from lab.cli.main_job import run_main_job

    if not run_main_job(config()):
        raise typer.Exit(1)


@app.command()
def warmup() -> None:
    """Compile and cache vectorbt's numba functions once, so later runs skip JIT compilation."""
    from lab.backtest.warmup import warm

    console.print(f"numba cache warm ({warm():.1f} s)")


if __name__ == "__main__":
    app()
