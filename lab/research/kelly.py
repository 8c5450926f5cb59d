"""Kelly theory, checked against a strategy's own trades: the growth curve g(f), the continuous model's
predictions for fractional Kelly, vectorized Monte Carlo against them, bootstrap bands on f*, and what
estimation error does to growth.

The continuous model (FIELD_NOTES §3): log-wealth is a Brownian motion; betting c·f* gives drift
c(2−c)·g* and variance c²·2g* per unit time, so the chance of ever falling to x of current wealth is
x^(2/c−1) and of reaching x before y is (1 − y^(−k)) / (x^(−k) − y^(−k)) with k = 2/c − 1. Simulated in
discrete steps, a barrier is crossed between steps unseen; the barriers are moved toward the start by
0.5826·σ·√dt (Broadie, Glasserman & Kou 1997) so the discrete estimate reads the continuous value.

Written by hand: no maintained library implements these Kelly diagnostics; numerics are numpy/scipy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.stats import norm

from lab.core.kelly import KellyRule, kelly_sizing

BGK_BETA = 0.5826  # −ζ(1/2)/√(2π): the discrete-monitoring barrier shift


# --- the trade distribution ------------------------------------------------------------------------
def growth(f: np.ndarray | float, returns: np.ndarray) -> np.ndarray:
    """Expected log growth per trade g(f) = mean(log(1 + f·r)) of allocating f to each trade; −inf
    where a loss would wipe out more than everything."""
    r = np.asarray(returns, dtype=float)[None, :]
    fs = np.atleast_1d(np.asarray(f, dtype=float))[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        g = np.log1p(fs * r).mean(axis=1)
    return np.where(np.isnan(g), -np.inf, g)


def binary_growth(f: np.ndarray | float, p: float, a: float, b: float) -> np.ndarray:
    """g(f) = p·ln(1 + b·f) + q·ln(1 − a·f): win b or lose a per unit allocated."""
    f = np.asarray(f, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return p * np.log1p(b * f) + (1 - p) * np.log1p(-a * f)


def max_fraction(returns: np.ndarray) -> float:
    """The largest allocation with no trade losing everything: 1/|worst loss| (inf with no loss)."""
    worst = float(np.min(returns)) if len(returns) else 0.0
    return math.inf if worst >= 0 else 1.0 / -worst


def empirical_kelly(returns: np.ndarray) -> float:
    """argmax_f g(f) on the trades themselves (no normal or binary approximation); 0 with no edge."""
    r = np.asarray(returns, dtype=float)
    if len(r) == 0 or r.mean() <= 0:
        return 0.0
    hi = min(max_fraction(r), 1e6) * (1 - 1e-9)
    res = minimize_scalar(lambda f: -growth(f, r)[0], bounds=(0.0, hi), method="bounded")
    return float(res.x)


def asymmetric_kelly(returns: np.ndarray) -> np.ndarray:
    """f* = p/a − q/b from a sample of trades, for each row of a (samples, trades) array: the sizer's
    own formula (lab.core.kelly), on each row's trade sums."""
    r = np.atleast_2d(np.asarray(returns, dtype=float))
    win = r > 0
    sums = (
        np.full(r.shape[0], r.shape[1]),
        win.sum(axis=1),
        np.where(win, r, 0.0).sum(axis=1),
        np.where(win, r * r, 0.0).sum(axis=1),
        np.where(win, 0.0, -r).sum(axis=1),
        np.where(win, 0.0, r * r).sum(axis=1),
    )
    return kelly_sizing(*sums, KellyRule(min_trades=1, shrink=False))["f_star"]


def bootstrap_kelly(returns: np.ndarray, n_boot: int, seed: int, level: float = 0.9) -> dict[str, float]:
    """Bootstrap band on f* (asymmetric form): resample the trades with replacement."""
    r = np.asarray(returns, dtype=float)
    rng = np.random.default_rng(seed)
    samples = r[rng.integers(0, len(r), size=(n_boot, len(r)))]
    f = asymmetric_kelly(samples)
    f = f[np.isfinite(f)]
    lo, hi = np.quantile(f, [(1 - level) / 2, (1 + level) / 2]) if len(f) else (np.nan, np.nan)
    return {
        "f_star": float(asymmetric_kelly(r)[0]),
        "low": float(lo),
        "high": float(hi),
        "level": level,
        "share_positive": float((f > 0).mean()) if len(f) else math.nan,
        "samples": len(f),
    }


# --- the continuous model --------------------------------------------------------------------------
def growth_share(c: float | np.ndarray) -> float | np.ndarray:
    """Growth of c·f* as a share of the optimum: c(2 − c) (half Kelly keeps 75%)."""
    return c * (2 - c)


def prob_ever_below(x: float, c: float) -> float:
    """Probability of ever falling to a fraction x (< 1) of current wealth betting c·f*: x^(2/c − 1)."""
    return x ** (2 / c - 1)


def prob_down_before_up(x: float, y: float, c: float) -> float:
    """Probability of falling to x before rising to y (x < 1 < y) betting c·f*."""
    k = 2 / c - 1
    return (1 - y ** (-k)) / (x ** (-k) - y ** (-k))


def prob_below_by(x: float, c: float, g_star: float, horizon: float) -> float:
    """Probability of falling to x by time T (finite horizon): first passage of a Brownian motion with
    drift m = c(2−c)g* and variance s² = 2g*c² to −L = ln x."""
    m, s = c * (2 - c) * g_star, math.sqrt(2 * g_star) * c
    low, st = -math.log(x), s * math.sqrt(horizon)
    return float(
        norm.cdf((-low - m * horizon) / st)
        + math.exp(-2 * m * low / s**2) * norm.cdf((-low + m * horizon) / st)
    )


