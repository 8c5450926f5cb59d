"""Anomaly agent: an IsolationForest (scikit-learn) on each bar's absolute return, volume against its
average and high-low range, fitted walk-forward on past bars only. On a bar more anomalous than all but
`quantile` of its training bars it votes to stay out (-1); on ordinary bars it has no opinion (vote 0,
confidence 0)."""

import numpy as np
import pandas as pd

from lab.core.agents import MISSING_INPUT, NOT_ENOUGH_HISTORY, Agent, AgentParams, Votes
from lab.core.contract import param
from lab.strategy.agent_tools import ModelStore, digest, walk_forward_blocks


def features(candles: pd.DataFrame) -> np.ndarray:
    close = candles["close"].astype(float)
    volume = candles["volume"].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = np.abs(np.log(close / close.shift(1)))
        vol = np.log1p(volume / volume.rolling(48, min_periods=12).mean())
        rng = (candles["high"] - candles["low"]) / close
    return np.column_stack([ret, vol, rng]).astype(float)


class Anomaly(Agent):
    name = "anomaly"
    version = "1.0.0"

    class Params(AgentParams):
        retrain_hours: float = param(72.0, 6.0, 168.0, 6.0, "refit period")
        train_bars: int = param(2016, 500, 20000, 500, "bars each fit learns from")
        min_train: int = param(500, 200, 5000, 100, "fewer training bars: abstain")
        quantile: float = param(0.01, 0.002, 0.05, 0.002, "share of training bars that count as anomalous")
        seed: int = param(0, 0, 1000, 1, "IsolationForest random_state")

    def warmup(self) -> int:
        return 49

    def votes(self, candles, live=None):
        from sklearn.ensemble import IsolationForest

        p = self.params
        X = features(candles)
        finite = np.isfinite(X).all(axis=1)
        vote = np.full(len(X), np.nan)
        conf = np.full(len(X), np.nan)
        store = ModelStore(self.store)
        for b in walk_forward_blocks(candles.index, p.retrain_hours, p.train_bars, p.min_train, 1):
            rows = np.arange(b.train_start, b.train_stop)
            train = X[rows[finite[rows]]]
            if len(train) < p.min_train:
                continue
            key = digest(train, extra=f"anomaly|{p.model_dump_json()}")

            def fit(train=train):
                model = IsolationForest(n_estimators=100, random_state=p.seed).fit(train)
                return model, float(np.quantile(model.score_samples(train), p.quantile))

            (model, threshold), _ = store.get_or_fit(
                key,
                fit,
                {
                    "train_start": str(candles.index[b.train_start]),
                    "train_end": str(candles.index[b.train_stop - 1]),
                    "n": len(train),
                },
            )
            block = np.arange(b.start, b.stop)
            ok = block[finite[block]]
            if len(ok) == 0:
                continue
            score = model.score_samples(X[ok])
            odd = score < threshold
            vote[ok] = np.where(odd, -1.0, 0.0)
            conf[ok] = np.where(odd, np.clip((threshold - score) / 0.1 + 0.5, 0.5, 1.0), 0.0)
        vote_s, conf_s = pd.Series(vote, index=candles.index), pd.Series(conf, index=candles.index)
        no_fit = np.isnan(vote) & finite
        return Votes.of(
            vote_s,
            conf_s,
            {
                MISSING_INPUT: ~finite & (np.arange(len(X)) >= self.warmup()),
                NOT_ENOUGH_HISTORY: no_fit | ~finite,
            },
        )
