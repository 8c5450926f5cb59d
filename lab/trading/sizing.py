"""Position sizing behind one small interface, used by the engine; the backtester computes the same
decisions vectorized (lab.backtest.kelly_sizing) from the same lab.core.kelly function.

A sizer answers, for an entry about to be decided, the share of free cash to spend (the *allocated*
fraction, fees included) or None to skip it, and records why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from lab.core.config import SizingConfig
from lab.core.kelly import KellyRule, is_skip, kelly_sizing
from lab.trading.signal_record import SignalRecord


@dataclass(frozen=True)
class SizingDecision:
    """One sizing decision with its inputs (stored in sizing_decisions)."""

    symbol: str
    method: str
    fraction: float  # allocated share of free cash; 0 when skipped
    skip: bool
    reason: str
    inputs: dict[str, Any]


class Sizer(Protocol):
    method: str

    def decide(self, symbol: str) -> SizingDecision:
        """The sizing of an entry in symbol decided now (from what is known before this bar)."""
        ...


class FixedFraction:
    method = "fixed"

    def __init__(self, fraction: float) -> None:
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        self._fraction = fraction

    def decide(self, symbol: str) -> SizingDecision:
        return SizingDecision(symbol, self.method, self._fraction, False, "", {})


class KellySizer:
    """Fractional Kelly from the strategy's signal record: only trades closed on bars before the one
    the entry fills on, since the engine asks before it feeds the current bar to the record."""

    method = "kelly"

    def __init__(self, rule: KellyRule, record: SignalRecord) -> None:
        self.rule, self.record = rule, record

    def decide(self, symbol: str) -> SizingDecision:
        s = self.record.sums()
        out = kelly_sizing(
            np.array([s.n]),
            np.array([s.wins]),
            np.array([s.sum_win]),
            np.array([s.sum_win2]),
            np.array([s.sum_loss]),
            np.array([s.sum_loss2]),
            self.rule,
        )
        row = {k: v[0] for k, v in out.items()}
        reason = str(row.pop("reason"))
        fraction = float(row.pop("fraction"))
        inputs = {
            k: (bool(v) if k == "cap_bound" else int(v) if k == "n_trades" else _num(v))
            for k, v in row.items()
        }
        return SizingDecision(symbol, self.method, fraction, is_skip(reason), reason, inputs)


def _num(v: Any) -> float | None:
    v = float(v)
    return None if np.isnan(v) or np.isinf(v) else v


def make_sizer(config: SizingConfig, position_fraction: float, record: SignalRecord | None) -> Sizer:
    if config.method == "kelly":
        if record is None:
            raise ValueError("Kelly sizing needs the strategy's signal record")
        return KellySizer(config.rule(), record)
    return FixedFraction(position_fraction)
