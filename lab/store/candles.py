"""The candle store: one Parquet file per exchange/symbol/timeframe under data/candles/.

Writes are atomic (write a temporary file in the same directory, fsync, rename), so a crash leaves
either the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lab.core.errors import LabError

OHLCV = ["open", "high", "low", "close", "volume"]
_SCHEMA = pa.schema([("timestamp", pa.timestamp("ms", tz="UTC"))] + [(c, pa.float64()) for c in OHLCV])


_EXCHANGE = re.compile(
    r"^[a-z0-9][a-z0-9_]{0,63}$"
)  # ccxt exchange ids: kraken, binanceus, coinbase_advanced
_SYMBOL = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,31}/[A-Za-z0-9][A-Za-z0-9.\-]{0,31}(:[A-Za-z0-9.\-]{1,32})?$"
)
_TIMEFRAME = re.compile(r"^[0-9]{1,4}[smhdwMy]$")


def check_series_key(exchange: str, symbol: str, timeframe: str) -> None:
    """Names that become paths: a ccxt exchange id, a ccxt symbol (BASE/QUOTE), a ccxt timeframe."""
    if not _EXCHANGE.match(exchange or ""):
        raise LabError(
            f"exchange {exchange!r} is not an exchange id (lowercase letters, digits, _; e.g. 'kraken')"
        )
    if not _SYMBOL.match(symbol or ""):
        raise LabError(f"symbol {symbol!r} is not a ccxt symbol of the form BASE/QUOTE (e.g. 'BTC/USD')")
    if not _TIMEFRAME.match(timeframe or ""):
        raise LabError(f"timeframe {timeframe!r} is not a ccxt timeframe (e.g. '5m', '1h', '1d')")


def series_path(root: Path, exchange: str, symbol: str, timeframe: str) -> Path:
    """data/candles/<exchange>/<BASE>_<QUOTE>/<timeframe>.parquet, checked to lie inside root."""
    check_series_key(exchange, symbol, timeframe)
    path = root / exchange / symbol.replace("/", "_").replace(":", "_") / f"{timeframe}.parquet"
    if not path.resolve().is_relative_to(Path(root).resolve()):
        raise LabError(f"{exchange} {symbol} {timeframe} would be stored outside {root}")
    return path


def empty_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype="float64") for c in OHLCV},
        index=pd.DatetimeIndex([], tz="UTC", name="timestamp", dtype="datetime64[ms, UTC]"),
    )


def read_series(
    path: Path, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Read stored candles in [start, end) as a frame indexed by UTC timestamp."""
    if not path.exists():
        return empty_frame()
    filters = []
    if start is not None:
        filters.append(("timestamp", ">=", start))
    if end is not None:
        filters.append(("timestamp", "<", end))
    table = pq.read_table(path, filters=filters or None)
    frame = table.to_pandas()
    return frame.set_index("timestamp")


def read_metadata(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    meta = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in meta.items() if not k.startswith(b"pandas")}


def stage_series(path: Path, frame: pd.DataFrame, metadata: dict[str, str] | None = None) -> Path:
    """Write frame to a temporary file beside path (durably); publish_series puts it in place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    index = frame.index.tz_convert("UTC").as_unit("ms") if len(frame) else frame.index
    table = pa.table(
        {
            "timestamp": pa.array(index, type=_SCHEMA.field("timestamp").type),
            **{c: pa.array(frame[c].to_numpy(dtype="float64")) for c in OHLCV},
        },
        schema=_SCHEMA.with_metadata({k.encode(): v.encode() for k, v in (metadata or {}).items()}),
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            pq.write_table(table, handle, compression="zstd")
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def publish_series(tmp: Path, path: Path) -> None:
    """Atomically replace the file at path with the staged one."""
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_series(path: Path, frame: pd.DataFrame, metadata: dict[str, str] | None = None) -> None:
    """Atomically replace the file at path with frame (sorted, unique UTC index, float columns)."""
    publish_series(stage_series(path, frame, metadata), path)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every filesystem allows opening a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def merge(stored: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Union of stored and new candles; on equal timestamps the stored candle wins (never overwritten)."""
    if stored.empty:
        return new.sort_index()
    combined = pd.concat([stored, new.loc[~new.index.isin(stored.index)]])
    return combined.sort_index()
