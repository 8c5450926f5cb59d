"""A local HTTP server that answers like Kraken's public REST API (AssetPairs, OHLC), so the real ccxt
code path can be tested offline. Faults (HTTP 429/5xx, malformed bodies) can be queued per request."""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pandas as pd

# ccxt symbol -> (kraken pair id, altname, wsname, base id, quote id)
PAIRS = {
    "BTC/USD": ("XXBTZUSD", "XBTUSD", "XBT/USD", "XXBT", "ZUSD"),
    "ETH/USD": ("XETHZUSD", "ETHUSD", "ETH/USD", "XETH", "ZUSD"),
    "SOL/USD": ("SOLUSD", "SOLUSD", "SOL/USD", "SOL", "ZUSD"),
    "ADA/USD": ("ADAUSD", "ADAUSD", "ADA/USD", "ADA", "ZUSD"),
    "DOT/USD": ("DOTUSD", "DOTUSD", "DOT/USD", "DOT", "ZUSD"),
    "LINK/USD": ("LINKUSD", "LINKUSD", "LINK/USD", "LINK", "ZUSD"),
    "XRP/USD": ("XXRPZUSD", "XRPUSD", "XRP/USD", "XXRP", "ZUSD"),
    "LTC/USD": ("XLTCZUSD", "LTCUSD", "LTC/USD", "XLTC", "ZUSD"),
    "AVAX/USD": ("AVAXUSD", "AVAXUSD", "AVAX/USD", "AVAX", "ZUSD"),
}


def _pair_info(pid: str, alt: str, ws: str, base: str, quote: str) -> dict:
    return {
        "altname": alt,
        "wsname": ws,
        "aclass_base": "currency",
        "base": base,
        "aclass_quote": "currency",
        "quote": quote,
        "lot": "unit",
        "pair_decimals": 5,
        "lot_decimals": 8,
        "lot_multiplier": 1,
        "leverage_buy": [],
        "leverage_sell": [],
        "fees": [[0, 0.40]],
        "fees_maker": [[0, 0.25]],
        "fee_volume_currency": "ZUSD",
        "margin_call": 80,
        "margin_stop": 40,
        "ordermin": "0.0001",
        "costmin": "0.5",
        "tick_size": "0.00001",
        "status": "online",
    }


