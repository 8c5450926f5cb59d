"""Agent statistics: a useless agent (random votes) is flagged, a genuinely informative one is not, on
a fixed seed through the whole path (ensemble backtest -> vote rows -> leaderboard) and over 20 seeds;
too little evidence flags nothing; flags lift only after the hysteresis; the intervals match their
textbook values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lab.core.agents import Votes
from lab.core.config import AgentsConfig, load_config
from lab.research.agent_records import agent_performance, resolve_scope, save_snapshot
from lab.research.agent_stats import agent_table, forward_returns, spearman_ic, wilson
from lab.store import db

INFORMATIVE = '''
import numpy as np
from lab.core.agents import Agent, Votes


class Informative(Agent):
    """Reads the data's tell (volume above 100 before a rise): information about the next return."""
    name = "informative"

    def votes(self, candles, live=None):
        return Votes.of(np.tanh((candles["volume"] - 100.0) / 40.0), 0.8)
'''
USELESS = '''
import numpy as np
import pandas as pd
from lab.core.agents import Agent, Votes


class Useless(Agent):
    """Random votes (a hash of the bar's time: the same bar always gets the same vote)."""
    name = "useless"

    def votes(self, candles, live=None):
        seconds = candles.index.asi8 // 10**9 if candles.index.unit == "ns" else candles.index.as_unit("s").asi8
        u = (np.asarray(seconds, dtype=np.uint64) * np.uint64(2654435761) % np.uint64(2**32)) / 2**32
        return Votes.of(pd.Series(2 * u - 1, index=candles.index), 0.8)
