"""`lab data ...`: fetch, import, sample, validate, resample, prune, list."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from lab.cli.common import config, console, print_frame, reports_errors
from lab.core.errors import DataValidationError, LabError
from lab.market import sample as sample_mod
from lab.market.importer import infer_key, read_file
from lab.market.repository import list_series, load, store_candles
from lab.market.resample import apply_retention, resample
from lab.market.validate import validate as validate_frame

app = typer.Typer(
    help="Market data: fetch, import, sample, validate, resample, prune, list.", no_args_is_help=True
)


@app.command()
@reports_errors
def fetch(
    symbols: list[str] = typer.Option(None, "--symbol", "-s", help="Symbols (default: market.symbols)"),
    timeframes: list[str] = typer.Option(
        None, "--timeframe", "-t", help="Timeframes (default: market.timeframes)"
    ),
    exchange: str = typer.Option(None, help="ccxt exchange id (default: market.exchange)"),
    repair: bool = typer.Option(
        False, "--repair", help="Quarantine invalid rows instead of refusing the batch"
    ),
) -> None:
    """Download OHLCV through ccxt, resuming after the last stored candle."""
    from lab.market.fetch import fetch_many, make_exchange  # ccxt takes ~0.4 s to import: only when fetching

    cfg = config()
    ex = make_exchange(exchange or cfg.market.exchange)
    results = fetch_many(
        cfg, ex, symbols or list(cfg.market.symbols), timeframes or list(cfg.market.timeframes), repair
    )
    print_frame(pd.DataFrame([r.__dict__ for r in results]), title=f"fetched from {ex.id}")


@app.command("import")
@reports_errors
def import_(
    files: list[Path] = typer.Argument(..., help="CSV, Parquet, or freqtrade feather/JSON candle files"),
    exchange: str = typer.Option(None),
    symbol: str = typer.Option(None),
    timeframe: str = typer.Option(None),
    repair: bool = typer.Option(
        False, "--repair", help="Quarantine invalid rows instead of refusing the file"
    ),
) -> None:
    """Import candle files (names like binance_ETH_BTC_5m.csv or BTC_USDT-5m.feather are understood)."""
    cfg = config()
    failures = 0
    for path in files:
        key = infer_key(path, exchange, symbol, timeframe)
        try:
            res = store_candles(
                cfg,
                key.exchange,
                key.symbol,
                key.timeframe,
                read_file(path),
                source=f"file:{path.name}",
                action="import",
                repair_bad=repair,
            )
        except DataValidationError as exc:
            console.print(f"[red]{path.name}[/]: {exc}")
            failures += 1
            continue
        note = (
            f", {res.quarantined} bad row(s) quarantined to {res.quarantine_file}" if res.quarantined else ""
        )
        console.print(
            f"{path.name}: {key.exchange} {key.symbol} {key.timeframe}: +{res.added} candles, "
            f"{res.rows} stored, {res.gaps} gap(s) ({res.missing_candles} missing){note}"
        )
    if failures:
        raise typer.Exit(1)


@app.command()
@reports_errors
def sample(
    days: int = typer.Option(None, help="Days of candles (default: sample.days)"),
    symbols: list[str] = typer.Option(None, "--symbol", "-s"),
    seed: int = typer.Option(None),
) -> None:
    """Generate seeded synthetic candles (exchange 'synthetic'): the offline default."""
    cfg = config()
    s = cfg.sample
    end = pd.Timestamp(s.end, tz="UTC")
    start = end - pd.Timedelta(days=days or s.days)
    for sym in symbols or list(s.symbols):
        frame = sample_mod.generate(sym, s.timeframe, start, end, seed if seed is not None else s.seed)
        res = store_candles(
            cfg,
            sample_mod.SYNTHETIC_EXCHANGE,
            sym,
            s.timeframe,
            frame,
            source=f"synthetic:seed={seed if seed is not None else s.seed}",
            action="sample",
            synthetic=True,
        )
        console.print(
            f"synthetic {sym} {s.timeframe}: {res.rows} candles ({start:%Y-%m-%d} → {end:%Y-%m-%d}), "
            f"{res.gaps} gap(s)"
        )


@app.command()
@reports_errors
def validate(
    file: Path = typer.Argument(None, help="Validate a file instead of stored series"),
    exchange: str = typer.Option(None),
    symbol: str = typer.Option(None),
    timeframe: str = typer.Option(None),
) -> None:
    """Check candles for NaN, bad prices, high<low, duplicates, order and gaps; exit 1 on bad rows."""
    cfg = config()
    if file is not None:
        key = infer_key(file, exchange, symbol, timeframe)
        targets = [(f"{file.name}", read_file(file), key.timeframe)]
    else:
        stored = list_series(cfg)
        if stored.empty:
            console.print("nothing stored yet: run `lab data sample`, `lab data fetch` or `lab data import`")
            return
        for col, val in (("exchange", exchange), ("symbol", symbol), ("timeframe", timeframe)):
            if val:
                stored = stored[stored[col] == val]
        targets = [
            (
                f"{r.exchange} {r.symbol} {r.timeframe}",
                load(r.exchange, r.symbol, r.timeframe, config=cfg),
                r.timeframe,
            )
            for r in stored.itertuples()
        ]
    bad = 0
    for name, frame, tf in targets:
        report = validate_frame(frame, tf)
        colour = "green" if report.ok else "red"
        console.print(f"[{colour}]{name}[/]: {report.summary()}", highlight=False)
        bad += not report.ok
    if bad:
        raise typer.Exit(1)


@app.command("resample")
@reports_errors
def resample_cmd(
    exchange: str = typer.Option(...),
    symbol: str = typer.Option(...),
    source: str = typer.Option("5m", "--from"),
    target: str = typer.Option("1h", "--to"),
) -> None:
    """Aggregate a stored series to a coarser timeframe and store it."""
    cfg = config()
    agg = resample(load(exchange, symbol, source, config=cfg), source, target)
    res = store_candles(cfg, exchange, symbol, target, agg, source=f"resample:{source}", action="resample")
    console.print(f"{exchange} {symbol} {source} → {target}: {res.rows} candles stored (+{res.added})")


@app.command()
@reports_errors
def prune(tiers: list[str] = typer.Option(["5m", "1h", "1d"], "--tier")) -> None:
    """Apply tiered retention (market.retention): aggregate to the next tier, then drop old candles."""
    cfg = config()
    unknown = [t for t in tiers if t not in cfg.market.retention]
    if unknown:
        raise LabError(
            f"--tier {', '.join(unknown)}: not a retention tier; market.retention has {', '.join(cfg.market.retention)}"
        )
    stored = list_series(cfg)
    for (exchange, symbol), _ in stored.groupby(["exchange", "symbol"]) if not stored.empty else []:
        for r in apply_retention(cfg, exchange, symbol, list(tiers)):
            console.print(
                f"{exchange} {symbol} {r.timeframe}: removed {r.removed} candle(s)"
                + (f" older than {r.kept_from:%Y-%m-%d %H:%M}" if r.kept_from is not None else " (kept all)")
            )


@app.command("list")
@reports_errors
def list_cmd() -> None:
    """What is stored: exchange, symbol, timeframe, first/last candle, rows, gaps."""
    stored = list_series(config())
    if stored.empty:
        console.print("nothing stored yet: run `lab data sample`, `lab data fetch` or `lab data import`")
        return
    print_frame(stored, title="stored candles")
