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
                elif parsed.path.endswith("/OHLC"):
                    with fake.lock:
                        fake.ohlc_requests.append(query)
                        fault = fake.faults.popleft() if fake.faults else None
                    status, body = fault if fault else fake._ohlc(query)
                else:
                    status, body = 404, json.dumps({"error": ["EGeneral:Unknown method"]})
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