'''


def tell_candles(n: int, seed: int) -> pd.DataFrame:
    """A random walk whose volume carries a noisy tell of the next bar's direction."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2025-01-01", periods=n, freq="5min", tz="UTC", name="timestamp")
    r = rng.normal(0, 0.002, n)
    close = 100 * np.exp(np.cumsum(r))
    nxt = np.r_[r[1:], 0.0]
    volume = 100 + 40 * np.sign(nxt) + rng.normal(0, 60, n)
    volume = np.clip(volume, 1, None)
    open_ = np.r_[close[0], close[:-1]]
    high, low = np.maximum(open_, close) * 1.0005, np.minimum(open_, close) * 0.9995
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


def in_memory_table(n: int, seed: int, cfg: AgentsConfig) -> pd.DataFrame:
    candles = tell_candles(n, seed)
    votes = {}
    for name, src in (("informative", INFORMATIVE), ("useless", USELESS)):
        scope: dict = {}
        exec(compile(src, name, "exec"), scope)
        cls = next(v for v in scope.values() if isinstance(v, type) and getattr(v, "name", "") == name)
        votes[name] = cls().votes(candles)
    # a different useless agent per seed: shift its hash by the seed
    if seed:
        rng = np.random.default_rng(seed + 1000)
        votes["useless"] = Votes.of(pd.Series(rng.uniform(-1, 1, n), index=candles.index), 0.8)
    rows = pd.concat(
        [
            pd.DataFrame(
                {
                    "decision_id": np.arange(n),
                    "symbol": "X/USD",
                    "bar_time": candles.index,
                    "agent": a,
                    "vote": v.vote.to_numpy(),
                    "abstain": v.abstain.to_numpy(),
                }
            )
            for a, v in votes.items()
        ],
        ignore_index=True,
    )
    rows["fwd_return"] = forward_returns(rows, {"X/USD": candles["close"]}, cfg.horizon_bars).to_numpy()
    return agent_table(rows, cfg).set_index("agent")


def test_useless_flagged_informative_not_on_a_fixed_seed_through_the_whole_path(lab_root):
    from lab.backtest.run import run_backtest
    from lab.market.repository import store_candles

    (lab_root / "strategies" / "agents").mkdir(parents=True)
    import shutil

    from tests.trading.helpers import ROOT

    shutil.copy(ROOT / "strategies" / "candidates" / "ensemble.py", lab_root / "strategies" / "ensemble.py")
    (lab_root / "strategies" / "agents" / "informative.py").write_text(INFORMATIVE)
    (lab_root / "strategies" / "agents" / "useless.py").write_text(USELESS)
    with open(lab_root / "lab.toml", "a") as f:
        f.write('\n[agents]\nenabled = ["informative", "useless"]\n')
    cfg = load_config(lab_root / "lab.toml", env={})
    candles = tell_candles(40_000, seed=7)
    store_candles(cfg, "synthetic", "X/USD", "5m", candles, source="t", action="sample", synthetic=True)
    params = {"entry_threshold": 0.05, "exit_threshold": 0.05, "min_voters": 1}
    bt = run_backtest(cfg, "strategies/ensemble.py", ["X/USD"], exchange="synthetic", params=params)
    with db.session_scope(cfg) as s:
        scope = resolve_scope(s, "ensemble")
        assert scope.experiment_id == bt.extra["experiment_id"]
        table, votes = agent_performance(
            s, cfg.agents, scope, {"X/USD": candles["close"]}, pd.Timedelta("5min")
        )
        save_snapshot(s, "ensemble", table)
    t = table.set_index("agent")
    assert t.loc["useless", "flagged"] and not t.loc["informative", "flagged"]
    assert t.loc["useless", "decisions"] > 30_000
    assert t.loc["informative", "ic_low"] > 0.05 and t.loc["useless", "ic_high"] < cfg.agents.min_ic
    assert t.loc["informative", "hit_low"] > 0.5 > t.loc["useless", "hit_low"]
    ev = t.loc["useless", "evidence"]
    assert ev["agents_tested"] == 2 and ev["correction"] == "holm" and ev["p_adjusted"] < 0.05
    assert "below the minimum" in ev["reason"]
    # each entry decision is linked to the trade it led to
    entries = votes[(votes["action"] == "entry") & votes["trade_return"].notna()]
    assert entries["decision_id"].nunique() >= 0.9 * (bt.trades["status"] == "closed").sum()
    assert t.loc["informative", "mean_trade_for"] > t.loc["informative", "mean_trade_against"]


def test_over_20_seeds_the_useless_agent_is_flagged_and_the_informative_never():
    cfg = AgentsConfig()
    flagged = {"useless": 0, "informative": 0}
    for seed in range(20):
        t = in_memory_table(40_000, seed, cfg)
        for agent in flagged:
            flagged[agent] += bool(t.loc[agent, "flagged"])
    print(
        f"\nflag rates over 20 seeds: useless {flagged['useless']}/20, informative {flagged['informative']}/20"
    )
    assert flagged["informative"] == 0 and flagged["useless"] >= 18


def test_with_few_votes_nothing_is_flagged():
    t = in_memory_table(25, 3, AgentsConfig())
    assert not t["flagged"].any()
    assert all("not enough evidence" in e["reason"] for e in t["evidence"])


def test_a_flag_lifts_only_after_consecutive_clear_snapshots():
    cfg = AgentsConfig(reenable_after=3)
    rng = np.random.default_rng(0)
    n = 5000
    fwd = rng.normal(0, 1, n)
    rows = pd.DataFrame(
        {
            "decision_id": np.arange(n),
            "symbol": "X",
            "bar_time": pd.date_range("2025", periods=n, freq="5min", tz="UTC"),
            "agent": "a",
            "vote": np.clip(fwd + rng.normal(0, 2, n), -1, 1),
            "abstain": "",
            "fwd_return": fwd,
        }
    )
    prev = {"a": {"flagged": True, "evidence": {"clear_streak": 0}}}
    states = []
    for _ in range(4):
        t = agent_table(rows, cfg, prev).set_index("agent")
        states.append(bool(t.loc["a", "flagged"]))
        prev = {"a": {"flagged": bool(t.loc["a", "flagged"]), "evidence": t.loc["a", "evidence"]}}
    assert t.loc["a", "ic"] > 0.2  # a good agent now
    assert states == [True, True, False, False]  # clear 1/3, 2/3, then lifted at the third


def test_wilson_and_fisher_intervals_match_their_formulas():
    lo, hi = wilson(60, 100)
    z = 1.959963984540054
    centre, half = (
        (0.6 + z * z / 200) / (1 + z * z / 100),
        z * math.sqrt(0.6 * 0.4 / 100 + z * z / 40000) / (1 + z * z / 100),
    )
    assert (lo, hi) == pytest.approx((centre - half, centre + half), abs=1e-12)
    rng = np.random.default_rng(1)
    x = rng.normal(size=1000)
    y = x + rng.normal(size=1000)
    out = spearman_ic(x, y, 0.03)
    se = math.sqrt(1.06 / 997)
    assert out["ic_low"] == pytest.approx(math.tanh(math.atanh(out["ic"]) - z * se))
    assert out["p_value"] > 0.999  # far above the minimum: H0 (IC >= min) stands
