"""`lab backtest STRATEGY ...`: one backtest (or a sweep) printed as a metrics table."""

from __future__ import annotations

import json

import pandas as pd
import typer

from lab.cli.common import config, console, json_object, print_frame, reports_errors, utc_time


@reports_errors
def backtest_cmd(
    strategy: str = typer.Argument(..., help="Strategy name (searched in strategies/) or a .py file"),
    symbols: list[str] = typer.Option(None, "--symbols", "-s", help="Symbols (default: sample.symbols)"),
    exchange: str = typer.Option("synthetic", help="Exchange the candles are stored under"),
    timeframe: str = typer.Option(None, help="Must match the strategy's timeframe"),
    start: str = typer.Option(None, help="UTC start, e.g. 2025-11-01", callback=utc_time),
    end: str = typer.Option(None, help="UTC end (exclusive)", callback=utc_time),
    params: str = typer.Option(None, help="Parameters as JSON, e.g. '{\"fast\": 12}'", callback=json_object),
    sweep_grid: bool = typer.Option(
        False, "--sweep", help="Sweep the declared parameter ranges (first symbol)"
    ),
    limit: int = typer.Option(
        1000, min=1, help="Most combinations a sweep runs (a seeded sample of the grid)"
    ),
) -> None:
    """Backtest a strategy on stored candles and record the experiment."""
    from lab.backtest.records import save_experiment
    from lab.backtest.run import execution_model, run_backtest
    from lab.backtest.sweep import sweep
    from lab.market.repository import load_many
    from lab.strategy.loader import load_configured

    cfg = config()
    symbols = symbols or list(cfg.sample.symbols)
    overrides = json.loads(params) if params else None
    if sweep_grid:
        loaded = load_configured(cfg, strategy)
        grid = loaded.cls.Params.grid(limit=limit)
        candles = load_many(cfg, exchange, symbols[:1], loaded.cls.timeframe, start, end)[symbols[0]]
        result = sweep(
            loaded,
            candles,
            execution_model(cfg, symbols[:1]),
            symbols[0],
            grid,
            cfg.backtest.annualization_days,
        )
        print_frame(result.table.head(15), title=f"sweep of {len(grid)} combinations, best first")
        console.print(
            f"deflated Sharpe ratio of the best (N = {result.n_trials} trials): {result.deflated_sharpe:.3f}"
        )
        best = run_backtest(
            cfg,
            strategy,
            symbols[:1],
            exchange=exchange,
            start=start,
            end=end,
            params=result.best.model_dump(),
            record=False,
        )
        save_experiment(
            cfg,
            best,
            kind="sweep",
            n_trials=result.n_trials,
            extra_metrics={"deflated_sharpe": result.deflated_sharpe},
        )
        return
    result = run_backtest(
        cfg, strategy, symbols, exchange=exchange, timeframe=timeframe, start=start, end=end, params=overrides
    )
    frame = pd.DataFrame({"metric": list(result.metrics), "value": list(result.metrics.values())})
    print_frame(
        frame,
        title=f"{result.strategy.name} {result.strategy.version} on {', '.join(symbols)} "
        f"({result.equity.index[0]:%Y-%m-%d} → {result.equity.index[-1]:%Y-%m-%d})",
    )
    console.print(f"experiment #{result.extra['experiment_id']}, trades_hash {result.trades_hash[:16]}")
