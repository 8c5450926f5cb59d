"""The verdict on top of a backtest report: one plain paragraph generated from the numbers, never
more confident than the statistics (the probabilistic Sharpe ratio, the sweep's deflated Sharpe)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lab.core import formatting as f
from lab.core import metrics as m
from lab.core.sharpe import probabilistic_sharpe


@dataclass(frozen=True)
class SharpeEvidence:
    sharpe_daily: float  # per day, not annualised
    psr: float  # P(true Sharpe > 0)
    days: int


def sharpe_evidence(equity: pd.Series) -> SharpeEvidence:
    daily = m.daily_returns(equity).to_numpy(dtype=float)
    daily = daily[np.isfinite(daily)]
    if len(daily) < 3 or daily.std(ddof=1) == 0:
        return SharpeEvidence(math.nan, math.nan, len(daily))
    sr = float(daily.mean() / daily.std(ddof=1))
    z = (daily - daily.mean()) / daily.std(ddof=0)
    return SharpeEvidence(
        sr, probabilistic_sharpe(sr, len(daily), float((z**3).mean()), float((z**4).mean())), len(daily)
    )


def trades_per_day(trades: pd.DataFrame, equity: pd.Series) -> float:
    days = (equity.index[-1] - equity.index[0]).total_seconds() / 86_400
    closed = int((trades["status"] == "closed").sum()) if len(trades) else 0
    return closed / days if days > 0 else math.nan


def verdict(
    metrics: dict[str, Any],
    bh: dict[str, Any],
    evidence: SharpeEvidence,
    *,
    symbols: list[str],
    days: float,
    per_day: float,
    deflated_sharpe: float | None = None,
    n_trials: int | None = None,
) -> str:
    """The paragraph. `deflated_sharpe` and `n_trials` come from the sweep, when one ran."""
    ret, bh_ret = metrics.get("total_return"), bh.get("total_return")
    gap = ret - bh_ret if not (f.is_missing(ret) or f.is_missing(bh_ret)) else math.nan
    if f.is_missing(gap):
        against = ""
    elif abs(gap) < 0.0005:
        against = ", level with"
    else:
        against = f", {'beating' if gap > 0 else 'trailing'} by {abs(gap) * 100:.1f} points"
    parts = [
        f"Over {days:.0f} days the strategy returned {f.pct(ret, signed=True)} against "
        f"{f.pct(bh_ret, signed=True)} for equal-weight buy-and-hold of {', '.join(symbols)}{against}."
    ]
    sharpe = metrics.get("sharpe_daily")
    if f.is_missing(evidence.psr):
        parts.append(f"Its Sharpe ratio cannot be judged ({f.NA_REASONS['psr']}).")
    else:
        if evidence.psr >= 0.95:
            read = "more likely than not real skill, at the 95% level"
        elif evidence.psr <= 0.05:
            read = "a negative edge, at the 95% level"
        else:
            read = "not distinguishable from no skill over this period"
        parts.append(
            f"Its annualised daily Sharpe ratio is {f.ratio(sharpe)}; over {evidence.days} days the probability "
            f"that its true Sharpe is above zero is {f.pct(evidence.psr)}: {read}."
        )
    parts.append(
        f"Max drawdown {f.pct(metrics.get('max_drawdown'))} (buy-and-hold {f.pct(bh.get('max_drawdown'))})."
    )
    fee_share = metrics.get("fee_share_of_gross_profit")
    fees = (
        f"Fees took {f.pct(fee_share, 0)} of gross profit"
        if not f.is_missing(fee_share)
        else "There was no gross profit for fees to take"
    )
    parts.append(f"{fees}; it closed {f.ratio(per_day)} trades a day.")
    if deflated_sharpe is not None and n_trials:
        if f.is_missing(deflated_sharpe):
            parts.append(f"The sweep's deflated Sharpe over {n_trials} combinations cannot be computed.")
        else:
            passes = "passes" if deflated_sharpe >= 0.95 else "does not pass"
            parts.append(
                f"The best of {n_trials} swept combinations has a deflated Sharpe ratio of {f.pct(deflated_sharpe)}: "
                f"it {passes} the 95% bar once the number of combinations tried is accounted for."
            )
    return " ".join(parts)


def metrics_table(metrics: dict[str, Any], bh: dict[str, Any], quote: str = "") -> pd.DataFrame:
    """Formatted: metric, strategy, buy-and-hold, difference (blank where a metric has no B&H value)."""
    rows = []
    for name, value in metrics.items():
        other = bh.get(name)
        rows.append(
            {
                "metric": f.label(name),
                "strategy": f.metric(name, value, quote, signed=True),
                "buy and hold": "" if name not in bh else f.metric(name, other, quote, signed=True),
                "difference": "" if name not in bh else f.difference(name, value, other, quote),
            }
        )
    return pd.DataFrame(rows)