@dataclass(frozen=True)
class MonteCarlo:
    c: float
    growth: float  # mean log-wealth per unit time
    growth_se: float
    p_below: float  # reached x at least once by the horizon (barrier-corrected)
    p_below_se: float
    p_down_first: float  # of the paths that hit either barrier, the share that hit x first
    p_down_first_se: float
    unresolved: float  # share of paths that hit neither barrier by the horizon
    paths: np.ndarray  # a few log-wealth paths for plotting (rows), on a thinned time grid


def simulate_fraction(
    c: float,
    g_star: float,
    *,
    horizon: float,
    steps: int,
    n_paths: int,
    seed: int,
    x: float = 0.5,
    y: float = 2.0,
    keep: int = 20,
    chunk: int = 2000,
) -> MonteCarlo:
    """Vectorized Monte Carlo of log-wealth betting c·f* in the continuous model, in chunks of paths
    so memory stays at chunk × steps floats."""
    rng = np.random.default_rng(seed)
    dt = horizon / steps
    m, s = c * (2 - c) * g_star, math.sqrt(2 * g_star) * c
    shift = BGK_BETA * s * math.sqrt(dt)
    low, high = math.log(x) + shift, math.log(y) - shift
    finals, below, down_first, resolved = [], [], [], []
    kept = None
    for start in range(0, n_paths, chunk):
        k = min(chunk, n_paths - start)
        logw = np.cumsum(m * dt + s * math.sqrt(dt) * rng.standard_normal((k, steps)), axis=1)
        finals.append(logw[:, -1])
        below.append((logw <= low).any(axis=1))
        hit_low = np.where((logw <= low).any(axis=1), (logw <= low).argmax(axis=1), steps)
        hit_high = np.where((logw >= high).any(axis=1), (logw >= high).argmax(axis=1), steps)
        res = (hit_low < steps) | (hit_high < steps)
        resolved.append(res)
        down_first.append(hit_low < hit_high)
        if kept is None:
            kept = logw[:keep, :: max(1, steps // 400)]
    final = np.concatenate(finals) / horizon
    b, d, r = np.concatenate(below), np.concatenate(down_first), np.concatenate(resolved)
    p_d = float(d[r].mean()) if r.any() else math.nan
    return MonteCarlo(
        c=c,
        growth=float(final.mean()),
        growth_se=float(final.std(ddof=1) / math.sqrt(len(final))),
        p_below=float(b.mean()),
        p_below_se=float(math.sqrt(b.mean() * (1 - b.mean()) / len(b))),
        p_down_first=p_d,
        p_down_first_se=float(math.sqrt(p_d * (1 - p_d) / max(1, r.sum()))),
        unresolved=float(1 - r.mean()),
        paths=np.asarray(kept),
    )


# --- the strategy's own trades ---------------------------------------------------------------------
def trade_paths(returns: np.ndarray, f: float, n_paths: int, seed: int, keep: int = 20) -> dict[str, object]:
    """Wealth paths from resampling the strategy's trades (a bootstrap of the sequence) allocating f to
    each: the realised log growth per trade against the predicted g(f)."""
    r = np.asarray(returns, dtype=float)
    rng = np.random.default_rng(seed)
    draws = r[rng.integers(0, len(r), size=(n_paths, len(r)))]
    with np.errstate(invalid="ignore", divide="ignore"):
        logw = np.cumsum(np.log1p(f * draws), axis=1)
    per_trade = logw[:, -1] / len(r)
    return {
        "f": f,
        "predicted": float(growth(f, r)[0]),
        "realised_in_order": float(np.log1p(f * r).sum() / len(r)),
        "simulated": float(np.nanmean(per_trade)),
        "simulated_se": float(np.nanstd(per_trade, ddof=1) / math.sqrt(n_paths)),
        "p_halved": float((np.minimum.accumulate(logw, axis=1)[:, -1] <= math.log(0.5)).mean()),
        "paths": logw[:keep],
    }


def estimation_error_table(
    returns: np.ndarray, multiples: tuple[float, ...], n_boot: int, seed: int
) -> list[dict]:
    """What betting a multiple of an *estimated* f* does, judged on the full sample as the truth: the
    estimate is f* of a bootstrap resample (the error a real estimate has), the growth is the full
    sample's g at that fraction, as a share of the best growth. Mean and 10% quantile over resamples."""
    r = np.asarray(returns, dtype=float)
    f_true = empirical_kelly(r)
    g_best = float(growth(f_true, r)[0]) if f_true > 0 else math.nan
    rng = np.random.default_rng(seed)
    est = np.array([empirical_kelly(r[rng.integers(0, len(r), len(r))]) for _ in range(n_boot)])
    rows = []
    for c in multiples:
        g = growth(np.minimum(c * est, max_fraction(r) * (1 - 1e-9)), r) / g_best
        g = np.where(np.isfinite(g), g, -np.inf)
        rows.append(
            {
                "multiple of estimated f*": c,
                "theory (exact f*)": float(growth_share(c)),
                "mean growth share": float(np.mean(np.maximum(g, -10))),
                "10% worst growth share": float(np.quantile(np.maximum(g, -10), 0.1)),
                "share of estimates losing money": float((g < 0).mean()),
            }
        )
    return rows
