"""`lab strategy active|history|deploy|rollback`: which version trades, its lineage, and restoring one."""

from __future__ import annotations

import json

import typer

from lab.cli.common import config, console, json_object, print_frame, reports_errors

app = typer.Typer(help="The active strategy: deploy, history, rollback.", no_args_is_help=True)


@app.command("active")
@reports_errors
def active_cmd() -> None:
    """The strategy in strategies/active/ with the parameters and sizing it was deployed with."""
    from lab.trading.deployment import active_strategy

    a = active_strategy(config())
    console.print(
        f"{a.name} {a.version} ({a.path.name}); parameters {a.params or 'defaults'}; sizing {a.sizing or 'as [sizing]'}",
        highlight=False,
        markup=False,
    )


@app.command("history")
@reports_errors
def history_cmd() -> None:
    """Every deployment, archiving and rollback, oldest first."""
    from lab.trading.deployment import history

    rows = history(config())
    if rows.empty:
        console.print("no deployments yet: the shipped strategies/active/ file is the active strategy")
        return
    rows["params"] = rows["params"].map(lambda p: json.dumps(p, separators=(",", ":"))[:50])
    print_frame(rows, title="strategy deployments")


@app.command("deploy")
@reports_errors
def deploy_cmd(
    strategy: str = typer.Argument(..., help="A strategy name (candidates/, archive/) or file"),
    params: str = typer.Option(None, help="Parameters as a JSON object", callback=json_object),
    sizing: str = typer.Option(None, help="fixed or kelly (default: [sizing] method)"),
) -> None:
    """Make a strategy the active one by hand (the active file goes to archive/ with its version). The
    promoter's rollout does this itself when a candidate completes every stage."""
    from lab.trading.deployment import deploy

    console.print(deploy(config(), strategy, json.loads(params) if params else None, sizing), highlight=False)


@app.command("rollback")
@reports_errors
def rollback_cmd(
    name: str = typer.Argument(
        None, help="Restore this strategy's newest archived version (default: the newest archived)"
    ),
    version: str = typer.Option(None, help="This version"),
) -> None:
    """Restore an archived version as the active strategy (the one active now is archived first)."""
    from lab.trading.deployment import rollback

    console.print(rollback(config(), name, version), highlight=False)
