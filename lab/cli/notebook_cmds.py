"""`lab notebook ...` and `lab schedule`: papermill runs, run history, the scheduler."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import typer
import yaml

from lab.cli.common import config, console, print_frame, reports_errors
from lab.core.errors import NotebookError

app = typer.Typer(help="Notebooks: run with papermill, history.", no_args_is_help=True)


def _parse(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def collect_parameters(pairs: list[str], raw: list[str], file: Path | None) -> dict[str, Any]:
    """-f file first, then -p name value (JSON, else string), then -r name value (always a string)."""
    params: dict[str, Any] = {}
    if file:
        loaded = yaml.safe_load(file.read_text()) or {}
        if not isinstance(loaded, dict):
            raise NotebookError(f"{file}: expected a mapping of parameter names to values")
        params.update(loaded)
    for values, parse in ((pairs, _parse), (raw, str)):
        if len(values) % 2:
            raise NotebookError("parameters come in pairs: -p NAME VALUE")
        for name, value in zip(values[::2], values[1::2], strict=True):
            params[name] = parse(value)
    return params


def split_pairs(args: list[str]) -> tuple[list[str], list[str]]:
    """`-p NAME VALUE` and `-r NAME VALUE` from the command line. Parsed here because typer's list
    options take one value per flag, and papermill's own two-value form is what users type."""
    pairs: list[str] = []
    raw: list[str] = []
    i = 0
    while i < len(args):
        flag = args[i]
        if flag not in ("-p", "-r"):
            raise NotebookError(
                f"unexpected argument {flag!r}: parameters are -p NAME VALUE or -r NAME VALUE"
            )
        if len(args) - i < 3:
            raise NotebookError(f"{flag} needs a NAME and a VALUE: {flag} NAME VALUE")
        (pairs if flag == "-p" else raw).extend(args[i + 1 : i + 3])
        i += 3
    return pairs, raw


@app.command(
    "run",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog="Parameters: -p NAME VALUE (value parsed as JSON, else a string), -r NAME VALUE (always a string); repeatable.",
)
@reports_errors
def run(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Notebook name in notebooks/ (without .ipynb)"),
    file: Path = typer.Option(None, "-f", help="YAML or JSON file of parameters"),
) -> None:
    """Run a notebook headlessly; the HTML report is written whether it passes or fails."""
    from lab.pipeline.runner import run_notebook

    param, raw = split_pairs(list(ctx.args))

    outcome = run_notebook(config(), name, collect_parameters(param or [], raw or [], file))
    colour = "green" if outcome.status == "succeeded" else "red"
    console.print(
        f"[{colour}]{outcome.notebook} {outcome.status}[/] in {outcome.duration_s:.1f} s → {outcome.output_html}"
    )
    if outcome.error:
        console.print(f"error: {outcome.error}")
        raise typer.Exit(1)


@app.command()
@reports_errors
def history(notebook: str = typer.Argument(None), limit: int = typer.Option(20, min=1, max=10_000)) -> None:
    """Recent runs, and per notebook: success rate and mean duration."""
    from lab.pipeline.history import runs, summary

    cfg = config()
    recent = runs(cfg, notebook, limit)
    if recent.empty:
        console.print("no notebook runs yet: `lab notebook run backtest` or `make run`")
        return
    print_frame(
        recent[["started", "notebook", "status", "duration_s", "trigger", "error"]].fillna(""), title="runs"
    )
    print_frame(summary(cfg), title="per notebook")


@reports_errors
def schedule_cmd(
    list_jobs: bool = typer.Option(False, "--list", help="Show jobs and their next run times"),
    once: str = typer.Option(None, "--once", help="Run one job now and exit"),
) -> None:
    """Run the scheduler (cron entries in lab.toml [schedule.*]: notebooks and the promoter) until SIGTERM."""
    from lab.cli.agents_cmds import snapshot_task
    from lab.cli.shadow_cmds import promote_task
    from lab.pipeline import scheduler

    cfg = config()
    tasks = {"promote": promote_task, "agents": snapshot_task}
    if list_jobs:
        jobs = scheduler.planned(cfg)
        print_frame(pd.DataFrame([j.__dict__ for j in jobs]), title="scheduled jobs (UTC)")
        return
    if once:
        outcome = scheduler.run_job(cfg, once, tasks)
        console.print(f"{once}: {outcome.status} in {outcome.duration_s:.1f} s → {outcome.output_html}")
        raise typer.Exit(0 if outcome.status == "succeeded" else 1)
    console.print(f"scheduler running {len(cfg.schedule)} job(s); SIGTERM or Ctrl-C stops it")
    scheduler.serve(cfg, tasks)
