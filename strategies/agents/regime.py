"""Regime agent: trend / range / high volatility from ADX, ATR and Bollinger width (lab.strategy.regime,
the same labels the engine stores on scans and trades). Votes with a trend, stays out of high
volatility, and has no opinion in a range."""

import numpy as np
import pandas as pd

from lab.core.agents import NOT_ENOUGH_HISTORY, Agent, AgentParams, Votes
from lab.core.contract import param
from lab.strategy.regime import regime_frame


class Regime(Agent):
    name = "regime"
    version = "1.0.0"

    class Params(AgentParams):
        period: int = param(14, 7, 28, 7, "ADX / ATR period")
        trend_adx: float = param(25.0, 15.0, 40.0, 5.0, "ADX above this is a trend")
        vol_lookback: int = param(96, 48, 288, 48, "bars of the volatility baseline")
        vol_ratio: float = param(1.6, 1.2, 2.4, 0.2, "volatility this far above its baseline is high")

    def warmup(self) -> int:
        return 3 * self.params.period + self.params.vol_lookback // 2

    def votes(self, candles, live=None):
        p = self.params
        f = regime_frame(candles, p.period, p.trend_adx, p.vol_lookback, p.vol_ratio)
        strength = ((f["adx"] - p.trend_adx) / p.trend_adx).clip(0, 1)
        label = f["regime"]
        vote = pd.Series(
            np.select(
                [label == "trend_up", label == "trend_down", label == "high_vol"],
                [strength, -strength, -0.5],
                0.0,
            ),
            index=candles.index,
        )
        confidence = pd.Series(
            np.select(
                [label.isin(["trend_up", "trend_down"]), label == "high_vol"],
                [0.4 + 0.6 * strength, 0.6],
                0.0,
            ),
            index=candles.index,
        )
        young = pd.Series(np.arange(len(candles)) < self.warmup(), index=candles.index)
        return Votes.of(vote, confidence, {NOT_ENOUGH_HISTORY: young | (label == "unknown")})

    @staticmethod
    def labels(candles: pd.DataFrame) -> pd.Series:
        return regime_frame(candles)["regime"]
