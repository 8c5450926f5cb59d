"""Funding-rate agent: a high positive perpetual funding rate means crowded longs (contrarian bearish),
a negative one crowded shorts. Only when the exchange offers funding rates through ccxt (spot
exchanges do not): otherwise, and in every backtest, it abstains."""

import numpy as np
import pandas as pd

from lab.core.agents import LIVE_ONLY, MISSING_INPUT, Agent, AgentParams, Votes
from lab.core.contract import param

NOT_OFFERED = "the exchange offers no funding rate"


class FundingRate(Agent):
    name = "funding_rate"
    version = "1.0.0"

    class Params(AgentParams):
        full_rate: float = param(0.0005, 0.0001, 0.003, 0.0001, "funding rate per interval for a full vote")

    def warmup(self) -> int:
        return 0

    def votes(self, candles, live=None):
        index = candles.index
        if live is None or len(index) == 0:
            return Votes.abstain_all(index, LIVE_ONLY)
        if not live.funding_offered:
            return Votes.abstain_all(index, NOT_OFFERED)
        reasons = np.full(len(index), LIVE_ONLY, dtype=object)
        vote = pd.Series(np.nan, index=index)
        conf = pd.Series(np.nan, index=index)
        if live.funding_rate is None or not np.isfinite(live.funding_rate):
            reasons[-1] = MISSING_INPUT
        else:
            x = live.funding_rate / self.params.full_rate
            vote.iloc[-1], conf.iloc[-1], reasons[-1] = float(-np.clip(x, -1, 1)), float(min(1.0, abs(x))), ""
        return Votes(
            vote.rename("vote"), conf.rename("confidence"), pd.Series(reasons, index=index, name="abstain")
        )
