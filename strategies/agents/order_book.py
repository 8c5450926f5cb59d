"""Order-book agent: bid/ask volume imbalance over the best levels of ccxt's order book. Live only: the
book exists for the newest bar of a live feed, so in a backtest (and for every earlier bar) it
abstains."""

import numpy as np
import pandas as pd

from lab.core.agents import LIVE_ONLY, MISSING_INPUT, Agent, AgentParams, Votes
from lab.core.contract import param


class OrderBook(Agent):
    name = "order_book"
    version = "1.0.0"

    class Params(AgentParams):
        depth: int = param(10, 1, 50, 5, "price levels per side")
        full_imbalance: float = param(0.5, 0.1, 1.0, 0.1, "imbalance that gives a full vote")

    def warmup(self) -> int:
        return 0

    def votes(self, candles, live=None):
        index = candles.index
        if live is None or len(index) == 0:
            return Votes.abstain_all(index, LIVE_ONLY)
        reasons = np.full(len(index), LIVE_ONLY, dtype=object)
        vote = pd.Series(np.nan, index=index)
        conf = pd.Series(np.nan, index=index)
        if not live.bids or not live.asks:
            reasons[-1] = MISSING_INPUT
        else:
            d = self.params.depth
            bid = float(sum(a for _, a in live.bids[:d]))
            ask = float(sum(a for _, a in live.asks[:d]))
            if bid + ask <= 0:
                reasons[-1] = MISSING_INPUT
            else:
                imbalance = (bid - ask) / (bid + ask)
                vote.iloc[-1] = float(np.clip(imbalance / self.params.full_imbalance, -1, 1))
                conf.iloc[-1] = float(min(1.0, abs(imbalance) / self.params.full_imbalance))
                reasons[-1] = ""
        return Votes(
            vote.rename("vote"), conf.rename("confidence"), pd.Series(reasons, index=index, name="abstain")
        )
