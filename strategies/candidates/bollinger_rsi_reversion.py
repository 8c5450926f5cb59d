"""Mean reversion: buy a close below the lower Bollinger band with RSI oversold; sell at the middle band."""

import pandas as pd

from lab.core.contract import Signals, Strategy, StrategyParams, param
from lab.strategy import indicators as ta


class BollingerRsiReversion(Strategy):
    name = "bollinger_rsi_reversion"
    version = "1.0.0"
    parent_version = None
    timeframe = "5m"

    class Params(StrategyParams):
        bb_period: int = param(20, 10, 60, 5, "Bollinger period")
        bb_width: float = param(2.0, 1.5, 3.0, 0.25, "band width in standard deviations")
        rsi_period: int = param(14, 7, 21, 7, "RSI period")
        rsi_entry: float = param(30.0, 15.0, 40.0, 5.0, "enter only when RSI is below this")
        rsi_exit: float = param(65.0, 50.0, 80.0, 5.0, "exit when RSI is above this")
        stop_loss: float = param(0.04, 0.01, 0.10, 0.01, "stop-loss, fraction of entry price")

    def warmup(self) -> int:
        return max(self.params.bb_period, 3 * self.params.rsi_period) + 1

    def signals(self, candles: pd.DataFrame) -> Signals:
        p = self.params
        close = candles["close"]
        bands = ta.bollinger(close, p.bb_period, p.bb_width)
        rsi = ta.rsi(close, p.rsi_period)
        entries = (close < bands["bb_lower"]) & (rsi < p.rsi_entry)
        exits = (close > bands["bb_middle"]) | (rsi > p.rsi_exit)
        return Signals(entries=entries.fillna(False).astype(bool), exits=exits.fillna(False).astype(bool),
                       stop_loss=p.stop_loss, info=bands.assign(rsi=rsi))
