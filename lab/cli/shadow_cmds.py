"""`lab shadows add|retire|list` (the shadow registry) and `lab promote [--dry-run]` (the promoter)."""

from __future__ import annotations

import json

import pandas as pd
import typer

from lab.cli.common import config, console, json_object, print_frame, reports_errors

app = typer.Typer(help="Shadow strategies: add, retire, list.", no_args_is_help=True)


@app.command("list")
@reports_errors
def list_cmd() -> None:
    """Every shadow: strategy, status (active, retired, disabled with the reason), trades, P&L."""
    from lab.trading.shadows import shadow_table

    table = shadow_table(config())
    if table.empty:
        console.print("no shadows yet: `lab shadows add NAME --strategy S`, or [shadows.*] in lab.toml")
        return
    table["params"] = table["params"].map(lambda p: json.dumps(p, separators=(",", ":"))[:60])
    print_frame(table, title="shadows")


@app.command("add")
@reports_errors
def add_cmd(
    name: str = typer.Argument(..., help="The shadow's name (its book is shadow:NAME)"),
    strategy: str = typer.Option(..., help="Strategy name (strategies/) or file"),
    params: str = typer.Option(None, help="Parameters as a JSON object", callback=json_object),
    sizing: str = typer.Option(None, help="fixed or kelly (default: [sizing] method)"),
) -> None:
    """Trade a candidate in the shadows from the next engine start on (its parameters are checked now)."""
    from lab.trading.shadows import add_shadow

    console.print(add_shadow(config(), name, strategy, json.loads(params) if params else {}, sizing))


@app.command("retire")
@reports_errors
def retire_cmd(
    name: str = typer.Argument(...), reason: str = typer.Option("retired by the operator", help="Why")
) -> None:
    """Stop trading a shadow (its record stays; it still counts in the deflated Sharpe's N)."""
    from lab.trading.shadows import retire_shadow

    console.print(retire_shadow(config(), name, reason))


@reports_errors
def promote_cmd(
    dry_run: bool = typer.Option(False, "--dry-run", help="Evaluate and record, change nothing"),
    active: str = typer.Option("paper", help="The active book the shadows are compared with"),
) -> None:
    """Compare every active shadow with the active strategy on the same days (PSR, minimum track record,
    paired t-test, deflated Sharpe with N = every candidate evaluated); every evaluation is recorded."""
    from lab.research.promotions import evaluate_shadows

    cfg = config()
    results = evaluate_shadows(cfg, active, dry_run=dry_run)
    if not results:
        console.print("no active shadows to evaluate")
        return
    frame = pd.DataFrame(
        [
            {
                k: r.as_dict()[k]
                for k in (
                    "shadow",
                    "days",
                    "psr",
                    "min_track_days",
                    "paired_p",
                    "dsr",
                    "n_trials",
                    "decision",
                )
            }
            for r in results
        ]
    )
    print_frame(frame, title=f"promoter{' (dry run)' if dry_run else ''}: shadows against {active}")
    for r in results:
        colour = "green" if r.decision == "promote" else "yellow"
        console.print(f"  [{colour}]{r.shadow}[/]: {r.reason}")
    if not dry_run and any(r.decision == "promote" for r in results):
        console.print(
            "  the staged rollout of a promoted shadow is not automated yet: promote by hand with "
            "`lab shadows` and the strategy files (see the issue notes)"
        )
