"""Component health, circuit breakers (state kept in the DB) and fault injection."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from lab.core.config import FaultConfig, LabConfig
from lab.core.errors import LabError
from lab.store.db import session_scope
from lab.store.models import CircuitBreakerState, HealthRecord

T = TypeVar("T")
STATUSES = ("healthy", "degraded", "failed", "starting", "stopped")


class TransientError(LabError):
    """A failure worth retrying (timeouts, rate limits, 5xx, injected faults)."""


class CircuitOpen(LabError):
    """The circuit breaker is open: the call was not attempted."""


@dataclass
class Health:
    status: str = "starting"
    detail: str = ""
    since: datetime = field(default_factory=lambda: datetime.now(UTC))

    def set(self, status: str, detail: str = "") -> None:
        if status != self.status:
            self.since = datetime.now(UTC)
        self.status, self.detail = status, detail


def aggregate(components: dict[str, Health]) -> str:
    """The worst component status (failed > degraded > starting > healthy; stopped when all stopped)."""
    statuses = {h.status for h in components.values()}
    if statuses == {"stopped"}:
        return "stopped"
    for status in ("failed", "degraded", "starting"):
        if status in statuses:
            return status
    return "healthy"


def store_health(config: LabConfig, components: dict[str, Health]) -> None:
    with session_scope(config) as session:
        for name, h in components.items():
            session.add(HealthRecord(component=name, status=h.status, detail=h.detail))
        session.add(HealthRecord(component="overall", status=aggregate(components), detail=""))


class CircuitBreaker:
    """closed → open after `threshold` consecutive failures → half-open after `recovery` → closed on a
    success (open again on a failure). State is written to the DB on every transition."""

    def __init__(
        self,
        config: LabConfig,
        name: str,
        threshold: int,
        recovery_s: float,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config, self.name, self.threshold, self.recovery = (
            config,
            name,
            threshold,
            timedelta(seconds=recovery_s),
        )
        self.now = now
        self.state, self.failures, self.opened_at = "closed", 0, None
        self.times_opened = 0
        with session_scope(config) as session:
            row = session.get(CircuitBreakerState, name)
            if row is not None:
                self.state, self.failures = row.state, row.failures
                self.opened_at = (
                    row.opened_at.replace(tzinfo=UTC)
                    if row.opened_at and row.opened_at.tzinfo is None
                    else row.opened_at
                )

    def _save(self) -> None:
        with session_scope(self.config) as session:
            row = session.get(CircuitBreakerState, self.name) or CircuitBreakerState(name=self.name)
            row.state, row.failures, row.opened_at = self.state, self.failures, self.opened_at
            session.merge(row)

    def call(self, fn: Callable[[], T]) -> T:
        if self.state == "open":
            if self.opened_at and self.now() - self.opened_at >= self.recovery:
                self.state = "half_open"
                self._save()
            else:
                raise CircuitOpen(f"circuit {self.name} is open after {self.failures} failures")
        try:
            result = fn()
        except (TransientError, OSError, TimeoutError) as exc:
            self.failures += 1
            if self.state == "half_open" or self.failures >= self.threshold:
                self.state, self.opened_at = "open", self.now()
                self.times_opened += 1
            self._save()
            raise TransientError(str(exc)) from exc
        if self.state != "closed" or self.failures:
            self.state, self.failures, self.opened_at = "closed", 0, None
            self._save()
        return result


class FaultInjector:
    """Makes a share of calls to a component fail (TransientError) or slow down; seeded, switchable."""

    def __init__(self, config: FaultConfig, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config, self.sleep = config, sleep
        self.enabled = config.enabled
        self.rng = random.Random(config.seed)
        self.injected: dict[str, int] = {}

    def wrap(self, component: str, fn: Callable[..., T]) -> Callable[..., T]:
        def wrapped(*args: Any, **kwargs: Any) -> T:
            if self.enabled:
                delay = self.config.latency_ms.get(component, 0.0)
                if delay:
                    self.sleep(delay / 1000)
                if self.rng.random() < self.config.error_rate.get(component, 0.0):
                    self.injected[component] = self.injected.get(component, 0) + 1
                    raise TransientError(f"injected fault in {component}")
            return fn(*args, **kwargs)

        return wrapped
