"""`lab report compare RUN RUN…`: the index's comparison of backtest runs as a page of its own;
`lab report index`: rewrite reports/index.html from the run history."""

from __future__ import annotations

import typer

from lab.cli.common import config, console, reports_errors

app = typer.Typer(help="Reports: the run index and comparisons of backtest runs.", no_args_is_help=True)


@app.command("compare")
@reports_errors
def compare_cmd(
    runs: list[str] = typer.Argument(
        ..., help="Two or more run ids (or unique prefixes), as in reports/index.html"
    ),
) -> None:
    """Write reports/compare-….html: metrics side by side and equity curves overlaid (works offline)."""
    from lab.pipeline.index import comparison_page

    console.print(f"comparison written: {comparison_page(config(), runs)}")


@app.command("index")
@reports_errors
def index_cmd() -> None:
    """Rewrite reports/index.html from the run history."""
    from lab.pipeline.index import write_index

    console.print(f"index written: {write_index(config())}")
