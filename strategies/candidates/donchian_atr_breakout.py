"""Breakout: buy a close above the previous N-bar high; exit below the M-bar low; ATR-sized trailing stop."""

import pandas as pd

from lab.core.contract import Signals, Strategy, StrategyParams, param
from lab.strategy import indicators as ta


class DonchianAtrBreakout(Strategy):
    name = "donchian_atr_breakout"
    version = "1.0.0"
    parent_version = None
    timeframe = "5m"

    class Params(StrategyParams):
        entry_period: int = param(48, 12, 144, 12, "breakout above the highest high of this many bars")
        exit_period: int = param(24, 6, 72, 6, "exit below the lowest low of this many bars")
        atr_period: int = param(14, 14, 14, 1, "ATR period")
        atr_stop: float = param(3.0, 1.0, 5.0, 0.5, "trailing stop distance in ATRs")

    def warmup(self) -> int:
        return max(self.params.entry_period, self.params.exit_period, 3 * self.params.atr_period) + 1

    def signals(self, candles: pd.DataFrame) -> Signals:
        p = self.params
        close = candles["close"]
        upper = ta.donchian(candles, p.entry_period)["dc_upper"]
        lower = ta.donchian(candles, p.exit_period)["dc_lower"]
        atr = ta.atr(candles, p.atr_period)
        entries = close > upper
        exits = close < lower
        # Stop distance as a fraction of price, fixed at entry; capped below 1 so it stays a valid fraction.
        stop = (p.atr_stop * atr / close).clip(upper=0.5)
        return Signals(entries=entries.fillna(False).astype(bool), exits=exits.fillna(False).astype(bool),
                       stop_loss=stop, trailing=True, info=pd.DataFrame({"dc_upper": upper, "dc_lower": lower, "atr": atr}))
