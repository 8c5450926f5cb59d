"""Time behind a protocol, so the engine and feeds can be driven by a fake clock in tests."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

import pandas as pd


def to_utc(value: object) -> pd.Timestamp | None:
    """A timestamp in UTC; naive values are read as UTC (SQLite returns datetimes without a zone)."""
    if value is None:
        return None
    ts = pd.Timestamp(value)  # type: ignore[arg-type]
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class ManualClock:
    """A clock that only moves when told to (sleep advances it instantly)."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def sleep(self, seconds: float) -> None:
        from datetime import timedelta

        self._now += timedelta(seconds=seconds)
