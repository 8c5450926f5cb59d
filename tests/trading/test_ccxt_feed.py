"""The live feed through real ccxt against a local Kraken-like server: closed bars only, back-fill,
transient 5xx absorbed."""

from __future__ import annotations

import pandas as pd
import pytest

from lab.core.clock import SystemClock
from lab.market.fetch import make_exchange
from lab.trading.feeds import CcxtFeed
from lab.trading.health import TransientError
from tests.conftest import make_candles
from tests.fakes.kraken import FakeKraken


def test_feed_backfills_missed_bars_in_order_and_skips_the_forming_one():
    forming = pd.Timestamp.now(tz="UTC").floor("5min")
    start = forming - pd.Timedelta(minutes=5 * 30)
    data = {s: make_candles(31, start=str(start), seed=i) for i, s in enumerate(["BTC/USD", "ETH/USD"])}
    with FakeKraken(data) as fake:
        fake.faults.append((503, "busy"))  # the first poll fails; the feed must just poll again
        ex = make_exchange("kraken", {"public": fake.url})
        ex.rateLimit = 1
        failures = []

        def call(fn):
            try:
                return fn()
            except Exception as exc:
                failures.append(exc)
                raise TransientError(str(exc)) from exc

        feed = CcxtFeed(
            ex,
            ["BTC/USD", "ETH/USD"],
            "5m",
            poll_seconds=0.01,
            stale_after=2,
            call=call,
            clock=SystemClock(),
            max_polls=3,
        )
        steps = list(feed.steps(after=data["BTC/USD"].index[9]))
    times = [s.time for s in steps]
    assert times == list(data["BTC/USD"].index[10:30])  # back-filled, in order, forming bar excluded
    assert all(
        s.bars["BTC/USD"].close == pytest.approx(data["BTC/USD"].loc[s.time, "close"], abs=1e-8)
        for s in steps
    )
    assert failures  # the 503 happened and was absorbed
