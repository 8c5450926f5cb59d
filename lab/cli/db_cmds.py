"""`lab db ...`: Alembic migrations."""

from __future__ import annotations

import typer

from lab.cli.common import config, console, reports_errors
from lab.store import db

app = typer.Typer(help="Database migrations (Alembic).", no_args_is_help=True)


@app.command()
@reports_errors
def upgrade(revision: str = typer.Argument("head")) -> None:
    """Upgrade the database schema (default: to head)."""
    url = config().db_url
    db.upgrade(url, revision)
    console.print(f"database at revision {db.current_revision(url)}")


@app.command()
@reports_errors
def downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. base or -1")) -> None:
    """Downgrade the database schema."""
    url = config().db_url
    db.downgrade(url, revision)
    console.print(f"database at revision {db.current_revision(url) or 'base (empty)'}")


@app.command()
@reports_errors
def current() -> None:
    """Show the current and the head revision."""
    url = config().db_url
    cur, head = db.current_revision(url), db.head_revision()
    console.print(
        f"current: {cur or 'none (empty database)'}  head: {head}"
        + ("" if cur == head else "  → run `lab db upgrade`")
    )
