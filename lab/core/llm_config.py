"""The nightly orchestrator's settings ([llm] in lab.toml): which provider, which model for which stage,
what each model's tokens cost, how patiently to call, how much may be spent, and how candidates are
gated before they become shadows. The API key is never here: only ANTHROPIC_API_KEY in the environment."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

STAGES = ("analyze", "decide", "generate", "review")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class ModelPrice(_Frozen):
    """US dollars per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_write: float = Field(0.0, ge=0)
    cache_read: float = Field(0.0, ge=0)


class BudgetLimits(_Frozen):
    """Per service (the nightly cycle, the statistics shell): 0 means no limit on that measure."""

    daily_tokens: int = Field(0, ge=0)
    weekly_tokens: int = Field(0, ge=0)
    monthly_tokens: int = Field(0, ge=0)
    daily_dollars: float = Field(0.0, ge=0)
    weekly_dollars: float = Field(0.0, ge=0)
    monthly_dollars: float = Field(0.0, ge=0)
    alert_at: tuple[float, ...] = (0.8, 1.0)  # shares of a limit that raise a budget alert


class GateConfig(_Frozen):
    """What a generated candidate must show before it trades in the shadows (the promoter decides later)."""

    backtest_days: int = Field(30, ge=1, le=3650)  # newest days of the sample the candidate is tested on
    min_trades: int = Field(5, ge=0, le=100_000)  # fewer trades in the backtest: not enough to shadow
    walk_forward_splits: int = Field(2, ge=0, le=20)
    min_oos_return: float = Field(-0.05, ge=-1, le=1)  # chained out-of-sample return below this: refused
    lookahead_cuts: int = Field(6, ge=2, le=100)


class LLMConfig(_Frozen):
    provider: Literal["auto", "anthropic", "offline"] = (
        "auto"  # auto: anthropic when ANTHROPIC_API_KEY is set
    )
    models: dict[str, str] = Field(
        default_factory=lambda: {
            "analyze": "claude-sonnet-4-5",
            "decide": "claude-sonnet-4-5",
            "generate": "claude-haiku-4-5",
            "review": "claude-opus-4-1",
        }
    )
    prices: dict[str, ModelPrice] = Field(
        default_factory=lambda: {
            "claude-haiku-4-5": ModelPrice(input=1.0, output=5.0, cache_write=1.25, cache_read=0.10),
            "claude-sonnet-4-5": ModelPrice(input=3.0, output=15.0, cache_write=3.75, cache_read=0.30),
            "claude-opus-4-1": ModelPrice(input=15.0, output=75.0, cache_write=18.75, cache_read=1.50),
        }
    )
    max_tokens: int = Field(4096, ge=64, le=64_000)  # per response
    timeout_s: float = Field(120.0, gt=0, le=3600)
    max_retries: int = Field(3, ge=0, le=10)  # timeouts, 429, 529 and 5xx, with exponential backoff
    backoff_s: float = Field(2.0, ge=0, le=120)  # first wait; doubled per retry
    tool_iterations: int = Field(4, ge=0, le=20)  # ReAct steps of the analysis (0: no tools)
    tool_tokens: int = Field(60_000, ge=0)  # tokens the tool loop may spend in one cycle
    observations_kept_days: int = Field(90, ge=1, le=3650)
    budgets: dict[str, BudgetLimits] = Field(
        default_factory=lambda: {"nightly": BudgetLimits(daily_dollars=2.0, monthly_dollars=40.0)}
    )
    gates: GateConfig = GateConfig()

    @model_validator(mode="after")
    def _models_priced(self) -> LLMConfig:
        missing = [s for s in STAGES if s not in self.models]
        if missing:
            raise ValueError(f"llm.models needs a model for every stage; missing: {', '.join(missing)}")
        unpriced = sorted({m for m in self.models.values() if m not in self.prices})
        if unpriced:
            raise ValueError(
                f"llm.prices has no price for {', '.join(unpriced)} (dollars per million tokens)"
            )
        return self
