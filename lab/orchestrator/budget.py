"""Token and dollar budgets per service and period (UTC day, ISO week, calendar month), checked before a
cycle and before each call; usage rows in ai_usage; an alert row when spending crosses 80% and 100% of
a limit (once per period and level)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from lab.core.llm_config import BudgetLimits, LLMConfig
from lab.orchestrator.llm import LLMRequest, LLMResponse
from lab.store.models_llm import AIUsage, BudgetAlert
from lab.store.spool import record_usage

PERIODS = ("day", "week", "month")


def period_start(period: str, now: datetime) -> datetime:
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


@dataclass(frozen=True)
class Spend:
    period: str
    tokens: int
    dollars: float
    token_limit: int
    dollar_limit: float


def estimate(request: LLMRequest) -> int:
    """Tokens a request may use: ~4 characters per input token, plus the whole output allowance."""
    chars = sum(len(s) for s in request.system) + sum(len(m["content"]) for m in request.messages)
    return chars // 4 + request.max_tokens


class Budget:
    def __init__(self, db: Engine, config: LLMConfig, service: str, now: datetime | None = None) -> None:
        self.db, self.config, self.service = db, config, service
        self.limits: BudgetLimits = config.budgets.get(service, BudgetLimits())
        self._now = now

    def now(self) -> datetime:
        return self._now or datetime.now(UTC)

    def spend(self) -> list[Spend]:
        lim = self.limits
        limits = {
            "day": (lim.daily_tokens, lim.daily_dollars),
            "week": (lim.weekly_tokens, lim.weekly_dollars),
            "month": (lim.monthly_tokens, lim.monthly_dollars),
        }
        out = []
        with self.db.connect() as c:
            for period in PERIODS:
                tokens, dollars = c.execute(
                    select(
                        func.coalesce(
                            func.sum(
                                AIUsage.input_tokens
                                + AIUsage.output_tokens
                                + AIUsage.cache_write_tokens
                                + AIUsage.cache_read_tokens
                            ),
                            0,
                        ),
                        func.coalesce(func.sum(AIUsage.cost), 0.0),
                    ).where(
                        AIUsage.service == self.service,
                        AIUsage.created_at >= period_start(period, self.now()),
                    )
                ).one()
                out.append(Spend(period, int(tokens), float(dollars), *limits[period]))
        return out

    def exhausted(self, tokens: int = 0, dollars: float = 0.0) -> str | None:
        """Why a call of this size may not be made (None: it may)."""
        for s in self.spend():
            if s.token_limit and s.tokens + tokens > s.token_limit:
                return (
                    f"{self.service} token budget for the {s.period}: {s.tokens:,} used of {s.token_limit:,}"
                    + (f", this call may need {tokens:,}" if tokens else "")
                )
            if s.dollar_limit and s.dollars + dollars > s.dollar_limit:
                return (
                    f"{self.service} dollar budget for the {s.period}: ${s.dollars:.4f} used of ${s.dollar_limit:.2f}"
                    + (f", this call may cost ${dollars:.4f}" if dollars else "")
                )
        return None

    def before_call(self, request: LLMRequest) -> str | None:
        tokens = estimate(request)
        price = self.config.prices.get(request.model)
        dollars = (
            0.0
            if price is None
            else (tokens - request.max_tokens) * price.input / 1e6 + request.max_tokens * price.output / 1e6
        )
        return self.exhausted(tokens, dollars)

    def record(self, cycle_id: int | None, stage: str, response: LLMResponse, cost: float) -> None:
        record_usage(
            self.db,
            self.service,
            cycle_id,
            provider=response.provider,
            model=response.model,
            stage=stage,
            input_tokens=response.input_tokens,
            output_tokens=response.output_tokens,
            cache_write_tokens=response.cache_write_tokens,
            cache_read_tokens=response.cache_read_tokens,
            cost=cost,
        )
        self.alerts()

    def alerts(self) -> list[tuple[str, str, float]]:
        """Record an alert for every limit crossed at each alert level; returns the new ones."""
        new = []
        for s in self.spend():
            for measure, spent, limit in (
                ("tokens", s.tokens, s.token_limit),
                ("dollars", s.dollars, s.dollar_limit),
            ):
                if not limit:
                    continue
                for level in self.limits.alert_at:
                    if spent < level * limit:
                        continue
                    try:
                        with self.db.begin() as c:
                            c.execute(
                                BudgetAlert.__table__.insert().values(
                                    created_at=self.now(),
                                    service=self.service,
                                    period=s.period,
                                    period_start=f"{period_start(s.period, self.now()):%Y-%m-%d}",
                                    measure=measure,
                                    level=level,
                                    spent=float(spent),
                                    limit=float(limit),
                                )
                            )
                        new.append((s.period, measure, level))
                    except IntegrityError:
                        pass  # raised already in this period
        return new
