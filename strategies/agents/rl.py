"""RL agent: tabular Q-learning (epsilon-greedy) over a discretized state of price trend, volatility,
volume and its own position, with the fee-aware return of the position as the reward
(lab.strategy.agent_tools.q_learning). At each period boundary the Q-table continues learning from the
transitions of the last `train_bars` bars whose reward is already known (each boundary's table is
persisted under data/agents/rl by the hash of every transition it learned from); within the period it votes
how much better being long is than flat from its market state. Its out-of-sample reward curve and the
win rate of the trades its votes would make are in the votes' diagnostics."""

import numpy as np
import pandas as pd

from lab.core.agents import NOT_ENOUGH_HISTORY, Agent, AgentParams, Votes
from lab.core.contract import param
from lab.strategy import indicators as ta
from lab.strategy.agent_tools import ModelStore, digest, q_learning, walk_forward_blocks

N_MARKET = 27  # 3 trend x 3 volatility x 3 volume buckets


def market_states(candles: pd.DataFrame) -> np.ndarray:
    close = candles["close"]
    atr = ta.atr(candles, 14)
    with np.errstate(divide="ignore", invalid="ignore"):
        trend = (ta.ema(close, 12) - ta.ema(close, 48)) / atr
        atr_pct = atr / close
        vol_rel = atr_pct / atr_pct.rolling(96, min_periods=48).median()
        volume_rel = ta.volume_ratio(candles["volume"], 20)
    t = np.select([trend < -0.5, trend > 0.5], [0, 2], 1)
    v = np.select([vol_rel < 0.8, vol_rel > 1.25], [0, 2], 1)
    u = np.select([volume_rel < 0.8, volume_rel > 1.5], [0, 2], 1)
    states = (t * 9 + v * 3 + u).astype(np.int64)
    unknown = (trend.isna() | vol_rel.isna() | volume_rel.isna()).to_numpy()
    return np.where(unknown, -1, states)


class RL(Agent):
    name = "rl"
    version = "1.0.0"

    class Params(AgentParams):
        retrain_hours: float = param(24.0, 6.0, 168.0, 6.0, "learning period")
        train_bars: int = param(2016, 500, 20000, 500, "transitions replayed at each boundary")
        min_train: int = param(500, 100, 5000, 100, "fewer known transitions: abstain")
        episodes: int = param(3, 1, 20, 1, "passes over the transitions per boundary")
        alpha: float = param(0.05, 0.01, 0.5, 0.01, "learning rate")
        gamma: float = param(0.9, 0.5, 0.99, 0.01, "discount")
        epsilon: float = param(0.2, 0.0, 0.5, 0.05, "exploration at the first episode (decays to 0)")
        fee: float = param(0.0045, 0.0, 0.01, 0.0005, "cost of changing position (taker fee + slippage)")
        seed: int = param(0, 0, 1000, 1, "exploration seed")

    def warmup(self) -> int:
        return 100

    def votes(self, candles, live=None):
        p = self.params
        states = market_states(candles)
        close = candles["close"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ret = np.r_[close[1:] / close[:-1] - 1.0, 0.0]  # holding over bar j -> j+1
        ret = np.where(np.isfinite(ret), ret, 0.0)
        known = states >= 0
        s_train = np.where(known, states, 13)  # the neutral bucket where a state is not defined yet
        q = np.zeros((N_MARKET * 2, 2))
        visits = np.zeros(N_MARKET * 2)
        vote = np.full(len(close), np.nan)
        conf = np.full(len(close), np.nan)
        curve = []
        store = ModelStore(self.store)
        chain, seen = f"rl|{p.model_dump_json()}", 0
        for b in walk_forward_blocks(candles.index, p.retrain_hours, p.train_bars, p.min_train, 1):
            seed = int(candles.index[b.start].value // 10**9) % (2**31) + p.seed  # by time, not position
            # The Q-table after this boundary depends on every transition so far: the key chains them.
            chain = digest(
                s_train[seen : b.train_stop + 1],
                ret[seen : b.train_stop + 1],
                extra=f"{chain}|{candles.index[b.start]}|{seed}",
            )
            seen = b.train_stop + 1

            def train(b=b, seed=seed):
                r = q_learning(
                    s_train,
                    ret,
                    q,
                    visits,
                    b.train_start,
                    b.train_stop + 1,
                    p.episodes,
                    p.alpha,
                    p.gamma,
                    p.epsilon,
                    p.fee,
                    seed,
                )
                return q.copy(), visits.copy(), float(r)

            (q_saved, visits_saved, mean_reward), _ = store.get_or_fit(
                chain,
                train,
                {
                    "trained_through": str(candles.index[b.train_stop]),
                    "predicts_from": str(candles.index[b.start]),
                },
            )
            q[:], visits[:] = q_saved, visits_saved  # the persisted Q-table (trained now or before)
            curve.append((str(candles.index[b.start]), mean_reward))
            for i in range(b.start, b.stop):
                if not known[i]:
                    continue
                s = states[i] * 2
                # Long vs flat, averaged over both positions: from flat, going long pays the fee; from
                # long, going flat does. The average cancels that and leaves the state's own edge.
                edge = 0.5 * ((q[s, 1] - q[s, 0]) + (q[s + 1, 1] - q[s + 1, 0]))
                vote[i] = float(np.tanh(edge / max(p.fee, 1e-4)))
                conf[i] = float(min(1.0, min(visits[s], visits[s + 1]) / 100.0))
        # Out of sample: what its votes would have earned, long while it votes above 0, net of fees.
        held = np.nan_to_num(vote) > 0
        change = np.abs(np.diff(np.r_[0, held.astype(int)]))
        reward = np.where(held, ret, 0.0) - p.fee * change
        trades = _round_trips(held, close, p.fee)
        diagnostics = {
            "reward": pd.Series(reward, index=candles.index, name="reward"),
            "learning_curve": curve,
            "trades": len(trades),
            "wins": int(sum(r > 0 for r in trades)),
        }
        return Votes.of(
            pd.Series(vote, index=candles.index),
            pd.Series(conf, index=candles.index),
            {NOT_ENOUGH_HISTORY: np.isnan(vote)},
            diagnostics,
        )


def _round_trips(held: np.ndarray, close: np.ndarray, fee: float) -> list[float]:
    """Net returns of the trades the votes imply: long from the bar after a vote above 0 turns on, to
    the bar after it turns off (close to close, a fee at each side; one still open counts at the last
    close)."""
    out, entry = [], None
    for i, h in enumerate(held):
        if h and entry is None:
            entry = close[i]
        elif not h and entry is not None:
            out.append(close[i] / entry * (1 - fee) ** 2 - 1)
            entry = None
    if entry is not None:  # still long at the end: valued at the last close
        out.append(close[-1] / entry * (1 - fee) ** 2 - 1)
    return out
