"""`lab stats`: the truth benchmarks and each analysis module's output; `lab stats modules …`: the
modules' lifecycle (list, validate, deploy, rollback); `lab stats schema`: what modules can read."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer

from lab.cli.common import config, console, print_frame, reports_errors

app = typer.Typer(
    help="Truth benchmarks and analysis modules (read-only statistics about the trading record).",
    invoke_without_command=True,
    no_args_is_help=False,
)
modules_app = typer.Typer(help="Analysis modules in statistics/active: list, validate, deploy, rollback.")
app.add_typer(modules_app, name="modules")


@app.callback()
@reports_errors
def stats(
    ctx: typer.Context,
    run: bool = typer.Option(
        True, "--run/--no-run", help="Run the active modules now (else show their last stored output)"
    ),
) -> None:
    """Print the truth benchmarks and each active module's latest output."""
    if ctx.invoked_subcommand is not None:
        return
    from lab.research import modules as m
    from lab.research.truth import benchmarks_frame, truth_benchmarks
    from lab.store.db import ensure_schema, readonly_engine

    cfg = config()
    ensure_schema(cfg.db_url)
    bench = truth_benchmarks(readonly_engine(cfg.db_url))
    frame = benchmarks_frame(bench)
    if frame.empty:
        console.print("truth benchmarks: no engine trades recorded yet")
    else:
        print_frame(
            frame.T.reset_index().rename(columns={"index": "benchmark"}),
            title="truth benchmarks (closed trades, net of fees)",
        )
    act = bench["activity"]
    console.print(
        f"activity as of {act['as_of']}: scans {act['scans']}, entry signals {act['signals']}, last signal "
        f"{act['last_signal'] or 'never'}"
        + (
            f" ({act['hours_since_last_signal']:.1f} h before)"
            if act["hours_since_last_signal"] is not None
            else ""
        )
    )
    if run:
        results = m.run_active(cfg)
        for name, r in results.items():
            console.print(
                f"[bold]{name}[/] ({r.isolation}, {r.seconds:.1f} s): "
                + ("ok" if r.ok else f"[red]{r.reason}[/]"),
                highlight=False,
            )
    for name, latest in m.latest_outputs(cfg).items():
        console.rule(f"{name} {latest['version']} — {latest['run_at']}")
        console.print(
            json.dumps(latest["output"], indent=1)[:6000] if latest["ok"] else f"failed: {latest['error']}",
            highlight=False,
        )


@app.command("schema")
def schema_cmd() -> None:
    """The database schema as analysis modules see it (generated from the models)."""
    from lab.research.schema import schema_text

    console.print(schema_text(), highlight=False)


@modules_app.command("list")
@reports_errors
def list_cmd() -> None:
    """Active modules with version, parent version and hash; archived versions beside them."""
    from lab.research import modules as m

    cfg = config()
    rows = [
        {
            "module": i.name,
            "version": i.version,
            "parent": i.parent_version or "",
            "hash": i.code_hash[:12],
            "archived versions": ", ".join(a.version for a in m.archived_versions(cfg, i.name)),
        }
        for i in m.active_modules(cfg)
    ]
    if not rows:
        console.print("no active modules")
        return
    print_frame(pd.DataFrame(rows), title=f"analysis modules in {cfg.statistics_dir / 'active'}")


@modules_app.command("validate")
@reports_errors
def validate_cmd(path: Path = typer.Argument(..., help="A module file")) -> None:
    """Screen the module and run it in the sandbox on a seeded copy of the schema."""
    from lab.research import modules as m

    r = m.validate(config(), path)
    console.print(
        f"{path.name}: valid ({r.isolation}, {r.seconds:.1f} s); output keys: {', '.join(sorted(r.value or {}))}"
    )


@modules_app.command("deploy")
@reports_errors
def deploy_cmd(path: Path = typer.Argument(..., help="A module file to make active")) -> None:
    """Validate, archive the current version of the same name, make this one active."""
    from lab.research import modules as m

    info = m.deploy(config(), path)
    console.print(
        f"deployed {info.name} {info.version} (parent {info.parent_version or 'none'}, hash {info.code_hash[:12]})"
    )


@modules_app.command("rollback")
@reports_errors
def rollback_cmd(
    name: str = typer.Argument(..., help="Module NAME"),
    version: str = typer.Option(None, help="Archived version to restore (default: the newest archived)"),
) -> None:
    """Restore an archived version as the active module (the current one is archived)."""
    from lab.research import modules as m

    info = m.rollback(config(), name, version)
    console.print(f"restored {info.name} {info.version} (hash {info.code_hash[:12]}) as the active module")
