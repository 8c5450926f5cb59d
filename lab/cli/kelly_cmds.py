"""`lab kelly STRATEGY`: the strategy's trade distribution, f* with its bootstrap band, and the growth
each fraction of Kelly would have had (the Kelly validation notebook shows the full study)."""

from __future__ import annotations

import math

import pandas as pd
import typer

from lab.cli.common import console, print_frame, reports_errors, utc_time
from lab.core.errors import LabError


def parse_fractions(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise LabError(
            f"--fractions must be comma-separated numbers, e.g. 0.25,0.5,1; got {text!r}"
        ) from None
    bad = [v for v in values if not (0 < v < 2 and math.isfinite(v))]
    if not values or bad:
        raise LabError(f"--fractions are multiples of f* in (0, 2); got {text!r}")
    return values


@reports_errors
def kelly_cmd(
    strategy: str = typer.Argument(..., help="Strategy name (searched in strategies/) or a .py file"),
    symbols: list[str] = typer.Option(None, "--symbols", "-s", help="Symbols (default: sample.symbols)"),
    exchange: str = typer.Option("synthetic", help="Exchange the candles are stored under"),
    start: str = typer.Option(None, help="UTC start, e.g. 2025-11-01", callback=utc_time),
    end: str = typer.Option(None, help="UTC end (exclusive)", callback=utc_time),
    fractions: str = typer.Option("0.25,0.5,1", help="Multiples of f* to compare"),
    n_sims: int = typer.Option(1000, min=100, max=100_000, help="Monte Carlo paths per fraction"),
    seed: int = typer.Option(0),
) -> None:
    """Kelly sizing of a strategy from its own trades: f*, its confidence band, growth per fraction."""
    from lab.backtest import kelly_notebook as api
    from lab.cli.common import config
    from lab.research.kelly_study import study

    multiples = parse_fractions(fractions)
    cfg = config()
    params = api.validate_parameters(
        strategy=strategy,
        exchange=exchange,
        symbols=symbols or list(cfg.sample.symbols),
        start=start,
        end=end,
        fractions=list(multiples),
        n_sims=n_sims,
        seed=seed,
    )
    result = api.kelly_backtest(params, record=False)
    k = study(
        result.extra["signal_record"]["return"],
        result.extra["sizing"],
        fractions=multiples,
        n_sims=n_sims,
        seed=seed,
        rule=result.extra["sizing_config"].rule(),
    )
    print_frame(
        k.summary_table(), title=f"{result.strategy.name}: signal record of {', '.join(result.symbols)}"
    )
    print_frame(k.fraction_table, title="growth per trade at each multiple of f*")
    if not k.monte_carlo_table.empty:
        print_frame(
            pd.DataFrame(k.monte_carlo_table),
            title="Monte Carlo vs theory" + (" (illustrative edge)" if k.illustrative else ""),
        )
    print_frame(k.sizing_table(), title="the Kelly sizer on this period")
    console.print(k.verdict)
