"""What notebooks/kelly_validation.ipynb (and `lab kelly`) run on the backtest side: a Kelly-sized,
recorded backtest of the strategy, whose signal record and sizing decisions the study reads
(lab.research.kelly_study)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from lab.backtest.notebook_api import RunParams, _config, validated
from lab.backtest.run import BacktestResult, run_backtest


class KellyNotebookParams(RunParams):
    """The Kelly validation notebook's parameters."""

    fractions: list[float] = Field(default_factory=lambda: [0.25, 0.5, 1.0], min_length=1, max_length=5)
    n_sims: int = Field(2000, ge=100, le=100_000)
    seed: int = 0

    @field_validator("fractions")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        bad = [c for c in value if not 0 < c < 2]
        if bad:
            raise ValueError(f"multiples of f* must lie in (0, 2) (2x Kelly has zero growth), got {bad}")
        return value


def validate_parameters(**values: Any) -> KellyNotebookParams:
    return validated(KellyNotebookParams, values)


def kelly_backtest(params: KellyNotebookParams, record: bool = True) -> BacktestResult:
    """The strategy backtested with the Kelly sizer on (the config's other sizing settings kept)."""
    cfg = _config(params)
    cfg = cfg.model_copy(update={"sizing": cfg.sizing.model_copy(update={"method": "kelly"})})
    result = run_backtest(
        cfg,
        params.strategy,
        params.symbols,
        exchange=params.exchange,
        start=params.start,
        end=params.end,
        record=record,
    )
    result.extra["sizing_config"] = cfg.sizing
    return result
