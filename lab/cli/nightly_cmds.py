"""`lab nightly [--dry-run] [--replay CYCLE]` (one night of the orchestrator) and `lab thoughts [CYCLE]
[--search TEXT]` (the thought spool in the terminal)."""

from __future__ import annotations

import json

import typer

from lab.cli.common import config, console, print_frame, reports_errors


@reports_errors
def nightly_cmd(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Run every stage and gate; register no shadow, deploy nothing"
    ),
    replay: int = typer.Option(None, "--replay", help="Answer from this past cycle's recorded responses"),
    no_tools: bool = typer.Option(False, "--no-tools", help="Analysis without tool calls"),
) -> None:
    """One nightly cycle: context -> analysis -> decision -> (candidate -> gates -> shadow), all in the spool.
    With ANTHROPIC_API_KEY set the anthropic SDK answers, otherwise the offline policy."""
    from lab.orchestrator.nightly import database, run_nightly
    from lab.store import spool

    cfg = config()
    result = run_nightly(cfg, dry_run=dry_run, replay=replay, tools=not no_tools)
    row = spool.cycle(database(cfg), result.cycle_id) or {}
    console.print(
        f"cycle {result.cycle_id} ({row.get('provider')}{', dry run' if dry_run else ''}): {result.status}, "
        f"{result.decision} in {result.duration_s:.1f} s, {row.get('input_tokens', 0):,}+{row.get('output_tokens', 0):,} "
        f"tokens, ${row.get('cost', 0.0):.4f}",
        highlight=False,
    )
    console.print(f"  {result.reason}", highlight=False)
    _candidates(cfg, result.cycle_id)
    console.print(f"the spool: lab thoughts {result.cycle_id}", highlight=False)
    if result.status != "completed":
        raise typer.Exit(1)


def _candidates(cfg, cycle_id: int) -> None:
    from lab.orchestrator.nightly import database
    from lab.store import spool

    for c in spool.candidates(database(cfg), cycle_id).to_dict("records"):
        console.print(
            f"  candidate {c['name']} {c['version']} (parent {c['parent']}): {c['status']}: {c['reason']}",
            highlight=False,
        )
        for g in c["gates"]:
            console.print(
                f"    {'pass' if g['passed'] else 'FAIL'} {g['gate']}: {g['detail']}", highlight=False
            )


@reports_errors
def thoughts_cmd(
    cycle: int = typer.Argument(None, help="A cycle's id: its stages in order, full responses and errors"),
    search: str = typer.Option(None, "--search", help="Full-text search across every thought"),
    limit: int = typer.Option(30, help="Rows to list"),
) -> None:
    """Browse the thought spool: the cycles, one cycle in full, or a search."""
    from lab.core.errors import LabError
    from lab.orchestrator.nightly import database
    from lab.store import spool

    cfg = config()
    db = database(cfg)
    if search:
        hits = spool.search(db, search, limit)
        if hits.empty:
            console.print(f"no thought matches {search!r}", highlight=False)
            return
        print_frame(
            hits[["cycle_id", "seq", "stage", "provider", "snippet"]], title=f"thoughts matching {search!r}"
        )
        return
    if cycle is None:
        frame = spool.cycles(db, limit)
        if frame.empty:
            console.print("no cycles yet: lab nightly")
            return
        frame["reason"] = frame["reason"].str.slice(0, 70)
        print_frame(frame.drop(columns=["dry_run"]), title="nightly cycles (newest first)")
        return
    row = spool.cycle(db, cycle)
    if row is None:
        raise LabError(f"no cycle {cycle} (lab thoughts lists them)")
    console.print(
        f"cycle {cycle}: {row['provider']}, {row['status']}, {row['decision']}, started {row['started_at']}, "
        f"{row['duration_s']:.1f} s, ${row['cost']:.4f}\n  {row['reason']}",
        highlight=False,
    )
    for t in spool.thoughts(db, cycle).to_dict("records"):
        head = f"[{t['seq']}] {t['stage']} · {t['provider']} {t['model']} · attempt {t['attempt']} · {t['input_tokens']}+{t['output_tokens']} tokens · ${t['cost']:.4f} · {t['latency_s']:.2f} s"
        console.rule(head)
        if t["error"]:
            console.print(f"error: {t['error']}", style="red", highlight=False)
        if t["raw_text"]:
            console.print(t["raw_text"], highlight=False, markup=False)
        if t["parsed"] and t["stage"] != "tool":
            console.print(
                "parsed: " + json.dumps(t["parsed"])[:400], style="dim", highlight=False, markup=False
            )
    notes = spool.observations(db, cycle)
    if notes:
        console.rule("observations")
        for n in notes:
            console.print(f"- {n}", highlight=False, markup=False)
    _candidates(cfg, cycle)
