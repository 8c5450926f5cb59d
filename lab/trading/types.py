"""Values passed between feeds, the decision step, brokers and the ledger."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class Bar:
    open: float
    high: float
    low: float
    close: float
    volume: float

    def problem(self) -> str | None:
        """Why this bar cannot be used, or None."""
        values = (self.open, self.high, self.low, self.close, self.volume)
        if any(not isinstance(v, int | float) or math.isnan(v) or math.isinf(v) for v in values):
            return f"non-numeric or NaN value in {values}"
        if min(self.open, self.high, self.low, self.close) <= 0:
            return f"non-positive price in {values}"
        if (
            self.high < self.low
            or not (self.low <= self.open <= self.high)
            or not (self.low <= self.close <= self.high)
        ):
            return (
                f"inconsistent range (open {self.open}, high {self.high}, low {self.low}, close {self.close})"
            )
        if self.volume < 0:
            return f"negative volume {self.volume}"
        return None


@dataclass(frozen=True)
class Step:
    """All symbols' closed bars at one timestamp; None where a symbol has no bar (not listed yet)."""

    time: pd.Timestamp
    bars: dict[str, Bar | None]


@dataclass(frozen=True)
class Pending:
    """What the last closed bar's signals ask for on the next bar."""

    entry: bool = False
    exit: bool = False
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing: bool = False


@dataclass(frozen=True)
class ScanUpdate:
    """What a book's signals say at a closed bar for one symbol: the pending orders, the indicator
    values, the market regime, and a voting strategy's agents' votes (agent, vote, confidence, reason,
    enabled) on a decision bar."""

    pending: Pending
    indicators: dict
    regime: str | None = None
    votes: tuple | None = None


@dataclass(frozen=True)
class Intent:
    """An order decided for a bar, before it has a database id."""

    symbol: str
    side: str  # buy, sell
    reason: str  # entry, signal, stop_loss, take_profit, trailing_stop
    reference_price: float
    cash_fraction: float | None = None
    size: float | None = None
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing: bool = False


@dataclass
class OpenPosition:
    symbol: str
    size: float
    entry_price: float
    entry_fees: float
    entry_time: pd.Timestamp
    stop_loss: float | None
    take_profit: float | None
    trailing: bool
    peak: float
    trade_id: int = 0


@dataclass(frozen=True)
class OrderTicket:
    """What a broker needs to execute an order (plain values; the ledger's row stays in the ledger)."""

    client_order_id: str
    symbol: str
    side: str  # buy, sell
    reference_price: float  # the bar's open, or the stop level
    kind: str = "market"  # market, limit
    limit_price: float | None = None
    cash_fraction: float | None = None  # buys: share of free cash to spend
    size: float | None = None  # sells: base amount


@dataclass(frozen=True)
class FillReport:
    """What the broker says happened to an order."""

    size: float
    price: float
    fee: float
    exchange_order_id: str | None = None


@dataclass
class Decisions:
    intents: list[Intent] = field(default_factory=list)
    rejections: list[tuple[str, str, str]] = field(default_factory=list)  # (symbol, rule, detail)
