"""The IO contract between the trading shell and a strategy module.

A strategy is a class in a file under strategies/: it declares typed parameters (with ranges for
sweeps), its timeframe, its warm-up, and one vectorized method from an OHLCV frame to per-bar
signals. The backtester and the live engine call that same method; strategies never touch the
exchange or the database. Long-only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

# One closed (or still open) trade, as the backtester, the engine's ledger and every report show it.
TRADE_COLUMNS = [
    "symbol",
    "entry_time",
    "exit_time",
    "size",
    "entry_price",
    "exit_price",
    "entry_fees",
    "exit_fees",
    "pnl",
    "return_pct",
    "status",
    "exit_reason",
]


def param(default: float, low: float, high: float, step: float, description: str = "") -> Any:
    """A strategy parameter: its default, the range a sweep covers, and the sweep step."""
    return Field(
        default,
        ge=low,
        le=high,
        description=description,
        json_schema_extra={"low": low, "high": high, "step": step},
    )


class StrategyParams(BaseModel):
    """Base for a strategy's parameters: frozen, unknown names rejected, ranges enforced."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def ranges(cls) -> dict[str, list[float]]:
        """Every value each parameter takes in a sweep (low..high by step, typed like the default)."""
        out: dict[str, list[float]] = {}
        for name, field in cls.model_fields.items():
            extra = field.json_schema_extra or {}
            if not isinstance(extra, dict) or "step" not in extra:
                continue
            low, high, step = float(extra["low"]), float(extra["high"]), float(extra["step"])  # type: ignore[arg-type]
            values = np.round(np.arange(low, high + step / 2, step), 10)
            out[name] = [int(v) for v in values] if field.annotation is int else [float(v) for v in values]
        return out

    @classmethod
    def grid(
        cls, overrides: dict[str, list[Any]] | None = None, limit: int | None = None, seed: int = 0
    ) -> list[StrategyParams]:
        """Valid combinations of the declared ranges (invalid ones, e.g. fast >= slow, dropped). With a
        limit smaller than the product, a seeded random sample of it, drawn without building the product
        (a full grid easily has millions of combinations)."""
        ranges = cls.ranges() | (overrides or {})
        names = list(ranges)
        sizes = [len(ranges[n]) for n in names]
        total = math.prod(sizes)
        if limit is None or total <= limit:
            picks: Iterable[int] = range(total)
        else:
            rng = np.random.default_rng(seed)
            # Oversample: some draws are invalid combinations and are dropped.
            picks = np.sort(rng.choice(total, size=min(total, limit * 4), replace=False))
        out: list[StrategyParams] = []
        for flat in picks:
            combo, rest = {}, int(flat)
            for name, size in zip(reversed(names), reversed(sizes), strict=True):
                rest, digit = divmod(rest, size)
                combo[name] = ranges[name][digit]
            try:
                out.append(cls(**combo))
            except ValueError:
                continue
        if limit is not None and len(out) > limit:
            keep = np.linspace(0, len(out) - 1, limit).round().astype(int)
            out = [out[i] for i in keep]
        return out


@dataclass(frozen=True)
class Signals:
    """Per-bar output of a strategy, aligned to the input frame's index.

    entries/exits are decided on the bar's close; the fill is at the next bar's open.
    stop_loss/take_profit are fractions of the entry fill price (e.g. 0.02), per bar or constant.
    """

    entries: pd.Series
    exits: pd.Series
    stop_loss: pd.Series | float | None = None
    take_profit: pd.Series | float | None = None
    trailing: bool = False
    confidence: pd.Series | None = None
    info: pd.DataFrame | None = None  # indicator values for scan logs and plots
    votes: dict[str, Any] | None = None  # a voting strategy's agents: name -> lab.core.agents.Votes


class Strategy:
    """Base class of strategy modules. Subclasses set the class attributes and implement signals()."""

    name: ClassVar[str]
    version: ClassVar[str] = "1.0.0"
    parent_version: ClassVar[str | None] = None
    timeframe: ClassVar[str] = "5m"
    Params: ClassVar[type[StrategyParams]] = StrategyParams

    def __init__(self, params: StrategyParams | dict[str, Any] | None = None) -> None:
        if isinstance(params, StrategyParams):
            self.params = params
        else:
            self.params = self.Params(**(params or {}))

    def warmup(self) -> int:
        """Bars needed before the first signal is meaningful (the live engine keeps at least this many)."""
        return 100

    def signals(self, candles: pd.DataFrame) -> Signals:  # pragma: no cover - abstract
        raise NotImplementedError