class FakeKraken:
    """Serves candles per symbol; `faults` is a queue of (status, body) answered before real data."""

    def __init__(self, candles: dict[str, pd.DataFrame], page_size: int = 720) -> None:
        self.candles = candles
        self.page_size = page_size
        self.faults: deque[tuple[int, str]] = deque()
        self.ohlc_requests: list[dict[str, str]] = []
        # private API: orders fill at fill_price[symbol]; the first `pending_polls` queries say "open"
        self.orders: dict[str, dict] = {}
        self.add_order_calls: list[dict[str, str]] = []
        self.fill_price: dict[str, float] = {}
        self.pending_polls = 0
        self.reject_next: str | None = None
        self.books: dict[str, tuple[list, list]] = {}  # symbol -> (bids, asks) as [price, amount]
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeKraken:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _ohlc(self, query: dict[str, str]) -> tuple[int, str]:
        pid = query["pair"]
        symbol = next(s for s, p in PAIRS.items() if p[0] == pid or p[1] == pid)
        frame = self.candles.get(symbol)
        since = int(query.get("since", 0))
        secs = frame.index.as_unit("s").asi8
        page = frame.loc[secs > since].iloc[: self.page_size]
        rows = [
            [
                int(ts.timestamp()),
                f"{r.open:.8f}",
                f"{r.high:.8f}",
                f"{r.low:.8f}",
                f"{r.close:.8f}",
                f"{r.close:.8f}",
                f"{r.volume:.8f}",
                1,
            ]
            for ts, r in page.iterrows()
        ]
        last = int(page.index[-1].timestamp()) if len(page) else since
        return 200, json.dumps({"error": [], "result": {PAIRS[symbol][0]: rows, "last": last}})

    def _private(self, path: str, form: dict[str, str]) -> tuple[int, str]:
        def ok(result: object) -> tuple[int, str]:
            return 200, json.dumps({"error": [], "result": result})

        if path.endswith("/AddOrder"):
            self.add_order_calls.append(form)
            if self.reject_next:
                reason, self.reject_next = self.reject_next, None
                return 200, json.dumps({"error": [reason]})
            symbol = next(s for s, p in PAIRS.items() if form["pair"] in (p[0], p[1]))
            txid = f"O{len(self.orders) + 1:05d}-TEST"
            vol, price = float(form["volume"]), self.fill_price[symbol]
            self.orders[txid] = {
                "refid": None,
                "userref": 0,
                "cl_ord_id": form.get("cl_ord_id"),
                "status": "open",
                "opentm": 1700000000.0,
                "closetm": 1700000001.0,
                "starttm": 0,
                "expiretm": 0,
                "descr": {
                    "pair": PAIRS[symbol][1],
                    "type": form["type"],
                    "ordertype": form["ordertype"],
                    "price": "0",
                    "price2": "0",
                    "leverage": "none",
                    "order": f"{form['type']} {vol} {PAIRS[symbol][1]} @ market",
                },
                "vol": f"{vol:.8f}",
                "vol_exec": f"{vol:.8f}",
                "cost": f"{vol * price:.8f}",
                "fee": f"{vol * price * 0.0026:.8f}",
                "price": f"{price:.8f}",
                "misc": "",
                "oflags": "fciq",
                "_polls_left": self.pending_polls,
            }
            return ok({"descr": {"order": self.orders[txid]["descr"]["order"]}, "txid": [txid]})

        def view(o: dict) -> dict:
            out = {k: v for k, v in o.items() if not k.startswith("_")}
            out["status"] = "open" if o["_polls_left"] > 0 else "closed"
            return out

        if path.endswith("/QueryOrders"):
            result = {}
            for txid in form.get("txid", "").split(","):
                if txid in self.orders:
                    result[txid] = view(self.orders[txid])
                    self.orders[txid]["_polls_left"] -= 1
            return ok(result)
        if path.endswith("/OpenOrders"):
            return ok({"open": {t: view(o) for t, o in self.orders.items() if o["_polls_left"] > 0}})
        if path.endswith("/ClosedOrders"):
            closed = {t: view(o) for t, o in self.orders.items() if o["_polls_left"] <= 0}
            return ok({"closed": closed, "count": len(closed)})
        return 404, json.dumps({"error": ["EGeneral:Unknown method"]})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parsed = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
                if parsed.path.endswith("/AssetPairs"):
                    status, body = (
                        200,
                        json.dumps({"error": [], "result": {p[0]: _pair_info(*p) for p in PAIRS.values()}}),
                    )
                elif parsed.path.endswith("/Assets"):
                    assets = {
                        a: {
                            "aclass": "currency",
                            "altname": a[1:] if len(a) == 4 and a[0] in "XZ" else a,
                            "decimals": 8,
                            "display_decimals": 5,
                            "status": "enabled",
                        }
                        for p in PAIRS.values()
                        for a in p[3:]
                    }
                    status, body = 200, json.dumps({"error": [], "result": assets})
                elif parsed.path.endswith("/Depth"):
                    pid = query["pair"]
                    symbol = next(s for s, p in PAIRS.items() if pid in (p[0], p[1]))
                    bids, asks = fake.books.get(symbol, ([], []))
                    book = {
                        "bids": [[f"{p:.5f}", f"{a:.8f}", 1700000000] for p, a in bids],
                        "asks": [[f"{p:.5f}", f"{a:.8f}", 1700000000] for p, a in asks],
                    }
                    status, body = 200, json.dumps({"error": [], "result": {PAIRS[symbol][0]: book}})
                elif parsed.path.endswith("/OHLC"):
                    with fake.lock:
                        fake.ohlc_requests.append(query)
                        fault = fake.faults.popleft() if fake.faults else None
                    status, body = fault if fault else fake._ohlc(query)
                else:
                    status, body = 404, json.dumps({"error": ["EGeneral:Unknown method"]})
                self._reply(status, body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                with fake.lock:
                    status, body = fake._private(urlparse(self.path).path, form)
                self._reply(status, body)

            def _reply(self, status: int, body: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
