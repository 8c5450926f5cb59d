"""EMA 9/21 crossover, filtered by RSI 14 and volume: the lab's first active strategy.

Enter when the fast EMA crosses above the slow EMA, RSI is not overbought and volume is at least
1.2x its 20-bar average. Exit when the fast EMA crosses back below, or RSI is overbought.
"""

import pandas as pd

from lab.core.contract import Signals, Strategy, StrategyParams, param
from lab.strategy import indicators as ta


class EmaRsiVolume(Strategy):
    name = "ema_rsi_volume"
    version = "1.0.0"
    parent_version = None
    timeframe = "5m"

    class Params(StrategyParams):
        fast: int = param(9, 3, 30, 3, "fast EMA period")
        slow: int = param(21, 10, 80, 5, "slow EMA period")
        rsi_period: int = param(14, 14, 14, 1, "RSI period")
        rsi_max: float = param(70.0, 55.0, 80.0, 5.0, "no entry when RSI is above this")
        rsi_exit: float = param(80.0, 70.0, 90.0, 5.0, "exit when RSI is above this")
        volume_min: float = param(1.2, 0.8, 2.0, 0.2, "minimum volume / 20-bar average volume")
        stop_loss: float = param(0.03, 0.01, 0.08, 0.01, "stop-loss, fraction of entry price")
        take_profit: float = param(0.06, 0.02, 0.16, 0.02, "take-profit, fraction of entry price")

        def model_post_init(self, _context: object) -> None:
            if self.fast >= self.slow:
                raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")

    def warmup(self) -> int:
        # EMA needs several periods to forget its seed value.
        return max(3 * self.params.slow, 20) + 1

    def signals(self, candles: pd.DataFrame) -> Signals:
        p = self.params
        fast, slow = ta.ema(candles["close"], p.fast), ta.ema(candles["close"], p.slow)
        rsi = ta.rsi(candles["close"], p.rsi_period)
        vol = ta.volume_ratio(candles["volume"], 20)
        entries = ta.crossed_above(fast, slow) & (rsi < p.rsi_max) & (vol >= p.volume_min)
        exits = ta.crossed_below(fast, slow) | (rsi > p.rsi_exit)
        info = pd.DataFrame({"ema_fast": fast, "ema_slow": slow, "rsi": rsi, "volume_ratio": vol}, copy=False)
        return Signals(entries=entries.fillna(False).astype(bool), exits=exits.fillna(False).astype(bool),
                       stop_loss=p.stop_loss, take_profit=p.take_profit, info=info)
