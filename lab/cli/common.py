"""Shared CLI plumbing: configuration loading and error reporting without stack traces."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from lab.core.config import LabConfig, load_config
from lab.core.errors import LabError

# soft_wrap: messages stay one line (greppable, copyable); tables still fit the terminal.
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])


def config() -> LabConfig:
    return load_config()


def reports_errors(func: F) -> F:
    """Turn a LabError into a one-paragraph message and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LabError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def print_frame(frame: pd.DataFrame, title: str | None = None) -> None:
    """Render a DataFrame as a rich table."""
    table = Table(title=title, show_lines=False)
    cells = [[_fmt(v) for v in row] for row in frame.itertuples(index=False)]
    widths = [max([len(str(c)), *(len(r[i]) for r in cells)]) for i, c in enumerate(frame.columns)]
    for column, width in zip(frame.columns, widths, strict=True):
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        table.add_column(str(column), justify="right" if numeric else "left", no_wrap=True, min_width=width)
    for row in cells:
        table.add_row(*row)
    # Never truncate a symbol or a number: grow past an 80-column pipe rather than cut cells (rich
    # squeezes the narrowest columns to nothing first when the table is wider than the console).
    needed, before = sum(widths) + 3 * len(widths) + 1, console.width
    console.width = max(before, needed)
    try:
        console.print(table)
    finally:
        console.width = before


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.2f}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)


def utc_time(value: str | None) -> str | None:
    """A --start/--end value: checked to be a date or time pandas understands (read as UTC)."""
    if value is None:
        return None
    try:
        pd.Timestamp(value)
    except (ValueError, TypeError):
        raise typer.BadParameter(
            f"{value!r} is not a date or time; use e.g. 2025-11-01 or '2025-11-01 12:00'"
        ) from None
    return value


def json_object(value: str | None) -> str | None:
    """A --params value: a JSON object of parameter names to values."""
    if value is None:
        return None
    import json

    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(
            f"not JSON ({exc.msg} at character {exc.pos}); e.g. '{{\"fast\": 12}}'"
        ) from None
    if not isinstance(parsed, dict):
        raise typer.BadParameter(
            f"must be a JSON object of parameter names to values, got {type(parsed).__name__}"
        )
    return value


def one_of(*allowed: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in allowed:
            raise typer.BadParameter(f"{value!r} is not one of: {', '.join(allowed)}")
        return value

    return check
