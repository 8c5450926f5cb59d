"""What a live feed knows beyond candles, for the agents that use it (lab.core.agents.LiveInputs): the
order book and, where the exchange has perpetuals, the funding rate, through ccxt. A failed request is
a missing input (the agent abstains with that reason), never an engine error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lab.core.agents import LiveInputs


class CcxtLiveInputs:
    def __init__(
        self, exchange: Any, call: Callable[[Callable[[], Any]], Any] | None = None, depth: int = 20
    ):
        self.exchange, self.depth = exchange, depth
        self.call = call or (lambda fn: fn())
        self.errors: list[str] = []  # the last failures, for the engine's log

    def __call__(self, symbol: str) -> LiveInputs:
        bids = asks = None
        try:
            book = self.call(lambda: self.exchange.fetch_order_book(symbol, self.depth))
            bids = tuple((float(level[0]), float(level[1])) for level in book.get("bids") or [])
            asks = tuple((float(level[0]), float(level[1])) for level in book.get("asks") or [])
        except Exception as exc:  # the agent abstains (missing input); the feed's own calls say more
            self.errors.append(f"order book of {symbol}: {type(exc).__name__}: {exc}")
        offered = bool((getattr(self.exchange, "has", {}) or {}).get("fetchFundingRate"))
        rate = None
        if offered:
            try:
                rate = self.call(lambda: self.exchange.fetch_funding_rate(symbol)).get("fundingRate")
                rate = None if rate is None else float(rate)
            except Exception as exc:
                self.errors.append(f"funding rate of {symbol}: {type(exc).__name__}: {exc}")
        del self.errors[:-20]
        return LiveInputs(bids=bids or None, asks=asks or None, funding_rate=rate, funding_offered=offered)
