"""Kelly sizing from a strategy's own closed trades: the estimate, its shrinkage, the clamp and the skip.

One vectorized function serves the backtester (every entry bar at once, from cumulative sums) and the
engine (one entry, from running sums), so both size an entry with the same floating-point operations.

What it returns is the fraction *allocated*: the share of the capital an entry spends (the lab's
execution model spends it from free cash, fees included). The fraction *risked* is that allocation
times the average loss per unit allocated (a); it is recorded beside it. The two Kelly forms:

- binary (the trader's form): f_risk = p − q/R with R = b/a (average win over average loss): the
  fraction of capital to *lose* on a losing trade;
- asymmetric (win b per unit, lose a per unit): f* = p/a − q/b = f_risk / a: the fraction to *allocate*.

Shrinkage (the estimation error of p, a and b): the growth-optimal multiple of an estimated Kelly
fraction under parameter uncertainty is about f̂²/(f̂² + Var f̂) (Baker & McHale, "Optimal betting under
parameter uncertainty", 2013), with Var f̂ from the delta method on p̂, â and b̂. Chosen over a lower
confidence bound because it shrinks smoothly with the evidence (no arbitrary confidence level) and
goes to 1 as trades accumulate. Then the fractional multiple (default ¼), then the cap (15%); below the
minimum (2%) the trade is skipped, never floored up (flooring makes the expected log growth negative
once f* < ~1%: FIELD_NOTES §3).

Written by hand: no maintained library sizes trades by Kelly with these statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Why an entry was not sized by Kelly, or was skipped. "" = sized by Kelly.
FALLBACK_FEW_TRADES = "fallback: fewer closed trades than sizing.min_trades"
FALLBACK_FEW_LOSSES = "fallback: fewer than 2 losing trades, the loss size cannot be measured"
SKIP_FEW_WINS = "skip: fewer than 2 winning trades, no edge shown"
SKIP_NO_EDGE = "skip: Kelly fraction <= 0 (no edge after costs)"
SKIP_BELOW_MIN = "skip: fraction below sizing.min_fraction (never floored up)"


@dataclass(frozen=True)
class KellyRule:
    """The sizing rule's settings (from config.sizing)."""

    kelly_fraction: float = 0.25
    max_fraction: float = 0.15
    min_fraction: float = 0.02
    min_trades: int = 30
    fallback_fraction: float = 0.05
    shrink: bool = True


@dataclass
class TradeSums:
    """Running sums of closed-trade returns (per unit allocated, net of both fees). Wins are r > 0;
    losses r <= 0, kept as positive magnitudes."""

    n: int = 0
    wins: int = 0
    sum_win: float = 0.0
    sum_win2: float = 0.0
    sum_loss: float = 0.0
    sum_loss2: float = 0.0

    def add(self, r: float) -> None:
        self.n += 1
        if r > 0:
            self.wins += 1
            self.sum_win += r
            self.sum_win2 += r * r
        else:
            self.sum_loss += -r
            self.sum_loss2 += r * r


def trade_return(
    entry_price: float | np.ndarray, exit_price: float | np.ndarray, fee: float | np.ndarray
) -> Any:
    """Net return per unit allocated of a trade between two fill prices, both taker fees paid: an entry
    spends 1 (fees included), buying 1/((1+fee)·entry) units, sold for exit·(1−fee) each."""
    return (exit_price * (1 - fee)) / (entry_price * (1 + fee)) - 1


def cumulative_sums(returns: np.ndarray) -> dict[str, np.ndarray]:
    """TradeSums after 0, 1, …, len(returns) trades (index k = the first k trades), as arrays. The same
    sequential additions as TradeSums.add, so the backtester and the engine agree to the last bit."""
    r = np.asarray(returns, dtype=np.float64)
    win = r > 0

    def acc(values: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.add.accumulate(values)]) if len(values) else np.zeros(1)

    return {
        "n": np.arange(len(r) + 1),
        "wins": np.concatenate([[0], np.cumsum(win)]),
        "sum_win": acc(np.where(win, r, 0.0)),
        "sum_win2": acc(np.where(win, r * r, 0.0)),
        "sum_loss": acc(np.where(win, 0.0, -r)),
        "sum_loss2": acc(np.where(win, 0.0, r * r)),
    }


def _sample_var(total: np.ndarray, total2: np.ndarray, count: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (total2 - total * total / count) / (count - 1)
    return np.where(count > 1, np.maximum(var, 0.0), np.nan)


def kelly_sizing(
    n: np.ndarray,
    wins: np.ndarray,
    sum_win: np.ndarray,
    sum_win2: np.ndarray,
    sum_loss: np.ndarray,
    sum_loss2: np.ndarray,
    rule: KellyRule,
) -> dict[str, np.ndarray]:
    """The sizing decision for each row of trade sums: p, a, b, both Kelly forms, the shrunk fraction,
    the allocated fraction (0 when skipped), whether the cap bound, and the reason ("" = Kelly-sized)."""
    n = np.asarray(n, dtype=np.float64)
    w = np.asarray(wins, dtype=np.float64)
    nl = n - w
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, w / n, np.nan)
        q = 1.0 - p
        b = np.where(w > 0, sum_win / w, np.nan)  # mean win per unit allocated
        a = np.where(nl > 0, sum_loss / nl, np.nan)  # mean loss per unit allocated
        f_risk = p - q / (b / a)  # binary form: fraction of capital risked
        f_star = p / a - q / b  # asymmetric form: fraction allocated
        var_p = p * q / n
        var_a = _sample_var(sum_loss, sum_loss2, nl) / nl
        var_b = _sample_var(sum_win, sum_win2, w) / w
        var_f = (1 / a + 1 / b) ** 2 * var_p + (p / a**2) ** 2 * var_a + (q / b**2) ** 2 * var_b
        shrink = f_star**2 / (f_star**2 + var_f) if rule.shrink else np.ones_like(f_star)
        f_shrunk = f_star * shrink
    raw = rule.kelly_fraction * f_shrunk
    capped = raw > rule.max_fraction
    fraction = np.minimum(raw, rule.max_fraction)
    reason = np.full(n.shape, "", dtype=object)
    few_trades = n < rule.min_trades
    few_wins = ~few_trades & (w < 2)
    few_losses = ~few_trades & ~few_wins & (nl < 2)
    no_edge = ~few_trades & ~few_wins & ~few_losses & ~(f_star > 0)
    below = ~few_trades & ~few_wins & ~few_losses & ~no_edge & (fraction < rule.min_fraction)
    reason[few_trades] = FALLBACK_FEW_TRADES
    reason[few_losses] = FALLBACK_FEW_LOSSES
    reason[few_wins] = SKIP_FEW_WINS
    reason[no_edge] = SKIP_NO_EDGE
    reason[below] = SKIP_BELOW_MIN
    fallback = few_trades | few_losses
    fraction = np.where(fallback, rule.fallback_fraction, fraction)
    fraction = np.where(few_wins | no_edge | below, 0.0, fraction)
    return {
        "n_trades": n.astype(np.int64),
        "p": p,
        "a": a,
        "b": b,
        "f_binary_risked": f_risk,
        "f_star": f_star,
        "shrink": shrink,
        "f_shrunk": f_shrunk,
        "fraction": fraction,
        "risked": np.where(fallback, np.nan, fraction * a),
        "cap_bound": capped & ~fallback & (fraction > 0),
        "reason": reason,
    }


def is_skip(reason: str) -> bool:
    return reason.startswith("skip")
