"""Time-pattern agent: does the next bar's return depend on its hour of the day or day of the week?

For each bar it estimates, from past bars only, the mean log return of bars in the same hour (and on
the same weekday) as the next bar, over the last `lookback` such bars, and votes the sign of that edge
scaled by its t-statistic. Too few past samples: it abstains."""

import numpy as np
import pandas as pd

from lab.core.agents import NOT_ENOUGH_HISTORY, Agent, AgentParams, Votes
from lab.core.contract import param
from lab.strategy.agent_tools import bar_ns


def _past_stats(r: pd.Series, key: np.ndarray, lookback: int) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Mean, standard deviation and count of r[j] over the last `lookback` earlier bars j < i with
    key[j] == key[i] (r[j] is the return from bar j to j + 1: known by bar i)."""
    groups = pd.Series(key, index=r.index)
    g = r.groupby(groups)
    s1 = g.cumsum() - r
    s2 = (r * r).groupby(groups).cumsum() - r * r
    n = g.cumcount().astype(float)
    s1_old = s1.groupby(groups).shift(lookback).fillna(0.0)
    s2_old = s2.groupby(groups).shift(lookback).fillna(0.0)
    count = n.clip(upper=lookback)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (s1 - s1_old) / count
        var = ((s2 - s2_old) - count * mean * mean) / (count - 1)
    return mean, np.sqrt(var.clip(lower=0)), count


class TimePattern(Agent):
    name = "time_pattern"
    version = "1.0.0"

    class Params(AgentParams):
        lookback: int = param(120, 30, 400, 30, "past same-hour (same-weekday) bars averaged")
        min_samples: int = param(24, 10, 100, 10, "fewer past samples: abstain")
        t_full: float = param(3.0, 2.0, 5.0, 0.5, "t-statistic that gives a full vote")

    def warmup(self) -> int:
        return 0  # abstains by itself until it has min_samples per bucket

    def votes(self, candles, live=None):
        p = self.params
        close = candles["close"].astype(float)
        r = np.log(close.shift(-1) / close).fillna(0.0)  # return over the next bar (last: unknown, 0)
        step = pd.Timedelta(bar_ns(candles.index) or 1)
        nxt = candles.index + step  # the bar each row's vote is about
        votes, confs, enough = [], [], np.zeros(len(close), dtype=bool)
        for key, weight in (
            (nxt.hour.to_numpy(), 1.0),
            (nxt.dayofweek.to_numpy() * 24 + nxt.hour.to_numpy(), 0.5),
        ):
            mean, sd, n = _past_stats(r, key, p.lookback)
            with np.errstate(divide="ignore", invalid="ignore"):
                t = (mean / (sd / np.sqrt(n))).replace([np.inf, -np.inf], np.nan)
            ok = (n >= p.min_samples) & t.notna()
            votes.append(weight * (t / p.t_full).clip(-1, 1).where(ok, 0.0))
            confs.append(weight * (n / (n + p.min_samples)).where(ok, 0.0))
            enough |= ok.to_numpy()
        total_w = np.where(enough, 1.5, 1.0)
        vote = ((votes[0] + votes[1]) / total_w).clip(-1, 1)
        confidence = ((confs[0] + confs[1]) / 1.5).clip(0, 1) * (vote.abs() > 0)
        return Votes.of(vote, confidence, {NOT_ENOUGH_HISTORY: ~enough})
