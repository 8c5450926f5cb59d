"""OHLCV download through ccxt: paginated, resuming from the last stored candle, rate limited,
transient errors retried with exponential backoff (tenacity), closed candles only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ccxt
import pandas as pd
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential
from tqdm.auto import tqdm

from lab.core.config import LabConfig
from lab.core.errors import LabError
from lab.core.timeframes import timeframe_ms
from lab.market.repository import last_timestamp, store_candles
from lab.store.candles import OHLCV

# ccxt's NetworkError covers timeouts, 429/DDoS protection and 5xx (ExchangeNotAvailable).
TRANSIENT = (ccxt.NetworkError,)


@dataclass(frozen=True)
class FetchResult:
    symbol: str
    timeframe: str
    requests: int
    added: int
    last: pd.Timestamp | None


def make_exchange(
    name: str, api_urls: dict[str, str] | None = None, timeout_ms: int = 30_000
) -> ccxt.Exchange:
    """A ccxt exchange with rate limiting on; api_urls overrides its API endpoints (tests use a local server)."""
    cls = getattr(ccxt, name, None)
    if not isinstance(cls, type):
        raise LabError(f"unknown exchange {name!r}: use a ccxt exchange id such as 'kraken' or 'binance'")
    exchange = cls({"enableRateLimit": True, "timeout": timeout_ms})
    if api_urls:
        api = exchange.urls.get("api")
        exchange.urls["api"] = {**api, **api_urls} if isinstance(api, dict) else api_urls.get("public", api)
    return exchange


def _candles_to_frame(rows: list[list]) -> pd.DataFrame:
    if not isinstance(rows, list) or any(not isinstance(r, list | tuple) or len(r) < 6 for r in rows):
        raise LabError(
            f"malformed OHLCV response: expected rows of [timestamp, o, h, l, c, v], got {str(rows)[:200]}"
        )
    frame = pd.DataFrame([r[:6] for r in rows], columns=["timestamp", *OHLCV])
    frame.index = pd.DatetimeIndex(
        pd.to_datetime(frame.pop("timestamp"), unit="ms", utc=True, errors="coerce"), name="timestamp"
    )
    return frame.apply(pd.to_numeric, errors="coerce")


def fetch_symbol(
    config: LabConfig,
    exchange: ccxt.Exchange,
    symbol: str,
    timeframe: str,
    *,
    since: pd.Timestamp | None = None,
    repair_bad: bool = False,
    progress: Callable[[int], None] | None = None,
) -> FetchResult:
    """Download closed candles after the last stored one (or from `since`/fetch_start) and store them."""
    step = timeframe_ms(timeframe)
    last = last_timestamp(config, exchange.id, symbol, timeframe)
    start = since or (
        last + pd.Timedelta(milliseconds=step)
        if last is not None
        else pd.Timestamp(config.market.fetch_start, tz="UTC")
    )
    cursor = start.value // 1_000_000  # Timestamp.value is always nanoseconds
    retry = Retrying(
        retry=retry_if_exception_type(TRANSIENT),
        stop=stop_after_attempt(config.market.max_retries + 1),
        wait=wait_exponential(multiplier=config.market.retry_backoff, max=60),
        reraise=True,
    )
    requests, added, buffer = 0, 0, []

    def flush() -> None:
        nonlocal added, buffer
        if buffer:
            frame = pd.concat(buffer)
            added += store_candles(
                config,
                exchange.id,
                symbol,
                timeframe,
                frame,
                source=f"ccxt:{exchange.id}",
                action="fetch",
                repair_bad=repair_bad,
            ).added
            buffer = []

    while True:
        now = exchange.milliseconds()
        if cursor + step > now:  # the candle starting at cursor has not closed yet
            break
        try:
            rows = retry(
                exchange.fetch_ohlcv, symbol, timeframe, since=cursor, limit=config.market.page_limit
            )
        except ccxt.BadSymbol as exc:
            raise LabError(f"{exchange.id} does not list {symbol}: {exc}") from exc
        except ccxt.BaseError as exc:
            flush()  # keep what already arrived; the next fetch resumes after it
            raise LabError(
                f"{exchange.id} {symbol} {timeframe}: fetch failed after {requests + 1} request(s): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        requests += 1
        frame = _candles_to_frame(rows)
        ts = frame.index.as_unit("ms").asi8
        # Only candles at/after the cursor and already closed; the forming candle is fetched next time.
        frame = frame.loc[(ts >= cursor) & (ts + step <= now)]
        if frame.empty:
            break
        buffer.append(frame)
        if progress:
            progress(len(frame))
        cursor = frame.index[-1].value // 1_000_000 + step
        if sum(len(b) for b in buffer) >= config.market.flush_every:
            flush()
    flush()
    return FetchResult(
        symbol, timeframe, requests, added, last_timestamp(config, exchange.id, symbol, timeframe)
    )


def fetch_many(
    config: LabConfig,
    exchange: ccxt.Exchange,
    symbols: list[str],
    timeframes: list[str],
    repair_bad: bool = False,
) -> list[FetchResult]:
    """Fetch every symbol x timeframe with one progress bar (candles received)."""
    results = []
    with tqdm(desc=f"fetch {exchange.id}", unit=" candles", disable=None) as bar:
        for symbol in symbols:
            for timeframe in timeframes:
                bar.set_postfix_str(f"{symbol} {timeframe}")
                results.append(
                    fetch_symbol(
                        config, exchange, symbol, timeframe, repair_bad=repair_bad, progress=bar.update
                    )
                )
    return results
