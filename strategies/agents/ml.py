"""ML agent: a scikit-learn gradient-boosting classifier of the direction of the next `horizon_hours`
(1, 4 or 24 h) from TA-Lib features, trained walk-forward on samples whose outcome was known strictly
before each prediction (lab.strategy.agent_tools.walk_forward_blocks), refitted every `retrain_hours`.
It votes 2p - 1 where the predicted probability p of a rise is far enough from 1/2 (the confidence
threshold) and has no opinion (vote 0) otherwise. Each fitted model is kept with its training window
and the hash of its training data under the lab's data dir (data/agents/ml)."""

import numpy as np
import pandas as pd
import talib

from lab.core.agents import NOT_ENOUGH_HISTORY, Agent, AgentParams, Votes
from lab.core.contract import param
from lab.strategy.agent_tools import ModelStore, bar_ns, digest, walk_forward_blocks

FEATURES = ("rsi", "adx", "atr_pct", "ret_1", "ret_3", "ret_12", "bb_pos", "volume_ratio", "macd_hist")


def features(candles: pd.DataFrame) -> np.ndarray:
    h, lo, c, v = (candles[k].to_numpy(dtype=float) for k in ("high", "low", "close", "volume"))
    with np.errstate(divide="ignore", invalid="ignore"):
        upper, _, lower = talib.BBANDS(c, timeperiod=20)
        cols = [
            talib.RSI(c, 14) / 100.0,
            talib.ADX(h, lo, c, 14) / 100.0,
            talib.ATR(h, lo, c, 14) / c,
            talib.ROC(c, 1) / 100.0,
            talib.ROC(c, 3) / 100.0,
            talib.ROC(c, 12) / 100.0,
            (c - lower) / (upper - lower),
            v / talib.SMA(v, 20),
            talib.MACD(c)[2] / c,
        ]
    return np.column_stack(cols)


class ML(Agent):
    name = "ml"
    version = "1.0.0"

    class Params(AgentParams):
        horizon_hours: int = param(1, 1, 24, 1, "predicts the direction over this many hours (1, 4 or 24)")
        retrain_hours: float = param(72.0, 6.0, 168.0, 6.0, "refit period")
        train_bars: int = param(4032, 300, 50000, 100, "samples each fit learns from")
        min_train: int = param(1000, 300, 10000, 100, "fewer samples: abstain")
        threshold: float = param(0.1, 0.0, 0.5, 0.05, "|2p - 1| below this: no opinion")
        max_iter: int = param(100, 20, 400, 20, "boosting iterations")

        def model_post_init(self, _context: object) -> None:
            if self.horizon_hours not in (1, 4, 24):
                raise ValueError(f"horizon_hours must be 1, 4 or 24, got {self.horizon_hours}")

    def warmup(self) -> int:
        return 60  # the slowest feature (MACD 26/9, ADX 14) is defined from about bar 34

    def horizon_bars(self, index: pd.DatetimeIndex) -> int:
        step = bar_ns(index) or int(300e9)
        return max(1, round(self.params.horizon_hours * 3600e9 / step))

    def votes(self, candles, live=None):
        from sklearn.ensemble import HistGradientBoostingClassifier

        p = self.params
        X = features(candles)
        close = candles["close"].to_numpy(dtype=float)
        h = self.horizon_bars(candles.index)
        future = np.r_[close[h:], np.full(min(h, len(close)), np.nan)][: len(close)]
        y = (future > close).astype(np.int8)
        finite = np.isfinite(X).all(axis=1)
        vote = np.full(len(X), np.nan)
        conf = np.full(len(X), np.nan)
        fits = []
        store = ModelStore(self.store)
        for b in walk_forward_blocks(candles.index, p.retrain_hours, p.train_bars, p.min_train, h):
            rows = np.arange(b.train_start, b.train_stop)  # each label complete before the block starts
            rows = rows[finite[rows]]
            if len(rows) < p.min_train or len(np.unique(y[rows])) < 2:
                continue
            Xt, yt = X[rows], y[rows]
            key = digest(Xt, yt, extra=f"ml|{p.model_dump_json()}")

            def fit(Xt=Xt, yt=yt):
                return HistGradientBoostingClassifier(
                    max_iter=p.max_iter,
                    max_leaf_nodes=15,
                    learning_rate=0.1,
                    early_stopping=False,
                    random_state=0,
                ).fit(Xt, yt)

            model, record = store.get_or_fit(
                key,
                fit,
                {
                    "train_start": str(candles.index[rows[0]]),
                    "train_end": str(candles.index[rows[-1]]),
                    "n": len(rows),
                    "base_rate": float(yt.mean()),
                },
            )
            fits.append(record | {"predicts_from": str(candles.index[b.start])})
            block = np.arange(b.start, b.stop)
            ok = block[finite[block]]
            if len(ok):
                up = model.predict_proba(X[ok])[:, list(model.classes_).index(1)]
                edge = 2 * up - 1
                strong = np.abs(edge) >= p.threshold
                vote[ok] = np.where(strong, edge, 0.0)
                conf[ok] = np.where(strong, np.abs(edge), 0.0)
        votes = Votes.of(
            pd.Series(vote, index=candles.index),
            pd.Series(conf, index=candles.index),
            {NOT_ENOUGH_HISTORY: np.isnan(vote)},
            {"fits": fits, "horizon_bars": h},
        )
        return votes
