"""The live broker through real ccxt against a local server answering like Kraken's private API."""

from __future__ import annotations

import base64

import pytest

from lab.market.fetch import make_exchange
from lab.trading.brokers import BrokerRejected, CcxtBroker
from lab.trading.types import OrderTicket
from tests.fakes.kraken import FakeKraken


def _order(side: str = "buy", cid: str = "lab-l-202501010005-BTCUSD-b") -> OrderTicket:
    return OrderTicket(
        client_order_id=cid,
        symbol="BTC/USD",
        side=side,
        kind="market",
        reference_price=40_000.0,
        cash_fraction=0.25,
        size=0.05 if side == "sell" else None,
    )


@pytest.fixture
def kraken():
    with FakeKraken({}) as fake:
        fake.fill_price["BTC/USD"] = 40_100.0
        ex = make_exchange("kraken", {"public": fake.url, "private": fake.url})
        ex.rateLimit = 1
        ex.apiKey, ex.secret = "key", base64.b64encode(b"not-a-real-secret").decode()
        yield (
            fake,
            CcxtBroker(ex, {"BTC/USD": 0.004}, call=lambda fn: fn(), poll_seconds=0, sleep=lambda s: None),
        )


def test_market_buy_sends_the_client_id_and_reads_the_fill_and_fee(kraken):
    fake, broker = kraken
    fill = broker.submit(_order(), cash=10_000.0, bar=None)
    sent = fake.add_order_calls[0]
    assert (
        sent["cl_ord_id"] == "lab-l-202501010005-BTCUSD-b"
        and sent["type"] == "buy"
        and sent["ordertype"] == "market"
    )
    expected_volume = 10_000 * 0.25 / 1.004 / 40_000
    assert float(sent["volume"]) == pytest.approx(expected_volume, rel=1e-6)
    assert fill.price == pytest.approx(40_100.0) and fill.size == pytest.approx(float(sent["volume"]))
    assert fill.fee == pytest.approx(fill.size * 40_100.0 * 0.0026, rel=1e-6)
    assert fill.exchange_order_id == "O00001-TEST"


def test_resubmitting_after_a_restart_finds_the_order_instead_of_sending_it_again(kraken):
    fake, broker = kraken
    first = broker.submit(_order(), cash=10_000.0, bar=None)
    again = broker.submit(_order(), cash=10_000.0, bar=None)
    assert len(fake.add_order_calls) == 1
    assert again == first


def test_an_open_order_is_polled_until_it_fills(kraken):
    fake, broker = kraken
    fake.pending_polls = 2
    fill = broker.submit(_order("sell", "lab-l-202501010010-BTCUSD-s"), cash=0.0, bar=None)
    assert fill.size == pytest.approx(0.05) and len(fake.add_order_calls) == 1


def test_exchange_refusal_is_a_broker_rejection(kraken):
    fake, broker = kraken
    fake.reject_next = "EOrder:Insufficient funds"
    with pytest.raises(BrokerRejected, match="InsufficientFunds"):
        broker.submit(_order(), cash=10_000.0, bar=None)
