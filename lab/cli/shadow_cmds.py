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


def promote(cfg, active: str = "paper", dry_run: bool = False) -> tuple[list, str]:
    """The promoter's evaluations (recorded) and, unless a dry run, the rollout of the best promoted
    shadow; returns the evaluations and what happened, in words."""
    from lab.core.errors import LabError
    from lab.research.promotions import evaluate_shadows
    from lab.store.equity import difference_sigma
    from lab.trading.rollout_engine import start_rollout

    results = evaluate_shadows(cfg, active, dry_run=dry_run)
    winners = sorted((r for r in results if r.decision == "promote"), key=lambda r: -r.dsr)
    if not winners:
        return results, f"{len(results)} shadow(s) evaluated, none promoted"
    if dry_run:
        return results, f"{winners[0].shadow} would be promoted (dry run: nothing started)"
    best = winners[0]
    try:
        return results, start_rollout(cfg, best.shadow, active, difference_sigma(cfg, best.shadow, active))
    except LabError as exc:
        return results, f"{best.shadow} not rolled out: {exc}"


def promote_task(cfg) -> str:
    """`task = "promote"` in a [schedule.*] entry."""
    return promote(cfg)[1]


@reports_errors
def promote_cmd(
    dry_run: bool = typer.Option(False, "--dry-run", help="Evaluate and record, change nothing"),
    active: str = typer.Option("paper", help="The active book the shadows are compared with"),
) -> None:
    """Compare every active shadow with the active strategy on the same days (PSR, minimum track record,
    paired t-test, deflated Sharpe with N = every candidate evaluated); every evaluation is recorded;
    without --dry-run the best promoted shadow's staged rollout starts."""
    results, said = promote(config(), active, dry_run)
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
    console.print(f"  {said}")


@reports_errors
def rollout_cmd() -> None:
    """The rollouts: candidate, stage, status, and every event with its reason."""
    from sqlalchemy import select

    from lab.store.db import session_scope
    from lab.store.models import Rollout, RolloutEvent

    with session_scope(config()) as s:
        rows = s.scalars(select(Rollout).order_by(Rollout.id)).all()
        if not rows:
            console.print("no rollout yet: `lab promote` starts one when a shadow passes every test")
            return
        for r in rows:
            console.print(
                f"[bold]rollout #{r.id}[/] {r.candidate} in {r.book} against {r.previous}: {r.status} "
                f"(stage {r.state.get('stage', 0) + 1}) {r.state.get('reason', '')}"
            )
            for e in s.scalars(
                select(RolloutEvent).where(RolloutEvent.rollout_id == r.id).order_by(RolloutEvent.id)
            ):
                console.print(f"  {e.day} {e.kind:11s} share {e.share:.0%}  {e.detail}")
