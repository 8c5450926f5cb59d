"""The trade shape (lab.core.contract.TRADE_COLUMNS) to and from database rows, mapped once for the
backtester's records, the engine's ledger and every report that reads them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from lab.core.clock import to_utc
from lab.core.contract import TRADE_COLUMNS

TIME_COLUMNS = ("entry_time", "exit_time")


def row_values(trade: Mapping[str, Any], columns: Iterable[str] = TRADE_COLUMNS) -> dict[str, Any]:
    """One trade (a frame row as a mapping) as column values: missing numbers and times become None,
    timestamps plain datetimes."""
    out: dict[str, Any] = {}
    for name in columns:
        value = trade.get(name)
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            out[name] = None
        elif name in TIME_COLUMNS:
            out[name] = pd.Timestamp(value).to_pydatetime()
        else:
            out[name] = value.item() if hasattr(value, "item") else value
    return out


def frame_from_rows(rows: Iterable[Any], columns: list[str] | None = None) -> pd.DataFrame:
    """ORM trade rows (attributes named as TRADE_COLUMNS) as the trade frame, sorted like a backtest's."""
    columns = columns or TRADE_COLUMNS
    frame = pd.DataFrame(
        [{c: (to_utc(getattr(r, c)) if c in TIME_COLUMNS else getattr(r, c)) for c in columns} for r in rows],
        columns=columns,
    )
    return frame.sort_values(["entry_time", "symbol"], ignore_index=True)
