"""Candlestick agent: TA-Lib's CDL pattern recognisers (engulfing, hammer, shooting star, morning and
evening star, three soldiers / crows, piercing, dark cloud, harami). Bullish patterns vote up, bearish
ones down; a bar with no pattern is judged and has no opinion (vote 0, confidence 0)."""

import numpy as np
import pandas as pd
import talib

from lab.core.agents import NOT_ENOUGH_HISTORY, Agent, AgentParams, Votes
from lab.core.contract import param

PATTERNS = (
    "CDLENGULFING",
    "CDLHAMMER",
    "CDLSHOOTINGSTAR",
    "CDLMORNINGSTAR",
    "CDLEVENINGSTAR",
    "CDL3WHITESOLDIERS",
    "CDL3BLACKCROWS",
    "CDLPIERCING",
    "CDLDARKCLOUDCOVER",
    "CDLHARAMI",
)


class Candlestick(Agent):
    name = "candlestick"
    version = "1.0.0"

    class Params(AgentParams):
        patterns_for_full_confidence: float = param(2.0, 1.0, 4.0, 1.0, "patterns agreeing for confidence 1")

    def warmup(self) -> int:
        return 12  # the longest TA-Lib pattern look-back (candle body averages) is about 10 bars

    def votes(self, candles, live=None):
        o, h, lo, c = (candles[k].to_numpy(dtype=float) for k in ("open", "high", "low", "close"))
        total = np.zeros(len(c))
        firing = np.zeros(len(c))
        for name in PATTERNS:
            out = getattr(talib, name)(o, h, lo, c) / 100.0  # +1 bullish, -1 bearish (+-2: confirmed)
            total += out
            firing += out != 0
        vote = pd.Series(np.clip(total, -1, 1), index=candles.index)
        confidence = pd.Series(
            np.minimum(1.0, firing / self.params.patterns_for_full_confidence), index=candles.index
        )
        confidence[vote == 0] = 0.0
        young = np.arange(len(c)) < self.warmup()
        return Votes.of(vote, confidence, {NOT_ENOUGH_HISTORY: young})
