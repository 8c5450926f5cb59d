"""The main job behind `make run`: prepare sample data, validate it, run the research notebooks."""

from __future__ import annotations

import pandas as pd
from rich.console import Console

from lab.core.config import LabConfig
from lab.core.errors import DataValidationError
from lab.market import sample
from lab.market.repository import load, store_candles
from lab.market.validate import validate

console = Console()


def prepare_sample_data(config: LabConfig) -> None:
    """Generate (idempotently: stored candles are never rewritten) and validate the synthetic sample."""
    s = config.sample
    end = pd.Timestamp(s.end, tz="UTC")
    start = end - pd.Timedelta(days=s.days)
    for symbol in s.symbols:
        frame = sample.generate(symbol, s.timeframe, start, end, s.seed)
        store_candles(
            config,
            sample.SYNTHETIC_EXCHANGE,
            symbol,
            s.timeframe,
            frame,
            source=f"synthetic:seed={s.seed}",
            action="sample",
            synthetic=True,
        )
        report = validate(load(sample.SYNTHETIC_EXCHANGE, symbol, s.timeframe, config=config), s.timeframe)
        if not report.ok:
            raise DataValidationError(
                f"stored sample {symbol} failed validation:\n{report.summary()}", report
            )
        console.print(
            f"  sample {symbol} {s.timeframe}: {report.rows} candles valid, "
            f"{len(report.gaps)} gap(s) ({report.missing_candles} missing candles)"
        )


def run_main_job(config: LabConfig) -> bool:
    """Sample data, then every notebook in pipeline.main_notebooks; True when all succeeded."""
    from lab.pipeline.index import write_index
    from lab.pipeline.runner import run_notebook

    console.rule("[bold]Trading Lab: main job")
    console.print("1. sample data (synthetic, offline)")
    prepare_sample_data(config)
    console.print(f"2. research notebooks ({', '.join(config.pipeline.main_notebooks)})")
    ok = True
    for name in config.pipeline.main_notebooks:
        outcome = run_notebook(config, name, trigger="main")
        colour = "green" if outcome.status == "succeeded" else "red"
        console.print(
            f"  [{colour}]{name}: {outcome.status}[/] in {outcome.duration_s:.1f} s → {outcome.output_html}"
        )
        if outcome.error:
            console.print(f"    error: {outcome.error}")
            ok = False
    index = write_index(config)
    console.rule()
    console.print(f"Reports: open [bold]{index}[/] (every run, newest first; each report works offline)")
    return ok
