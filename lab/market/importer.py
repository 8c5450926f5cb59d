"""Reading candle files: CSV, Parquet and freqtrade-style feather/JSON, with names inferred from files."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lab.core.errors import DataValidationError, LabError
from lab.core.timeframes import timeframe_ms
from lab.store.candles import OHLCV

_TIME_COLUMNS = ("date", "timestamp", "time", "datetime", "open_time")
# binance_ETH_BTC_5m.csv  (exchange_BASE_QUOTE_tf)
_FLAT = re.compile(
    r"^(?P<exchange>[a-z0-9]+)_(?P<base>[A-Za-z0-9]+)_(?P<quote>[A-Za-z0-9]+)_(?P<tf>\d+[mhdw])$"
)
# freqtrade: <exchange dir>/BTC_USDT-5m.feather, futures BTC_USDT_USDT-5m-futures.feather
_FREQTRADE = re.compile(
    r"^(?P<base>[A-Za-z0-9]+)_(?P<quote>[A-Za-z0-9]+)(?:_[A-Za-z0-9]+)?-(?P<tf>\d+[mhdw])(?:-\w+)?$"
)


@dataclass(frozen=True)
class SeriesKey:
    exchange: str
    symbol: str
    timeframe: str


def infer_key(
    path: Path, exchange: str | None = None, symbol: str | None = None, timeframe: str | None = None
) -> SeriesKey:
    """Fill in exchange/symbol/timeframe from a freqtrade-style file name where not given."""
    stem = path.name.split(".")[0]
    inferred: dict[str, str] = {}
    if m := _FLAT.match(stem):
        inferred = {"exchange": m["exchange"], "symbol": f"{m['base']}/{m['quote']}", "timeframe": m["tf"]}
    elif m := _FREQTRADE.match(stem):
        inferred = {
            "exchange": path.parent.name.lower(),
            "symbol": f"{m['base']}/{m['quote']}",
            "timeframe": m["tf"],
        }
    key = {
        "exchange": exchange or inferred.get("exchange"),
        "symbol": symbol or inferred.get("symbol"),
        "timeframe": timeframe or inferred.get("timeframe"),
    }
    missing = [k for k, v in key.items() if not v]
    if missing:
        raise LabError(
            f"{path.name}: cannot infer {', '.join(missing)} from the file name; pass "
            + " ".join(f"--{k}" for k in missing)
        )
    timeframe_ms(key["timeframe"])  # type: ignore[arg-type]
    return SeriesKey(**key)  # type: ignore[arg-type]


def _to_utc(values: pd.Series) -> pd.DatetimeIndex:
    if pd.api.types.is_numeric_dtype(values):
        numeric = pd.to_numeric(values, errors="coerce")
        # epoch seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude (a 2020s
        # date is ~1.7e9 s); a value out of range for its unit becomes NaT and is refused by validation
        top = float(numeric.abs().max()) if numeric.notna().any() else 0.0
        unit = "ns" if top > 1e17 else "us" if top > 1e14 else "ms" if top > 1e11 else "s"
        finite = numeric.where(np.isfinite(numeric))
        return pd.DatetimeIndex(
            pd.to_datetime(finite, unit=unit, utc=True, errors="coerce"), name="timestamp"
        )
    return pd.DatetimeIndex(
        pd.to_datetime(values, utc=True, errors="coerce", format="mixed"), name="timestamp"
    )


def _frame_from_table(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    table = table.rename(columns=str.lower)
    time_col = next((c for c in _TIME_COLUMNS if c in table.columns), None)
    if time_col is None and isinstance(table.index, pd.DatetimeIndex):
        index = pd.DatetimeIndex(
            table.index.tz_localize("UTC") if table.index.tz is None else table.index.tz_convert("UTC")
        )
    elif time_col is None:
        raise DataValidationError(f"{path.name}: no time column (looked for {', '.join(_TIME_COLUMNS)})")
    else:
        index = _to_utc(table[time_col])
    missing = [c for c in OHLCV if c not in table.columns]
    if missing:
        raise DataValidationError(f"{path.name}: missing column(s) {missing}; found {list(table.columns)}")
    out = table[OHLCV].apply(pd.to_numeric, errors="coerce")
    out.index = index.rename("timestamp")
    return out


def read_file(path: Path) -> pd.DataFrame:
    """Read a candle file into an OHLCV frame indexed by UTC timestamp (not yet validated)."""
    if not path.is_file():
        raise LabError(f"{path}: no such file")
    suffix = "".join(path.suffixes[-1:]).lower()
    try:
        if suffix in (".csv", ".txt"):
            table = pd.read_csv(path)
        elif suffix == ".parquet":
            table = pd.read_parquet(path)
        elif suffix == ".feather":
            table = pd.read_feather(path)
        elif suffix == ".json":
            raw = json.loads(path.read_text())
            if (
                raw and isinstance(raw, list) and isinstance(raw[0], list)
            ):  # freqtrade: [[ms, o, h, l, c, v], ...]
                table = pd.DataFrame(raw, columns=["date", *OHLCV])
            else:
                table = pd.DataFrame(raw)
        else:
            raise LabError(f"{path.name}: unsupported format {suffix!r} (csv, parquet, feather, json)")
    except (ValueError, OSError, json.JSONDecodeError) as exc:
        raise DataValidationError(f"{path.name}: cannot be read as {suffix[1:]}: {exc}") from exc
    return _frame_from_table(table, path)
