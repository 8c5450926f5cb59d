"""Brokers behind one protocol: the paper broker (the backtester's fill model) and the ccxt broker
(live orders with client order ids, fees read from the exchange, status polling)."""

from __future__ import annotations

from typing import Any, Protocol

from lab.core.errors import LabError
from lab.trading.types import Bar, FillReport, OrderTicket


class BrokerRejected(LabError):
    """The broker refused the order (final: the order is marked rejected)."""


class Broker(Protocol):
    mode: str

    def submit(self, order: OrderTicket, cash: float, bar: Bar | None) -> FillReport:
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

    def submit(self, order: OrderTicket, cash: float, bar: Bar | None) -> FillReport:
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


class CcxtBroker:
    """Live market orders through ccxt. Idempotent: before creating an order it looks the client order id
    up at the exchange, so a restart never sends a second order. Fills are read back (size, average
    price, fee converted to the quote currency) by polling the order's status."""

    mode = "live"

    def __init__(
        self,
        exchange: Any,
        fees: dict[str, float],
        call: Any,
        poll_seconds: float = 1.0,
        max_polls: int = 60,
        sleep: Any = None,
    ) -> None:
        import time

        self.exchange, self.fees, self.call = exchange, fees, call
        self.poll_seconds, self.max_polls = poll_seconds, max_polls
        self.sleep = sleep or time.sleep

    def _find(self, order: OrderTicket) -> dict | None:
        for method, capability in (
            ("fetch_open_orders", "fetchOpenOrders"),
            ("fetch_closed_orders", "fetchClosedOrders"),
        ):
            if not self.exchange.has.get(capability):
                continue
            found = self.call(lambda m=method: getattr(self.exchange, m)(order.symbol))
            for o in found or []:
                if o.get("clientOrderId") == order.client_order_id:
                    return o
        return None

    def _fill(self, o: dict, order: OrderTicket) -> FillReport:
        size = float(o.get("filled") or 0)
        price = float(o.get("average") or o.get("price") or 0)
        if size <= 0 or price <= 0:
            raise BrokerRejected(f"{order.client_order_id}: exchange reports no fill ({o.get('status')})")
        fee = o.get("fee") or {}
        cost = float(fee.get("cost") or 0.0)
        base = order.symbol.split("/")[0]
        if fee.get("currency") == base:  # a fee taken in the base currency, valued at the fill price
            cost *= price
        return FillReport(size=size, price=price, fee=cost, exchange_order_id=str(o.get("id")))

    def submit(self, order: OrderTicket, cash: float, bar: Bar | None) -> FillReport:
        import ccxt

        existing = self._find(order)
        if existing is None:
            if order.side == "buy":
                fee = self.fees[order.symbol]
                amount = cash * (order.cash_fraction or 0) / (1 + fee) / order.reference_price
            else:
                amount = order.size or 0.0
            try:
                existing = self.call(
                    lambda: self.exchange.create_order(
                        order.symbol,
                        "market",
                        order.side,
                        self.exchange.amount_to_precision(order.symbol, amount),
                        None,
                        {"clientOrderId": order.client_order_id},
                    )
                )
            except (ccxt.InsufficientFunds, ccxt.InvalidOrder, ccxt.BadSymbol) as exc:
                raise BrokerRejected(f"{order.client_order_id}: {type(exc).__name__}: {exc}") from exc
        for _ in range(self.max_polls):
            if existing.get("status") == "closed":
                return self._fill(existing, order)
            if existing.get("status") in ("canceled", "rejected", "expired"):
                raise BrokerRejected(
                    f"{order.client_order_id}: order {existing.get('status')} by the exchange"
                )
            self.sleep(self.poll_seconds)
            order_id = existing["id"]
            existing = self.call(lambda oid=order_id: self.exchange.fetch_order(oid, order.symbol))
        from lab.trading.health import TransientError

        raise TransientError(
            f"{order.client_order_id}: still {existing.get('status')} after {self.max_polls} polls"
        )
