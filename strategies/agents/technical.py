"""Technical agent: trend (EMA fast vs slow, in ATRs), momentum (RSI around 50) and MACD histogram.

The vote is their weighted blend; the confidence is how much the three agree."""

import numpy as np
import pandas as pd

from lab.core.agents import MISSING_INPUT, NOT_ENOUGH_HISTORY, Agent, AgentParams, Votes
from lab.core.contract import param
from lab.strategy import indicators as ta


class Technical(Agent):
    name = "technical"
    version = "1.0.0"

    class Params(AgentParams):
        fast: int = param(12, 5, 30, 1, "fast EMA period")
        slow: int = param(26, 15, 80, 5, "slow EMA period")
        rsi_period: int = param(14, 7, 28, 7, "RSI period")

        def model_post_init(self, _context: object) -> None:
            if self.fast >= self.slow:
                raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")

    def warmup(self) -> int:
        return 3 * self.params.slow + 1

    def votes(self, candles, live=None):
        p, close = self.params, candles["close"]
        atr = ta.atr(candles, 14)
        trend = np.tanh((ta.ema(close, p.fast) - ta.ema(close, p.slow)) / atr)
        momentum = ((ta.rsi(close, p.rsi_period) - 50.0) / 20.0).clip(-1, 1)
        hist = np.tanh(ta.macd(close)["macd_hist"] / (0.25 * atr))
        vote = (0.5 * trend + 0.3 * momentum + 0.2 * hist).clip(-1, 1)
        agreement = (np.sign(trend) + np.sign(momentum) + np.sign(hist)).abs() / 3.0
        young = pd.Series(np.arange(len(close)) < self.warmup(), index=close.index)
        return Votes.of(
            vote, agreement, {NOT_ENOUGH_HISTORY: young, MISSING_INPUT: vote.isna() | agreement.isna()}
        )
