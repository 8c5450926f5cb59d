"""Resampling to coarser timeframes and tiered retention of stored candles."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from lab.core.config import LabConfig
from lab.core.errors import LabError
from lab.core.timeframes import pandas_freq, timeframe_delta, timeframe_ms
from lab.market.repository import replace_series, store_candles
from lab.store.candles import read_metadata, read_series, series_path

AGG = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


def resample(frame: pd.DataFrame, source_tf: str, target_tf: str) -> pd.DataFrame:
    """Aggregate candles to a coarser timeframe. Bins are left-labelled and left-closed (ccxt's
    convention); bins with no candle are dropped, and so is a trailing bin that is still forming."""
    src, dst = timeframe_ms(source_tf), timeframe_ms(target_tf)
    if dst <= src or dst % src:
        raise LabError(
            f"cannot resample {source_tf} to {target_tf}: the target must be a multiple of the source"
        )
    if frame.empty:
        return frame
    # Bins anchored at the Unix epoch, as exchanges do; daily bins are anchored at midnight UTC anyway.
    origin = "epoch" if dst < 86_400_000 else "start_day"
    out = frame.resample(pandas_freq(target_tf), label="left", closed="left", origin=origin).agg(AGG)
    out = out.dropna(subset=["open"])
    last_bin = out.index[-1]
    if frame.index[-1] + timeframe_delta(source_tf) < last_bin + timeframe_delta(target_tf):
        out = out.iloc[:-1]
    return out


@dataclass(frozen=True)
class PruneResult:
    timeframe: str
    kept_from: pd.Timestamp | None
    removed: int


def apply_retention(config: LabConfig, exchange: str, symbol: str, tiers: list[str]) -> list[PruneResult]:
    """For each tier (fine to coarse): aggregate into the next tier, then drop candles older than the
    tier's retention. Aggregation first means nothing is pruned that the coarser tier does not hold."""
    retention = config.market.retention
    results = []
    for fine, coarse in zip(tiers, [*tiers[1:], None], strict=True):
        path = series_path(config.candles_dir, exchange, symbol, fine)
        frame = read_series(path)
        if frame.empty:
            continue
        meta = read_metadata(path)
        if coarse is not None:
            agg = resample(frame, fine, coarse)
            store_candles(
                config,
                exchange,
                symbol,
                coarse,
                agg,
                source=f"resample:{fine}",
                action="resample",
                synthetic=meta.get("synthetic") == "true",
            )
        days = retention.get(fine, 0)
        if days <= 0:
            results.append(PruneResult(fine, None, 0))
            continue
        cutoff = frame.index[-1] - pd.Timedelta(days=days)
        kept = frame.loc[frame.index >= cutoff]
        if len(kept) < len(frame):
            replace_series(config, exchange, symbol, fine, kept)
        results.append(PruneResult(fine, cutoff, len(frame) - len(kept)))
    return results
