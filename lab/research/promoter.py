"""The statistical promoter: may a shadow replace the active strategy? Deterministic statistics on the
two books' daily returns over the same days decide; an LLM never does.

A shadow is promoted only when every test passes:
- PSR: the probabilistic Sharpe ratio of the shadow's daily Sharpe against the active one's Sharpe as
  the benchmark, at least psr_min;
- track record: at least the minimum track record length (Bailey & López de Prado) for that
  benchmark at track_alpha, and at least min_days;
- paired test: a one-sided paired t-test (scipy) of the daily return differences, p below
  paired_alpha;
- DSR: the deflated Sharpe ratio of the shadow's returns with N = every candidate the lab has ever
  evaluated (all experiments' trials, sweep combinations, shadows), at least dsr_min.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from lab.core.config import PromoterConfig
from lab.core.sharpe import deflated_sharpe, min_track_record, probabilistic_sharpe, sharpe_moments

TESTS = ("track_record", "psr", "paired", "dsr")


@dataclass(frozen=True)
class Evaluation:
    shadow: str
    days: int
    sharpe_shadow: float
    sharpe_active: float
    psr: float
    min_track_days: float
    paired_t: float
    paired_p: float
    dsr: float
    n_trials: int
    passed: dict[str, bool] = field(default_factory=dict)
    decision: str = "hold"  # promote, hold, insufficient
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()
        }


def aligned(shadow: pd.Series, active: pd.Series) -> pd.DataFrame:
    """The two books' daily returns on the days both have."""
    both = pd.concat({"shadow": shadow, "active": active}, axis=1, join="inner").dropna()
    return both.sort_index()


def _insufficient(name: str, days: int, n_trials: int, reason: str) -> Evaluation:
    nan = float("nan")
    return Evaluation(name, days, nan, nan, nan, nan, nan, nan, nan, n_trials, {}, "insufficient", reason)


def evaluate(
    name: str, shadow: pd.Series, active: pd.Series, n_trials: int, cfg: PromoterConfig
) -> Evaluation:
    """Every test on the common days; the decision and, in words, why."""
    both = aligned(shadow, active)
    n = len(both)
    if n < max(cfg.min_days, 3):
        return _insufficient(
            name, n, n_trials, f"{n} common days of returns, {cfg.min_days} needed before any judgement"
        )
    s, a = both["shadow"].to_numpy(), both["active"].to_numpy()
    ms, ma = sharpe_moments(s), sharpe_moments(a)
    if ms is None:
        return _insufficient(name, n, n_trials, "the shadow's returns do not vary: no Sharpe ratio")
    sr_s, _, skew, kurt = ms
    sr_a = ma[0] if ma is not None else 0.0
    psr = probabilistic_sharpe(sr_s, n, skew, kurt, sr_a)
    mintrl = min_track_record(sr_s, skew, kurt, sr_a, cfg.track_alpha)
    diff = s - a
    if np.std(diff) <= 1e-12 * max(1.0, abs(float(np.mean(diff)))):  # a constant difference: no variance
        t, p = float("nan"), (0.0 if diff[0] > 0 else 1.0)
    else:
        res = stats.ttest_1samp(diff, 0.0, alternative="greater")
        t, p = float(res.statistic), float(res.pvalue)
    dsr = deflated_sharpe(s, max(n_trials, 1))
    passed = {
        "track_record": bool(n >= cfg.min_days and n >= mintrl),
        "psr": bool(psr >= cfg.psr_min),
        "paired": bool(p < cfg.paired_alpha),
        "dsr": bool(dsr >= cfg.dsr_min),
    }
    failed = [k for k in TESTS if not passed[k]]
    if not failed:
        decision = "promote"
        reason = (
            f"every test passed over {n} days: PSR {psr:.3f} ≥ {cfg.psr_min} against the active Sharpe "
            f"{sr_a:.3f}, track record {n} ≥ {mintrl:.0f} days, paired t-test p = {p:.2g} < {cfg.paired_alpha}, "
            f"DSR {dsr:.3f} ≥ {cfg.dsr_min} with N = {n_trials} candidates evaluated"
        )
    else:
        words = {
            "track_record": f"track record {n} of {mintrl:.0f} days needed"
            if math.isfinite(mintrl)
            else "its Sharpe does not exceed the active one's: no track record is long enough",
            "psr": f"PSR {psr:.3f} < {cfg.psr_min}",
            "paired": f"paired t-test p = {p:.2g} ≥ {cfg.paired_alpha}",
            "dsr": f"DSR {dsr:.3f} < {cfg.dsr_min} with N = {n_trials}",
        }
        decision, reason = "hold", "not promoted: " + "; ".join(words[k] for k in failed)
    return Evaluation(name, n, sr_s, sr_a, psr, mintrl, t, p, dsr, n_trials, passed, decision, reason)
