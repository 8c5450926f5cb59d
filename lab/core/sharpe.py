"""Sharpe-ratio statistics: probabilistic and deflated Sharpe ratio (Bailey & López de Prado).

Written out because no maintained library exposes them with the multiple-testing correction the
promotion gate needs; the formulas are in FIELD_NOTES.md and checked by tests.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

EULER_GAMMA = 0.5772156649015329
_N = NormalDist()


def probabilistic_sharpe(sr: float, n: int, skew: float, kurtosis: float, sr_benchmark: float = 0.0) -> float:
    """PSR(SR*) = Φ((SR − SR*)·√(n−1) / √(1 − γ3·SR + (γ4−1)/4·SR²)), per-period (not annualised) SR,
    γ4 the plain (not excess) kurtosis."""
    if n < 2:
        return float("nan")
    denom = 1 - skew * sr + (kurtosis - 1) / 4 * sr**2
    if denom <= 0:
        return float("nan")
    return _N.cdf((sr - sr_benchmark) * math.sqrt(n - 1) / math.sqrt(denom))


def expected_max_sharpe(n_trials: int, sr_variance: float) -> float:
    """Expected maximum Sharpe of n_trials zero-skill strategies whose Sharpes have variance sr_variance."""
    if n_trials < 2:
        return 0.0
    return math.sqrt(sr_variance) * (
        (1 - EULER_GAMMA) * _N.inv_cdf(1 - 1 / n_trials)
        + EULER_GAMMA * _N.inv_cdf(1 - 1 / (n_trials * math.e))
    )


def sharpe_moments(returns: np.ndarray) -> tuple[float, int, float, float] | None:
    """(per-period Sharpe, n, skewness, plain kurtosis) of the finite returns; None with fewer than
    three or no variation."""
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    if len(r) < 3 or r.std(ddof=1) == 0:
        return None
    z = (r - r.mean()) / r.std(ddof=0)
    return float(r.mean() / r.std(ddof=1)), len(r), float((z**3).mean()), float((z**4).mean())


def deflated_sharpe(returns: np.ndarray, n_trials: int, trial_sharpes: np.ndarray | None = None) -> float:
    """DSR: PSR of per-period returns against the expected max Sharpe of n_trials zero-skill trials.
    The variance across trials comes from trial_sharpes when given, else 1/(n−1) (the null's variance)."""
    moments = sharpe_moments(returns)
    if moments is None:
        return float("nan")
    sr, n, skew, kurt = moments
    finite = trial_sharpes[np.isfinite(trial_sharpes)] if trial_sharpes is not None else np.array([])
    variance = float(finite.var(ddof=1)) if len(finite) > 1 else 1.0 / (n - 1)
    return probabilistic_sharpe(sr, n, skew, kurt, expected_max_sharpe(n_trials, variance))


def min_track_record(
    sr: float, skew: float, kurtosis: float, sr_benchmark: float, alpha: float = 0.05
) -> float:
    """Minimum track record length (Bailey & López de Prado 2012): the number of periods needed for
    PSR(SR*) to reach 1 - alpha, 1 + (1 - γ3·SR + (γ4-1)/4·SR²)·(Φ⁻¹(1-α)/(SR - SR*))²; infinite when
    the Sharpe does not exceed the benchmark."""
    if not sr > sr_benchmark:
        return math.inf
    denom = 1 - skew * sr + (kurtosis - 1) / 4 * sr**2
    if denom <= 0:
        return math.inf
    return 1 + denom * (_N.inv_cdf(1 - alpha) / (sr - sr_benchmark)) ** 2
