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

console = Console()
err_console = Console(stderr=True)
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
    for column in frame.columns:
        table.add_column(str(column), justify="right" if pd.api.types.is_numeric_dtype(frame[column]) else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*[_fmt(v) for v in row])
    console.print(table)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.2f}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)
