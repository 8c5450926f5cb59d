"""Storing and loading candle series: validation gate, atomic Parquet write, metadata row in the DB."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from lab.core.clock import to_utc
from lab.core.config import LabConfig, load_config
from lab.core.errors import DataNotFoundError, DataValidationError
from lab.market.validate import ValidationReport, find_gaps, repair, validate
from lab.store.candles import (
    OHLCV,
    merge,
    publish_series,
    read_metadata,
    read_series,
    series_path,
    stage_series,
)
from lab.store.db import session_scope
from lab.store.models import CandleSeries, DataQualityEvent


@dataclass(frozen=True)
class StoreResult:
    exchange: str
    symbol: str
    timeframe: str
    added: int
    quarantined: int
    rows: int
    gaps: int
    missing_candles: int
    quarantine_file: str | None = None


def _log_issues(
    config: LabConfig,
    key: tuple[str, str, str],
    action: str,
    report: ValidationReport,
    extra: dict | None = None,
) -> None:
    with session_scope(config) as session:
        for issue in report.issues:
            first = issue.timestamps[0] if issue.timestamps and not pd.isna(issue.timestamps[0]) else None
            session.add(
                DataQualityEvent(
                    exchange=key[0],
                    symbol=key[1],
                    timeframe=key[2],
                    action=action,
                    issue=issue.kind,
                    count=issue.count,
                    first_ts=first.to_pydatetime() if first is not None else None,
                    detail={"timestamps": [str(t) for t in issue.timestamps], **(extra or {})},
                )
            )


def store_candles(
    config: LabConfig,
    exchange: str,
    symbol: str,
    timeframe: str,
    frame: pd.DataFrame,
    *,
    source: str,
    action: str,
    synthetic: bool = False,
    repair_bad: bool = False,
) -> StoreResult:
    """Validate and merge candles into the stored series. Invalid rows refuse the whole batch unless
    repair_bad, which quarantines them to data/quarantine/ and says so. Stored candles are never changed."""
    key = (exchange, symbol, timeframe)
    report = validate(frame, timeframe)
    quarantine_file = None
    if not report.ok:
        if not repair_bad:
            _log_issues(config, key, action, report, {"outcome": "refused"})
            raise DataValidationError(
                f"{exchange} {symbol} {timeframe} ({source}): refused, nothing stored "
                f"(use --repair to quarantine bad rows):\n{report.summary()}",
                report,
            )
        clean, bad = repair(frame, report)
        if len(bad):
            qdir = config.data_dir / "quarantine"
            qdir.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            qpath = qdir / f"{exchange}_{symbol.replace('/', '_')}_{timeframe}_{stamp}.csv"
            bad.to_csv(qpath)
            quarantine_file = str(qpath)
        _log_issues(config, key, "repair", report, {"outcome": "quarantined", "file": quarantine_file})
        frame = clean
    else:
        frame = frame[OHLCV].astype("float64").sort_index()

    path = series_path(config.candles_dir, exchange, symbol, timeframe)
    stored = read_series(path)
    meta = read_metadata(path) | {
        "exchange": exchange,
        "symbol": symbol,
        "timeframe": timeframe,
        "synthetic": str(synthetic).lower(),
        "source": source,
    }
    merged = merge(stored, frame)
    gaps = _write_and_record(config, key, merged, meta)
    return StoreResult(
        exchange,
        symbol,
        timeframe,
        added=len(merged) - len(stored),
        quarantined=report.bad_rows if not report.ok else 0,
        rows=len(merged),
        gaps=len(gaps),
        missing_candles=sum(g.missing for g in gaps),
        quarantine_file=quarantine_file,
    )


def _write_and_record(
    config: LabConfig, key: tuple[str, str, str], frame: pd.DataFrame, meta: dict[str, str]
) -> list:
    """Stage the series file, upsert its metadata row, and only once that committed put the file in
    place (a locked or failing database leaves the stored file as it was and no file behind);
    returns the gaps found."""
    exchange, symbol, timeframe = key
    path = series_path(config.candles_dir, exchange, symbol, timeframe)
    staged = stage_series(path, frame, meta)
    gaps = find_gaps(frame.index, timeframe)
    try:
        _record_series(config, key, path, frame, meta, gaps)
    except BaseException:
        staged.unlink(missing_ok=True)
        if not any(path.parent.iterdir()):
            path.parent.rmdir()  # a new series' folder, created for nothing
        raise
    publish_series(staged, path)
    return gaps


def _record_series(
    config: LabConfig,
    key: tuple[str, str, str],
    path: Path,
    frame: pd.DataFrame,
    meta: dict[str, str],
    gaps: list,
) -> None:
    exchange, symbol, timeframe = key
    with session_scope(config) as session:
        row = session.scalar(
            select(CandleSeries).filter_by(exchange=exchange, symbol=symbol, timeframe=timeframe)
        )
        if row is None:
            row = CandleSeries(exchange=exchange, symbol=symbol, timeframe=timeframe)
            session.add(row)
        row.path = str(path.relative_to(config.root)) if path.is_relative_to(config.root) else str(path)
        row.first_ts = frame.index[0].to_pydatetime() if len(frame) else None
        row.last_ts = frame.index[-1].to_pydatetime() if len(frame) else None
        row.rows, row.gaps = len(frame), len(gaps)
        row.missing_candles = sum(g.missing for g in gaps)
        row.synthetic, row.source = meta.get("synthetic") == "true", meta.get("source", "")[:256]


def replace_series(
    config: LabConfig, exchange: str, symbol: str, timeframe: str, frame: pd.DataFrame
) -> None:
    """Rewrite a stored series with a subset of itself (retention pruning), keeping its metadata."""
    path = series_path(config.candles_dir, exchange, symbol, timeframe)
    _write_and_record(config, (exchange, symbol, timeframe), frame, read_metadata(path))


def load(
    exchange: str,
    symbol: str,
    timeframe: str,
    start: str | datetime | None = None,
    end: str | datetime | None = None,
    *,
    config: LabConfig | None = None,
) -> pd.DataFrame:
    """Stored candles in [start, end) as a DataFrame indexed by UTC timestamp (open, high, low, close, volume)."""
    config = config or load_config()
    path = series_path(config.candles_dir, exchange, symbol, timeframe)
    if not path.exists():
        raise DataNotFoundError(
            f"no candles stored for {exchange} {symbol} {timeframe} (looked in {path}); "
            f"run `lab data sample`, `lab data fetch` or `lab data import`"
        )
    return read_series(path, to_utc(start), to_utc(end))


def last_timestamp(config: LabConfig, exchange: str, symbol: str, timeframe: str) -> pd.Timestamp | None:
    """The newest stored candle, read from the Parquet file (the source of truth)."""
    frame = read_series(series_path(config.candles_dir, exchange, symbol, timeframe))
    return frame.index[-1] if len(frame) else None


def list_series(config: LabConfig) -> pd.DataFrame:
    """What is stored: one row per series with span, rows and gaps."""
    with session_scope(config) as session:
        rows = session.scalars(
            select(CandleSeries).order_by(CandleSeries.exchange, CandleSeries.symbol, CandleSeries.timeframe)
        ).all()
        return pd.DataFrame(
            [
                {
                    "exchange": r.exchange,
                    "symbol": r.symbol,
                    "timeframe": r.timeframe,
                    "first": r.first_ts,
                    "last": r.last_ts,
                    "rows": r.rows,
                    "gaps": r.gaps,
                    "missing": r.missing_candles,
                    "synthetic": r.synthetic,
                }
                for r in rows
            ]
        )


def load_many(
    config: LabConfig, exchange: str, symbols: list[str], timeframe: str, start: Any = None, end: Any = None
) -> dict[str, pd.DataFrame]:
    """Stored candles for each symbol; a symbol with no candles in the period is a clear error."""
    out = {}
    for symbol in symbols:
        frame = load(exchange, symbol, timeframe, start, end, config=config)
        if frame.empty:
            raise DataNotFoundError(f"no {exchange} {symbol} {timeframe} candles between {start} and {end}")
        out[symbol] = frame
    return out
