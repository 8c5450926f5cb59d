"""The LLM client protocol: one request in, one response out, every failed attempt kept.

Three implementations answer it: AnthropicClient (the real SDK), OfflinePolicy (deterministic rules on
the same inputs) and ReplayClient (recorded spool entries). The cycle does not know which it talks to,
except through `provider`, which every spool row carries."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from lab.core.llm_config import ModelPrice


@dataclass(frozen=True)
class LLMRequest:
    stage: str  # analyze, decide, generate, review
    model: str
    system: tuple[str, ...]  # prompt layers; all but the last stage-free ones are cached
    messages: tuple[dict[str, str], ...]  # [{"role": "user" | "assistant", "content": text}]
    max_tokens: int
    inputs: dict[str, Any] = field(
        default_factory=dict, compare=False
    )  # the structured inputs (offline policy)

    @property
    def hash(self) -> str:
        body = json.dumps([self.model, list(self.system), list(self.messages)], sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()

    @property
    def last_user_text(self) -> str:
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")


@dataclass(frozen=True)
class Attempt:
    """A failed try (timeout, 429, 529, 5xx) before a retry or the final failure."""

    attempt: int
    kind: str
    error: str
    latency_s: float


@dataclass
class LLMResponse:
    text: str
    model: str
    provider: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    stop_reason: str = ""
    latency_s: float = 0.0
    failures: list[Attempt] = field(default_factory=list)

    def cost(self, price: ModelPrice | None) -> float:
        if price is None:
            return 0.0
        return (
            self.input_tokens * price.input
            + self.output_tokens * price.output
            + self.cache_write_tokens * price.cache_write
            + self.cache_read_tokens * price.cache_read
        ) / 1e6


class LLMError(Exception):
    """A call that produced no usable response: kind is timeout, rate_limit, overloaded, server, refusal,
    auth, bad_request, connection, budget or replay_missing."""

    def __init__(
        self,
        kind: str,
        message: str,
        failures: list[Attempt] | None = None,
        response: LLMResponse | None = None,
    ) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind, self.message, self.failures = kind, message, failures or []
        self.response = response  # a response that came back but is unusable (a refusal): its tokens count


class LLMClient(Protocol):
    provider: str

    def complete(self, request: LLMRequest) -> LLMResponse: ...
