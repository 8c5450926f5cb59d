"""The agent contract, the agents on frames where the right vote is known, the checks that refuse bad
agents, and the learning agents' walk-forward discipline (perturbing the future changes no past vote)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lab.core.agents import LIVE_ONLY, NOT_ENOUGH_HISTORY, LiveInputs, Votes, blend
from lab.core.errors import StrategyError
from lab.strategy.agent_tools import walk_forward_blocks
from lab.strategy.agents import AgentPanel, agent_lookahead, compute_votes, load_agent
from tests.trading.helpers import ROOT

AGENTS = ROOT / "strategies" / "agents"


def frame(
    close: np.ndarray, volume: np.ndarray | None = None, start: str = "2025-01-01", spread: float = 0.002
):
    n = len(close)
    index = pd.date_range(start, periods=n, freq="5min", tz="UTC")
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + spread)
    low = np.minimum(open_, close) * (1 - spread)
    vol = volume if volume is not None else np.full(n, 100.0)
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": vol}, index=index)


def random_walk(n: int, seed: int = 0, drift: float = 0.0, sigma: float = 0.002) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100 * np.exp(np.cumsum(rng.normal(drift, sigma, n)))


def agent(name: str, **params):
    return load_agent(name, AGENTS).create(params or None)


# --- the contract ----------------------------------------------------------------------------------
def test_abstentions_are_in_neither_the_numerator_nor_the_denominator():
    index = pd.date_range("2025-01-01", periods=3, freq="5min", tz="UTC")
    bull = Votes.of(pd.Series([1.0, 1.0, 1.0], index=index), 1.0)
    silent = Votes.of(
        pd.Series([-1.0, -1.0, -1.0], index=index), 1.0, {NOT_ENOUGH_HISTORY: np.array([True, True, False])}
    )
    score, voters = blend({"bull": bull, "silent": silent}, {"bull": 1.0, "silent": 1.0}, index)
    # bar 0-1: only the bull voted: its vote is the score (a "hold" count would make it 0.5)
    assert score.tolist() == [1.0, 1.0, 0.0] and voters.tolist() == [1, 1, 2]
    assert silent.vote.isna().tolist() == [True, True, False]
    assert silent.abstain.tolist() == [NOT_ENOUGH_HISTORY, NOT_ENOUGH_HISTORY, ""]


def test_weights_and_confidence_scale_each_vote():
    index = pd.date_range("2025-01-01", periods=1, freq="5min", tz="UTC")
    a = Votes.of(pd.Series([1.0], index=index), 0.5)
    b = Votes.of(pd.Series([-1.0], index=index), 1.0)
    score, _ = blend({"a": a, "b": b}, {"a": 4.0, "b": 1.0}, index)
    assert score.iloc[0] == pytest.approx((4 * 0.5 * 1 + 1 * 1 * -1) / (4 * 0.5 + 1))
    score, voters = blend({"a": a, "b": b}, {"a": 0.0, "b": 1.0}, index)  # weight 0: out of the blend
    assert score.iloc[0] == -1.0 and voters.iloc[0] == 1


# --- each agent on a frame where the right vote is known -------------------------------------------
def test_technical_votes_up_in_a_rise_and_down_in_a_fall():
    up = compute_votes(agent("technical"), frame(np.linspace(100, 130, 400)), "t")
    down = compute_votes(agent("technical"), frame(np.linspace(130, 100, 400)), "t")
    assert up.vote.iloc[-100:].min() > 0.5 and down.vote.iloc[-100:].max() < -0.5
    assert (up.abstain.iloc[:50] == NOT_ENOUGH_HISTORY).all()


def test_regime_labels_a_trend_a_range_and_a_volatility_burst():
    from lab.strategy.regime import regime_labels

    trend = frame(np.linspace(100, 160, 400))
    assert (regime_labels(trend).iloc[-100:] == "trend_up").all()
    v = compute_votes(agent("regime"), trend, "t")
    assert v.vote.iloc[-100:].min() > 0
    calm = random_walk(600, seed=3, sigma=0.0005)
    wild = np.r_[calm, calm[-1] * np.exp(np.cumsum(np.random.default_rng(4).normal(0, 0.01, 40)))]
    labels = regime_labels(frame(wild, spread=0.0005))
    assert (labels.iloc[-20:] == "high_vol").mean() > 0.8
    votes = compute_votes(agent("regime"), frame(wild, spread=0.0005), "t")
    assert (votes.vote.iloc[-20:] < 0).mean() > 0.8  # stays out of high volatility


def test_candlestick_votes_up_on_a_bullish_engulfing_bar():
    close = np.r_[np.linspace(110, 100, 30), [98.0, 103.0]]
    f = frame(close, spread=0.0)
    f.iloc[-2, f.columns.get_loc("open")] = 100.0  # a red bar 100 -> 98
    f.iloc[-1, f.columns.get_loc("open")] = 97.5  # a green bar engulfing it: 97.5 -> 103
    f["high"], f["low"] = f[["open", "close"]].max(axis=1) + 0.1, f[["open", "close"]].min(axis=1) - 0.1
    v = compute_votes(agent("candlestick"), f, "t")
    assert v.vote.iloc[-1] > 0 and v.confidence.iloc[-1] > 0
    assert v.vote.iloc[20] == 0 and v.confidence.iloc[20] == 0  # no pattern: no opinion


def test_volume_votes_up_on_rising_bars_with_surging_volume():
    n = 200
    close = np.r_[np.full(150, 100.0) * (1 + 0.0001 * np.sin(np.arange(150))), np.linspace(100, 110, 50)]
    volume = np.r_[np.full(150, 100.0), np.full(50, 400.0)]
    v = compute_votes(agent("volume"), frame(close, volume), "t")
    assert v.vote.iloc[-30:].min() > 0.3
    assert len(v.vote) == n


def test_time_pattern_finds_an_hour_of_day_edge_from_past_days_only():
    n = 288 * 40
    rng = np.random.default_rng(1)
    index = pd.date_range("2025-01-01", periods=n, freq="5min", tz="UTC")
    r = rng.normal(0, 0.001, n)
    r[index.hour == 10] += 0.002  # every bar in hour 10 rises on average
    f = frame(100 * np.exp(np.cumsum(r)))
    v = compute_votes(agent("time_pattern"), f, "t")
    before_ten = (f.index + pd.Timedelta("5min")).hour == 10  # votes about a bar in hour 10
    late = np.arange(n) > 288 * 20
    assert v.vote[before_ten & late].mean() > 0.5
    assert abs(v.vote[~before_ten & late].mean()) < 0.1
    assert (v.abstain.iloc[:200] == NOT_ENOUGH_HISTORY).all()  # the first days: too few samples


def test_anomaly_votes_to_stay_out_of_a_spike():
    close = random_walk(3000, seed=5, sigma=0.001)
    close[2900:] *= 1.08  # an 8% jump at bar 2900
    volume = np.full(3000, 100.0)
    volume[2900] = 5000.0
    v = compute_votes(
        agent("anomaly", train_bars=1500, min_train=500, retrain_hours=24), frame(close, volume), "t"
    )
    assert v.vote.iloc[2900] == -1.0 and v.confidence.iloc[2900] >= 0.5
    assert (v.vote.iloc[2000:2890] == 0).mean() > 0.95  # ordinary bars: no opinion


def test_order_book_and_funding_abstain_in_a_backtest_and_vote_live():
    f = frame(random_walk(50))
    for name in ("order_book", "funding_rate"):
        v = compute_votes(agent(name), f, "t")
        assert (v.abstain == LIVE_ONLY).all()
    book = LiveInputs(bids=((100.0, 9.0),), asks=((100.1, 1.0),))
    v = compute_votes(agent("order_book"), f, "t", book)
    assert v.vote.iloc[-1] == 1.0 and (v.abstain.iloc[:-1] == LIVE_ONLY).all()
    v = compute_votes(agent("funding_rate"), f, "t", LiveInputs(funding_rate=0.001, funding_offered=True))
    assert v.vote.iloc[-1] == -1.0  # crowded longs: contrarian
    v = compute_votes(agent("funding_rate"), f, "t", LiveInputs(funding_offered=False))
    assert (v.abstain == "the exchange offers no funding rate").all()


def test_ml_learns_a_predictable_direction_better_than_the_base_rate():
    n = 288 * 12
    t = np.arange(n)
    close = 100 * np.exp(0.01 * np.sin(2 * np.pi * t / 48))  # a 4-hour cycle: RSI and ROC predict the turn
    f = frame(close + np.random.default_rng(2).normal(0, 0.005, n))
    ml = agent("ml", train_bars=1500, min_train=500, retrain_hours=24)
    v = compute_votes(ml, f, "t")
    h = v.diagnostics["horizon_bars"]
    up = pd.Series(np.r_[close[h:] > close[:-h], np.zeros(h, bool)], index=f.index)
    voted = v.voted & (v.vote != 0)
    voted.iloc[-h:] = False
    accuracy = ((v.vote[voted] > 0) == up[voted]).mean()
    base = max(up[voted].mean(), 1 - up[voted].mean())
    assert voted.sum() > 1000 and accuracy > base + 0.2
    fit = v.diagnostics["fits"][0]
    assert fit["n"] <= 1500 and len(fit["hash"]) == 32
    assert pd.Timestamp(fit["train_end"]) < pd.Timestamp(fit["predicts_from"])


def test_rl_learns_to_be_long_in_a_steady_rise_and_records_its_curve():
    close = 100 * np.exp(np.cumsum(np.full(288 * 10, 0.0008)))
    v = compute_votes(agent("rl", train_bars=1000, min_train=300, retrain_hours=24), frame(close), "t")
    assert v.vote.dropna().iloc[-500:].mean() > 0.5
    d = v.diagnostics
    assert d["trades"] >= 1 and d["wins"] == d["trades"]  # every trade of a steady rise wins
    assert len(d["learning_curve"]) >= 8 and d["reward"].sum() > 0


# --- learning agents never see the future ----------------------------------------------------------
@pytest.mark.parametrize(
    "name, params",
    [
        ("ml", {"train_bars": 800, "min_train": 300, "retrain_hours": 12}),
        ("rl", {"train_bars": 800, "min_train": 300, "retrain_hours": 12}),
        ("anomaly", {"train_bars": 800, "min_train": 300, "retrain_hours": 12}),
        ("time_pattern", {"min_samples": 10}),
    ],
)
def test_perturbing_the_future_changes_no_vote_up_to_that_bar(name, params):
    f = frame(random_walk(288 * 6, seed=11))
    cut = 288 * 4 + 17
    g = f.copy()
    rng = np.random.default_rng(9)
    g.iloc[cut + 1 :, :4] *= rng.uniform(0.8, 1.25, size=(len(g) - cut - 1, 1))  # a different future
    g.iloc[cut + 1 :, 4] *= 7.0
    g["high"] = g[["open", "high", "close"]].max(axis=1)
    g["low"] = g[["open", "low", "close"]].min(axis=1)
    a = compute_votes(agent(name, **params), f, "t")
    b = compute_votes(agent(name, **params), g, "t")
    assert a.voted.iloc[: cut + 1].sum() > 200  # it did vote before the cut
    pd.testing.assert_series_equal(a.vote.iloc[: cut + 1], b.vote.iloc[: cut + 1])
    pd.testing.assert_series_equal(a.abstain.iloc[: cut + 1], b.abstain.iloc[: cut + 1])
    assert not a.vote.iloc[cut + 1 :].equals(b.vote.iloc[cut + 1 :])  # the perturbation did reach it


def test_walk_forward_blocks_train_strictly_before_the_block_and_align_to_the_clock():
    index = pd.date_range("2025-01-01 03:00", periods=2000, freq="5min", tz="UTC")
    blocks = walk_forward_blocks(index, 24, train_bars=500, min_train=100, label_bars=12)
    assert blocks and all(b.train_stop + 12 <= b.start for b in blocks)
    assert all(index[b.start].hour == 0 and index[b.start].minute == 0 for b in blocks)
    short = walk_forward_blocks(index[:1500], 24, 500, 100, 12)  # the same data cut short: the same fits
    assert short[:-1] == blocks[: len(short) - 1]
    last = blocks[len(short) - 1]
    assert (short[-1].start, short[-1].train_start, short[-1].train_stop) == (
        last.start,
        last.train_start,
        last.train_stop,
    )


# --- bad agents are refused with the file and the problem ------------------------------------------
BAD = {
    "syntax": ("def votes(:\n", "syntax error"),
    "wrong_length": (
        "        return Votes.of(candles['close'].iloc[:-1] * 0, 1.0)\n",
        "rows on a different index",
    ),
    "out_of_range": ("        return Votes.of(candles['close'] * 0 + 1.5, 1.0)\n", "outside [-1, 1]"),
    "nan_vote": (
        "        return Votes.of(candles['close'] * float('nan'), 1.0)\n",
        "where the agent did not abstain",
    ),
    "raises": ("        raise ZeroDivisionError('boom')\n", "votes() raised ZeroDivisionError: boom"),
}


def write_agent(path, body: str) -> None:
    header = (
        "from lab.core.agents import Agent, Votes\n\n\nclass Bad(Agent):\n    name = 'bad'\n\n"
        "    def votes(self, candles, live=None):\n"
    )
    path.write_text(body if body.startswith("def ") else header + body)


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_agent_is_refused_naming_the_file_and_the_problem(tmp_path, case):
    body, problem = BAD[case]
    path = tmp_path / "bad.py"
    write_agent(path, body)
    f = frame(random_walk(100))
    with pytest.raises(StrategyError) as err:
        compute_votes(load_agent(str(path), tmp_path).create(), f, "bad.py")
    assert "bad.py" in str(err.value) and problem in str(err.value)


def test_an_agent_that_looks_ahead_is_refused(tmp_path):
    path = tmp_path / "peek.py"
    write_agent(
        path,
        "        nxt = candles['close'].shift(-1)\n        v = (nxt > candles['close']).astype(float) * 2 - 1\n        return Votes.of(v, 1.0)\n",
    )
    problem = agent_lookahead(load_agent(str(path), tmp_path).create(), frame(random_walk(300)), "peek.py")
    assert problem is not None and "peek.py: look-ahead" in problem


def test_a_failing_agent_abstains_with_its_error_in_a_tolerant_panel(tmp_path):
    path = tmp_path / "bad.py"
    write_agent(path, "        raise RuntimeError('feed hiccup')\n")
    good = load_agent("technical", AGENTS)
    bad = load_agent(str(path), tmp_path)
    panel = AgentPanel([(good, good.create()), (bad, bad.create())])
    f = frame(random_walk(200))
    with pytest.raises(StrategyError, match="feed hiccup"):
        panel.votes(f)
    panel.strict = False
    out = panel.votes(f)
    assert out["bad"].abstain.iloc[-1].startswith("error: ") and "feed hiccup" in out["bad"].abstain.iloc[-1]
    assert out["technical"].voted.iloc[-1] and panel.errors and panel.errors[0][0] == "bad"


# --- bad configuration names what is wrong -------------------------------------------------------
def test_agent_settings_that_cannot_work_are_refused_with_the_reason(tmp_path):
    from lab.core.config import AgentsConfig
    from lab.strategy.loader import load_strategy

    with pytest.raises(ValueError, match="agents listed twice: ml"):
        AgentsConfig(enabled=("ml", "technical", "ml"))
    with pytest.raises(StrategyError, match=r"agent 'astrology' not found in .*there: anomaly, candlestick"):
        load_strategy("ensemble", ROOT / "strategies", AgentsConfig(enabled=("technical", "astrology")))
    with pytest.raises(StrategyError, match=r"\[agents.params\] names agents that are not enabled: ml"):
        load_strategy(
            "ensemble", ROOT / "strategies", AgentsConfig(enabled=("technical",), params={"ml": {}})
        )
    with pytest.raises(
        StrategyError, match=r"(?s)ml\.py: invalid parameters.*horizon_hours must be 1, 4 or 24"
    ):
        load_strategy(
            "ensemble",
            ROOT / "strategies",
            AgentsConfig(enabled=("ml",), params={"ml": {"horizon_hours": 2}}),
        )
    loaded = load_strategy("ensemble", ROOT / "strategies", AgentsConfig(enabled=("technical", "volume")))
    with pytest.raises(StrategyError, match="weights name unknown agents: rl"):
        loaded.cls({"weights": {"rl": 2.0}}).signals(frame(random_walk(200)))
    with pytest.raises(StrategyError, match="weights must be from 0 to 100: volume"):
        loaded.create({"weights": {"volume": -1}})


def test_a_voting_strategy_only_runs_with_its_agents_bound():
    from lab.strategy.loader import exec_file

    module, _ = exec_file(ROOT / "strategies" / "candidates" / "ensemble.py", "lab_strategy")
    with pytest.raises(RuntimeError, match=r"load it through lab\.strategy\.loader"):
        module.Ensemble().signals(frame(random_walk(50)))


def test_the_code_hash_of_a_voting_strategy_changes_with_its_agents():
    from lab.core.config import AgentsConfig
    from lab.strategy.loader import load_strategy

    a = load_strategy("ensemble", ROOT / "strategies", AgentsConfig(enabled=("technical", "volume")))
    b = load_strategy("ensemble", ROOT / "strategies", AgentsConfig(enabled=("technical",)))
    c = load_strategy(
        "ensemble",
        ROOT / "strategies",
        AgentsConfig(enabled=("technical",), params={"technical": {"fast": 8}}),
    )
    assert len({a.code_hash, b.code_hash, c.code_hash}) == 3  # experiments record which agents voted


def test_live_inputs_come_from_ccxt_and_reach_the_order_book_agent():
    from lab.market.fetch import make_exchange
    from lab.market.live_inputs import CcxtLiveInputs
    from tests.fakes.kraken import FakeKraken

    with FakeKraken({}) as fake:
        fake.books["BTC/USD"] = ([(100.0, 8.0), (99.9, 1.0)], [(100.1, 1.0), (100.2, 1.0)])
        ex = make_exchange("kraken", {"public": fake.url})
        inputs = CcxtLiveInputs(ex, depth=10)
        live = inputs("BTC/USD")
        assert live.bids[0] == (100.0, 8.0) and live.asks[1] == (100.2, 1.0)
        assert not live.funding_offered  # Kraken spot: no funding rates
        v = compute_votes(agent("order_book"), frame(random_walk(30)), "t", live)
        assert v.vote.iloc[-1] == pytest.approx(min(1.0, (9 - 2) / 11 / 0.5))
        missing = inputs("NOPE/USD")  # the request fails: a missing input, not an error
        assert missing.bids is None and inputs.errors
        v = compute_votes(agent("order_book"), frame(random_walk(30)), "t", missing)
        assert v.abstain.iloc[-1] == "missing input"
