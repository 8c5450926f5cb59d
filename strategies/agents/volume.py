"""Volume agent: the bar's direction weighted by how unusual its volume is (volume over its 20-bar
average), and on-balance volume against its own EMA (accumulation or distribution)."""

import numpy as np
import pandas as pd
import talib

from lab.core.agents import MISSING_INPUT, NOT_ENOUGH_HISTORY, Agent, AgentParams, Votes
from lab.core.contract import param
from lab.strategy import indicators as ta


class Volume(Agent):
    name = "volume"
    version = "1.0.0"

    class Params(AgentParams):
        period: int = param(20, 10, 50, 10, "volume average and OBV EMA period")

    def warmup(self) -> int:
        return 2 * self.params.period + 1

    def votes(self, candles, live=None):
        p = self.params
        close, volume = candles["close"], candles["volume"]
        ratio = ta.volume_ratio(volume, p.period)
        direction = np.sign(close - candles["open"])
        surge = np.tanh((ratio - 1.0).clip(lower=0)) * direction
        obv = pd.Series(
            talib.OBV(close.to_numpy(dtype=float), volume.to_numpy(dtype=float)), index=close.index
        )
        obv_ema = ta.ema(obv, p.period)
        scale = volume.rolling(p.period).mean() * np.sqrt(p.period)
        with np.errstate(divide="ignore", invalid="ignore"):
            flow = np.tanh((obv - obv_ema) / scale)
        vote = (0.5 * surge + 0.5 * flow).clip(-1, 1)
        confidence = (0.5 * ratio.clip(upper=3.0) / 3.0 + 0.5 * flow.abs()).clip(0, 1)
        young = pd.Series(np.arange(len(close)) < self.warmup(), index=close.index)
        missing = vote.isna() | confidence.isna()
        return Votes.of(vote, confidence, {NOT_ENOUGH_HISTORY: young, MISSING_INPUT: missing})
