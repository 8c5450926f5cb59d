"""Candle validation: every bad row is found and named by its timestamp; gaps are reported, not fixed."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lab.core.errors import DataValidationError
from lab.core.timeframes import timeframe_delta, timeframe_ms
from lab.store.candles import OHLCV

PRICES = ["open", "high", "low", "close"]
_SHOWN = 10


@dataclass(frozen=True)
class Issue:
    kind: str
    count: int
    timestamps: tuple[pd.Timestamp, ...]  # the first few offending rows

    def describe(self) -> str:
        shown = ", ".join(t.isoformat() if not pd.isna(t) else "NaT" for t in self.timestamps)
        more = f" (+{self.count - len(self.timestamps)} more)" if self.count > len(self.timestamps) else ""
        return f"{self.kind}: {self.count} row(s) at {shown}{more}"


@dataclass(frozen=True)
class Gap:
    after: pd.Timestamp
    before: pd.Timestamp
    missing: int  # candles missing between the two


@dataclass
class ValidationReport:
    rows: int
    issues: list[Issue] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    bad_mask: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def bad_rows(self) -> int:
        return int(self.bad_mask.sum())

    @property
    def missing_candles(self) -> int:
        return sum(g.missing for g in self.gaps)

    def summary(self) -> str:
        lines = [
            f"{self.rows} rows, {len(self.issues)} issue type(s), {len(self.gaps)} gap(s) "
            f"({self.missing_candles} missing candles)"
        ]
        lines += ["  " + issue.describe() for issue in self.issues]
        lines += [
            f"  gap: {g.missing} candle(s) missing after {g.after.isoformat()}" for g in self.gaps[:_SHOWN]
        ]
        if len(self.gaps) > _SHOWN:
            lines.append(f"  ... {len(self.gaps) - _SHOWN} more gaps")
        return "\n".join(lines)


def require_columns(frame: pd.DataFrame) -> None:
    missing = [c for c in OHLCV if c not in frame.columns]
    if missing:
        raise DataValidationError(f"candles lack column(s) {missing}; expected {OHLCV}")


SPIKE_FACTOR = 50.0  # a price this many times above (or below) its neighbours' median is not a price


def _spikes(values: pd.DataFrame) -> np.ndarray:
    """Rows whose prices are absurd against the median close of the 11 rows around them (e.g. 1e300
    between prices of 100): validation of stored history, so neighbours on both sides count."""
    close = values["close"].where(np.isfinite(values["close"]) & (values["close"] > 0))
    if close.count() < 3:
        return np.zeros(len(values), dtype=bool)
    median = close.rolling(11, center=True, min_periods=3).median().bfill().ffill().to_numpy()
    prices = values[PRICES].to_numpy(dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ratio = np.where(prices > 0, prices / median[:, None], 1.0)  # non-positive prices: their own check
        return ((ratio > SPIKE_FACTOR) | (ratio < 1 / SPIKE_FACTOR)).any(axis=1)


def validate(frame: pd.DataFrame, timeframe: str) -> ValidationReport:
    """Check OHLCV rows (index = UTC timestamps) and return every problem found."""
    require_columns(frame)
    idx = pd.DatetimeIndex(frame.index)
    values = frame[OHLCV].apply(pd.to_numeric, errors="coerce")
    o, h, lo, c, v = (values[col].to_numpy(dtype="float64") for col in OHLCV)
    with np.errstate(invalid="ignore"):
        checks: dict[str, np.ndarray] = {
            "missing_timestamp": np.asarray(idx.isna()),
            "nan_value": values.isna().any(axis=1).to_numpy(),
            "infinite_value": np.isinf(values.to_numpy(dtype="float64")).any(axis=1),
            "price_spike": _spikes(values),
            "non_positive_price": (values[PRICES] <= 0).any(axis=1).to_numpy(),
            "high_below_low": h < lo,
            "open_outside_range": (o > h) | (o < lo),
            "close_outside_range": (c > h) | (c < lo),
            "negative_volume": v < 0,
            "duplicate_timestamp": np.asarray(idx.duplicated(keep="first")),
        }
    ns = idx.as_unit("ns").asi8
    unsorted = np.zeros(len(idx), dtype=bool)
    if len(idx) > 1:
        unsorted[1:] = ns[1:] < np.maximum.accumulate(ns[:-1])
    checks["unsorted_timestamp"] = unsorted
    step_ns = timeframe_ms(timeframe) * 1_000_000
    checks["misaligned_timestamp"] = ~np.asarray(idx.isna()) & (ns % step_ns != 0)

    report = ValidationReport(rows=len(frame))
    bad = np.zeros(len(frame), dtype=bool)
    for kind, mask in checks.items():
        if mask.any():
            where = idx[mask]
            report.issues.append(Issue(kind, int(mask.sum()), tuple(where[:_SHOWN])))
            if kind != "unsorted_timestamp":  # sorting repairs order; the row itself is fine
                bad |= mask
    report.bad_mask = bad
    report.gaps = find_gaps(idx[~bad], timeframe)
    return report


def find_gaps(index: pd.DatetimeIndex, timeframe: str) -> list[Gap]:
    """Runs of missing candles in a (possibly unsorted) index."""
    if len(index) < 2:
        return []
    ordered = index.sort_values().unique()
    step = timeframe_delta(timeframe)
    deltas = ordered[1:] - ordered[:-1]
    where = np.flatnonzero(deltas > step)
    return [Gap(ordered[i], ordered[i + 1], int(deltas[i] / step) - 1) for i in where]


def repair(frame: pd.DataFrame, report: ValidationReport) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split into (clean, quarantined): bad rows out, duplicates dropped, order sorted."""
    quarantined = frame.loc[report.bad_mask]
    clean = frame.loc[~report.bad_mask, OHLCV].astype("float64").sort_index()
    return clean, quarantined


def ensure_valid(frame: pd.DataFrame, timeframe: str, what: str) -> ValidationReport:
    """Raise DataValidationError naming every bad row kind when frame is invalid."""
    report = validate(frame, timeframe)
    if not report.ok:
        raise DataValidationError(f"{what}: refused, nothing stored:\n{report.summary()}", report)
    return report
