"""Brokers behind one protocol: the paper broker (the backtester's fill model) and the ccxt broker
(live orders with client order ids, fees read from the exchange, status polling)."""

from __future__ import annotations

from typing import Protocol

from lab.core.errors import LabError
from lab.store.models import Order
from lab.trading.types import Bar, FillReport


class BrokerRejected(LabError):
    """The broker refused the order (final: the order is marked rejected)."""


class Broker(Protocol):
    mode: str

    def submit(self, order: Order, cash: float, bar: Bar | None) -> FillReport:
        """Execute an order; idempotent for the same client_order_id. Raises BrokerRejected, or a
        transient error that the engine retries."""
        ...


class PaperBroker:
    """Fills at the order's reference price (the bar's open, or the stop level) adjusted by slippage,
    paying the pair's taker fee: the same arithmetic as vectorbt's from_signals in the backtest.
    Limit orders fill only when the bar trades through the limit."""

    mode = "paper"

    def __init__(self, fees: dict[str, float], slippage: float) -> None:
        self.fees, self.slippage = fees, slippage

    def submit(self, order: Order, cash: float, bar: Bar | None) -> FillReport:
        fee = self.fees[order.symbol]
        price = order.reference_price
        if order.kind == "limit":
            if bar is None or order.limit_price is None:
                raise BrokerRejected(f"{order.client_order_id}: a limit order needs a bar and a limit price")
            crossed = bar.low <= order.limit_price if order.side == "buy" else bar.high >= order.limit_price
            if not crossed:
                raise BrokerRejected(f"{order.client_order_id}: limit {order.limit_price} not reached")
            price = (
                min(bar.open, order.limit_price) if order.side == "buy" else max(bar.open, order.limit_price)
            )
            slip = 0.0
        else:
            slip = self.slippage
        if order.side == "buy":
            px = price * (1 + slip)
            spend = cash * (order.cash_fraction or 0.0)
            if spend <= 0:
                raise BrokerRejected(f"{order.client_order_id}: no cash to spend ({cash:.2f})")
            size = spend / (1 + fee) / px
            return FillReport(size=size, price=px, fee=spend - size * px)
        px = price * (1 - slip)
        size = order.size or 0.0
        if size <= 0:
            raise BrokerRejected(f"{order.client_order_id}: nothing to sell")
        return FillReport(size=size, price=px, fee=size * px * fee)
