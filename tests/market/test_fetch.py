"""ccxt fetch against a local server that answers like Kraken: pagination, resume, faults."""

from __future__ import annotations

import pandas as pd
import pytest

from lab.core.errors import LabError
from lab.market.fetch import fetch_many, fetch_symbol, make_exchange
from lab.market.repository import load
from tests.conftest import make_candles
from tests.fakes.kraken import FakeKraken


def _series_until_now(n: int, seed: int = 0) -> pd.DataFrame:
    """n candles ending with the one still forming now (which must not be stored)."""
    forming = pd.Timestamp.now(tz="UTC").floor("5min")
    start = forming - pd.Timedelta(minutes=5 * (n - 1))
    return make_candles(n, start=str(start), seed=seed)


def _exchange(fake: FakeKraken):
    ex = make_exchange("kraken", api_urls={"public": fake.url}, timeout_ms=5000)
    ex.rateLimit = 1  # the local server has no rate limit to respect
    return ex


def test_fetch_paginates_and_stores_only_closed_candles(cfg):
    candles = _series_until_now(1000)
    with FakeKraken({"BTC/USD": candles}, page_size=300) as fake:
        res = fetch_symbol(cfg, _exchange(fake), "BTC/USD", "5m", since=candles.index[0])
    stored = load("kraken", "BTC/USD", "5m", config=cfg)
    assert len(stored) == 999  # the forming candle is not stored
    assert stored.index[-1] == candles.index[-2]
    pd.testing.assert_frame_equal(
        stored, candles.iloc[:-1], check_freq=False, check_index_type=False, atol=1e-8
    )
    assert res.requests == 4  # 300 + 300 + 300 + 99 (the 100th is still forming)


def test_incremental_fetch_resumes_from_last_candle(cfg):
    candles = _series_until_now(400, seed=1)
    with FakeKraken({"BTC/USD": candles.iloc[:300]}) as fake:
        fetch_symbol(cfg, _exchange(fake), "BTC/USD", "5m", since=candles.index[0])
        fake.candles["BTC/USD"] = candles
        fake.ohlc_requests.clear()
        res = fetch_symbol(cfg, _exchange(fake), "BTC/USD", "5m")
    assert res.requests == 1
    expected_since = int(candles.index[300].timestamp()) - 300  # ccxt asks Kraken for one candle earlier
    assert int(fake.ohlc_requests[0]["since"]) == expected_since
    assert res.added == 99
    assert len(load("kraken", "BTC/USD", "5m", config=cfg)) == 399


def test_transient_429_and_503_are_retried(cfg):
    candles = _series_until_now(50)
    with FakeKraken({"BTC/USD": candles}) as fake:
        fake.faults.extend([(429, "Too Many Requests"), (503, "Service Unavailable")])
        res = fetch_symbol(cfg, _exchange(fake), "BTC/USD", "5m", since=candles.index[0])
    assert res.requests == 1
    assert len(fake.ohlc_requests) == 3
    assert res.added == 49


def test_retries_exhausted_is_a_clear_error_and_keeps_stored_data(cfg):
    candles = _series_until_now(50)
    with FakeKraken({"BTC/USD": candles}) as fake:
        fetch_symbol(cfg, _exchange(fake), "BTC/USD", "5m", since=candles.index[0])
        before = load("kraken", "BTC/USD", "5m", config=cfg)
        fake.faults.extend([(503, "down")] * 10)
        with pytest.raises(LabError, match="fetch failed"):
            fetch_symbol(cfg, _exchange(fake), "BTC/USD", "5m", since=candles.index[0])
    pd.testing.assert_frame_equal(load("kraken", "BTC/USD", "5m", config=cfg), before)


def test_malformed_response_is_refused_and_stores_nothing(cfg):
    candles = _series_until_now(20)
    bad = (
        '{"error": [], "result": {"XXBTZUSD": [[1700000000, "abc", "1", "1", "1", "1", "1", 1]], "last": 1}}'
    )
    with FakeKraken({"BTC/USD": candles}) as fake:
        fake.faults.append((200, bad))
        with pytest.raises(LabError):
            fetch_symbol(
                cfg, _exchange(fake), "BTC/USD", "5m", since=pd.Timestamp("2023-11-14 22:10", tz="UTC")
            )
    assert not (cfg.candles_dir / "kraken" / "BTC_USD" / "5m.parquet").exists()


def test_unknown_exchange_and_symbol_are_named(cfg):
    with pytest.raises(LabError, match="unknown exchange 'nope'"):
        make_exchange("nope")
    with FakeKraken({}) as fake, pytest.raises(LabError, match="NOPE/USD"):
        fetch_symbol(cfg, _exchange(fake), "NOPE/USD", "5m")


def test_fetch_many_one_request_per_symbol_when_up_to_date(cfg):
    import time

    # The fake serves candles up to "now": a 5m candle closing mid-test would be a real new one.
    into_bucket = time.time() % 300
    if into_bucket > 285:
        time.sleep(301 - into_bucket)
    data = {s: _series_until_now(30, seed=i) for i, s in enumerate(["BTC/USD", "ETH/USD", "SOL/USD"])}
    with FakeKraken(data) as fake:
        for s in data:
            fetch_symbol(cfg, _exchange(fake), s, "5m", since=data[s].index[0])
        fake.ohlc_requests.clear()
        results = fetch_many(cfg, _exchange(fake), list(data), ["5m"])
    assert len(fake.ohlc_requests) <= 3
    assert all(r.added == 0 for r in results)
