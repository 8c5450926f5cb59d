"""A stand-in for the Anthropic Messages API behind httpx2.MockTransport: the real anthropic SDK sends
real HTTP requests to it. A script of replies (one per request, in order) says what it answers: a JSON
body, an HTTP error status, a timeout, or a refusal; every request it received is kept for asserts."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    timeout: bool = False
    stop_reason: str = "end_turn"
    usage: dict[str, int] = field(
        default_factory=lambda: {
            "input_tokens": 1200,
            "output_tokens": 300,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 2000,
        }
    )


def answer(obj: Any, **kw: Any) -> Reply:
    return Reply(text=json.dumps(obj), **kw)


class MessagesAPI:
    def __init__(self, script: list[Reply] | Callable[[dict[str, Any]], Reply]) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if callable(self.script):
            reply = self.script(body)
        else:
            if not self.script:
                return httpx2.Response(
                    500, json={"type": "error", "error": {"type": "api_error", "message": "script ended"}}
                )
            reply = self.script.pop(0)
        if reply.timeout:
            raise httpx2.ReadTimeout("the test server did not answer", request=request)
        if reply.status != 200:
            kind = {429: "rate_limit_error", 529: "overloaded_error"}.get(reply.status, "api_error")
            return httpx2.Response(
                reply.status,
                json={"type": "error", "error": {"type": kind, "message": f"HTTP {reply.status}"}},
            )
        return httpx2.Response(
            200,
            json={
                "id": f"msg_{len(self.requests)}",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "text", "text": reply.text}] if reply.text else [],
                "stop_reason": reply.stop_reason,
                "stop_sequence": None,
                "usage": reply.usage,
            },
        )

    def sdk(self) -> anthropic.Anthropic:
        """The real SDK pointed at this server (its own retries off: the lab retries)."""
        return anthropic.Anthropic(
            base_url="http://messages.test",
            max_retries=0,
            http_client=httpx2.Client(transport=httpx2.MockTransport(self.handler)),
        )

    def stages(self) -> list[str]:
        return [r["messages"][-1]["content"].split(".")[0].removeprefix("Stage ") for r in self.requests]


class MessagesServer:
    """The same script served over real HTTP on localhost (for ANTHROPIC_BASE_URL)."""

    def __init__(self, api: MessagesAPI) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = api

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = httpx2.Request(
                    "POST", f"http://local{self.path}", headers=dict(self.headers), content=body
                )
                try:
                    response = outer.handler(request)
                except httpx2.TimeoutException:
                    self.close_connection = True
                    return
                payload = response.content
                self.send_response(response.status_code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
