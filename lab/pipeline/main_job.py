"""The main job behind `make run`: prepare sample data, validate it, run the research notebooks."""

from __future__ import annotations

import pandas as pd
from rich.console import Console

from lab.core.config import LabConfig
from lab.core.errors import DataValidationError
from lab.market import sample
from lab.market.repository import list_series, load, store_candles
from lab.market.validate import validate

console = Console()


def prepare_sample_data(config: LabConfig) -> pd.DataFrame:
    """Generate (idempotently) and validate the synthetic sample; returns the stored-series table."""
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
    return list_series(config)


def run_main_job(config: LabConfig) -> None:
    console.rule("[bold]Trading Lab: main job")
    console.print("1. sample data (synthetic, offline)")
    stored = prepare_sample_data(config)
    console.print(stored.to_string(index=False))
