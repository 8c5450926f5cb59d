"""The real client: the anthropic SDK's Messages API.

The SDK reads ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL itself (so any compatible endpoint works); its own
retries are off (max_retries=0) because the lab retries with tenacity and keeps every failed attempt for
the spool. The stable prompt layers carry a cache_control breakpoint, so a night's calls after the first
read them from the prompt cache."""

from __future__ import annotations

import time
from typing import Any

import anthropic
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from lab.core.llm_config import LLMConfig
from lab.orchestrator.llm import Attempt, LLMError, LLMRequest, LLMResponse

TRANSIENT = {"timeout", "rate_limit", "overloaded", "server", "connection"}


def classify(exc: BaseException) -> str:
    if isinstance(exc, anthropic.APITimeoutError):
        return "timeout"
    if isinstance(exc, anthropic.APIConnectionError):
        return "connection"
    if isinstance(exc, anthropic.APIStatusError):
        code = exc.status_code
        if code == 429:
            return "rate_limit"
        if code == 529:
            return "overloaded"
        if code >= 500:
            return "server"
        if code in (401, 403):
            return "auth"
        return "bad_request"
    return "error"


class _Transient(Exception):
    def __init__(self, attempt: Attempt) -> None:
        super().__init__(attempt.error)
        self.attempt = attempt


class AnthropicClient:
    provider = "anthropic"

    def __init__(
        self, config: LLMConfig, client: anthropic.Anthropic | None = None, sleep: Any = time.sleep
    ) -> None:
        self.config = config
        self.sleep = sleep
        # No api_key argument: the SDK takes it from the environment, the only place secrets live.
        self.client = client or anthropic.Anthropic(max_retries=0, timeout=config.timeout_s)

    @staticmethod
    def system_blocks(request: LLMRequest) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = [{"type": "text", "text": layer} for layer in request.system]
        if blocks:
            blocks[-1]["cache_control"] = {"type": "ephemeral"}  # every layer is stable: cache up to here
        return blocks

    def _once(self, request: LLMRequest, number: int) -> LLMResponse:
        started = time.perf_counter()
        try:
            msg = self.client.messages.create(
                model=request.model,
                max_tokens=request.max_tokens,
                system=self.system_blocks(request),
                messages=list(request.messages),
                timeout=self.config.timeout_s,
            )
        except anthropic.APIError as exc:
            kind = classify(exc)
            attempt = Attempt(number, kind, str(exc)[:500], time.perf_counter() - started)
            if kind in TRANSIENT:
                raise _Transient(attempt) from exc
            raise LLMError(kind, attempt.error, [attempt]) from exc
        usage = msg.usage
        text = "".join(getattr(b, "text", "") for b in msg.content if getattr(b, "type", "") == "text")
        return LLMResponse(
            text=text,
            model=msg.model,
            provider=self.provider,
            input_tokens=usage.input_tokens or 0,
            output_tokens=usage.output_tokens or 0,
            cache_write_tokens=usage.cache_creation_input_tokens or 0,
            cache_read_tokens=usage.cache_read_input_tokens or 0,
            stop_reason=msg.stop_reason or "",
            latency_s=time.perf_counter() - started,
        )

    def complete(self, request: LLMRequest) -> LLMResponse:
        failures: list[Attempt] = []

        def keep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _Transient):
                failures.append(exc.attempt)

        retrying = Retrying(
            stop=stop_after_attempt(self.config.max_retries + 1),
            wait=wait_exponential(multiplier=self.config.backoff_s, max=60),
            retry=retry_if_exception(lambda e: isinstance(e, _Transient)),
            after=keep,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            response = retrying(lambda: self._once(request, len(failures) + 1))
        except _Transient as exc:
            last = failures[-1] if failures else exc.attempt
            raise LLMError(last.kind, f"{last.error} (after {len(failures)} attempts)", failures) from None
        except LLMError as exc:
            exc.failures = failures + exc.failures
            raise
        response.failures = failures
        if response.stop_reason == "refusal":
            raise LLMError("refusal", response.text or "the model declined to answer", failures, response)
        return response
