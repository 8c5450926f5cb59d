"""One error path for the whole `lab` command: any failure becomes one line on stderr naming what is
wrong and what to do, and a non-zero exit; the traceback goes to data/logs/cli.log, and to the terminal
only with `lab --debug …`. Library errors a person meets (a file that is not a database, an unknown
migration, a locked database, a damaged Parquet file, a permission problem) are translated here."""

from __future__ import annotations

import os
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from lab.core.errors import LabError

DEBUG_ENV = "LAB_DEBUG"


def describe(exc: BaseException) -> str:
    """One line (or one short paragraph) a person can act on."""
    if isinstance(exc, LabError):
        return str(exc)
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    module = type(exc).__module__
    if module.startswith("sqlalchemy"):
        orig = getattr(exc, "orig", None)
        detail = str(orig).strip().splitlines()[0] if orig is not None else text
        low = detail.lower()
        if "file is not a database" in low or "file is encrypted" in low:
            return f"the database file is not a SQLite database ({detail}): restore a backup or move it away, then `lab db upgrade`"
        if "database is locked" in low:
            return "the database is locked by another writer: wait for it to finish (or stop the other process) and retry"
        if "no such table" in low or "no such column" in low or "does not exist" in low:
            return f"the database schema is incomplete ({detail}): run `lab db upgrade`, or restore a backup if a table was dropped"
        if "readonly database" in low or "read-only" in low:
            return f"the database cannot be written ({detail}): check the permissions of the data directory"
        if "unable to open database file" in low:
            return f"the database file cannot be opened ({detail}): check that paths.data_dir is a writable directory"
        return f"database error: {detail}"
    if module.startswith("alembic"):
        return f"database migration problem: {text} (the database may come from a newer lab: upgrade the lab, or restore a backup)"
    if module.startswith("pyarrow"):
        return f"a candle file is damaged or not Parquet ({text}): re-import or re-fetch it (`lab data list` shows the series)"
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename or text}: check the owner and mode of that path"
    if isinstance(exc, NotADirectoryError | FileExistsError):
        return f"a file stands where a directory is expected: {exc.filename or text} (check paths.data_dir and paths.reports_dir)"
    if isinstance(exc, IsADirectoryError):
        return f"a directory stands where a file is expected: {exc.filename or text}"
    if isinstance(exc, OSError):
        return f"{name}: {text}" + (f" ({exc.filename})" if getattr(exc, "filename", None) else "")
    return f"unexpected {name}: {text} (the traceback is in data/logs/cli.log; run with --debug to see it)"


def log_traceback(exc: BaseException) -> None:
    """Append the traceback to data/logs/cli.log (never the terminal unless --debug)."""
    try:
        from lab.core.config import load_config

        logs = load_config().data_dir / "logs"
    except Exception:  # the config itself may be what failed
        logs = Path("data") / "logs"
    try:
        logs.mkdir(parents=True, exist_ok=True)
        with (logs / "cli.log").open("a") as out:
            out.write(f"--- {datetime.now(UTC).isoformat()} {' '.join(sys.argv)}\n")
            out.write("".join(traceback.format_exception(exc)))
    except OSError:
        pass


class LabGroup(TyperGroup):
    """The top-level command group: every command's failure goes through describe()."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, SystemExit):
            raise
        except Exception as exc:
            if type(exc).__module__.startswith(("typer", "click")):  # usage errors: the command line's own
                raise
            self._report(exc)
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None

    @staticmethod
    def _report(exc: Exception) -> None:
        log_traceback(exc)
        if os.environ.get(DEBUG_ENV):
            traceback.print_exception(exc)
        typer.echo(f"error: {describe(exc)}", err=True)
        raise typer.Exit(1) from None
