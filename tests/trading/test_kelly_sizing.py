"""Kelly sizing in the backtest and the engine: the same trades, the same decisions, skips never
floored up, and no trade closing at or after the entry's bar can change its size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from lab.backtest.run import run_backtest
from lab.core.kelly import is_skip
from lab.store.db import session_scope
from lab.store.models import SizingRecord
from lab.trading.setup import replay_engine
from tests.trading.helpers import SYMBOLS, engine_trades, make_project
from tests.trading.test_parity import assert_same_trades

KELLY = {
    "LAB_SIZING__METHOD": "kelly",
    "LAB_SIZING__MIN_TRADES": "10",
    "LAB_FEES__TAKER": "0.0005",  # low fees: the breakout strategy has trades Kelly sizes and skips
}


@pytest.fixture
def kelly_cfg(lab_root):
    return make_project(lab_root, days=12, env=KELLY)


def test_replay_equals_backtest_with_the_kelly_sizer(kelly_cfg):
    bt = run_backtest(kelly_cfg, "donchian_atr_breakout", SYMBOLS, exchange="synthetic", record=False)
    sizing = bt.extra["sizing"]
    reasons = set(sizing["reason"])
    # the run exercises every branch: fallback, Kelly-sized, skipped
    assert any(r.startswith("fallback") for r in reasons) and "" in reasons and any(map(is_skip, reasons))
    engine = replay_engine(kelly_cfg, "donchian_atr_breakout", SYMBOLS, exchange="synthetic")
    engine.run()
    trades = engine_trades(kelly_cfg)
    assert_same_trades(bt.trades, trades)
    assert engine.equity() == pytest.approx(float(bt.equity.iloc[-1]), rel=1e-10)
    # the engine recorded the same sizing decisions, inputs included
    with session_scope(kelly_cfg) as s:
        rows = s.scalars(select(SizingRecord).order_by(SizingRecord.id)).all()
        stored = pd.DataFrame(
            [
                {"time": r.bar_time, "symbol": r.symbol, "fraction": r.fraction, "reason": r.reason}
                | r.inputs
                for r in rows
            ]
        )
    stored["time"] = pd.to_datetime(stored["time"], utc=True)
    stored = stored.sort_values(["time", "symbol"], ignore_index=True)
    expected = sizing.sort_values(["time", "symbol"], ignore_index=True)
    assert len(stored) == len(expected) > 0
    assert list(stored["time"]) == list(expected["time"]) and list(stored["symbol"]) == list(
        expected["symbol"]
    )
    assert list(stored["reason"]) == list(expected["reason"])
    np.testing.assert_allclose(stored["fraction"], expected["fraction"], rtol=1e-12)
    np.testing.assert_array_equal(stored["n_trades"], expected["n_trades"])
    # Kelly-sized entries spend exactly their fraction of free cash; the cap and the minimum hold
    taken = expected[expected["reason"] == ""]
    assert ((taken["fraction"] >= 0.02) & (taken["fraction"] <= 0.15)).all()


def test_skipped_entries_are_skipped_never_floored_up(kelly_cfg):
    bt = run_backtest(kelly_cfg, "donchian_atr_breakout", SYMBOLS, exchange="synthetic", record=False)
    sizing = bt.extra["sizing"]
    skipped = sizing[sizing["skipped"]]
    assert len(skipped) > 0 and (skipped["fraction"] == 0).all()
    below = skipped[skipped["reason"].str.contains("below")]
    assert len(below) > 0 and (0.25 * below["f_shrunk"] < 0.02).all()
    entered = set(zip(bt.trades["symbol"], bt.trades["entry_time"], strict=True))
    # no trade entered on a skipped decision
    assert not entered & set(zip(skipped["symbol"], skipped["time"], strict=True))
    # every trade entered on a Kelly or fallback decision spent that fraction (size * price * (1+fee) / cash)
    assert len(entered) == (~sizing["skipped"]).sum() - _refused_by_slots(bt, sizing)


def _refused_by_slots(bt, sizing) -> int:
    """Decisions that were sized but found every slot taken (max_open_positions)."""
    taken = set(zip(bt.trades["symbol"], bt.trades["entry_time"], strict=True))
    sized = sizing[~sizing["skipped"]]
    return sum((s, t) not in taken for s, t in zip(sized["symbol"], sized["time"], strict=True))


def test_sizes_use_only_trades_closed_before_the_entry_bar(kelly_cfg):
    """Perturb the future: candles from bar T on are replaced by a crash. Every sizing decision before T
    is unchanged, although the signal record's trades still open at T now close differently."""
    from lab.backtest.run import backtest, execution_model
    from lab.market.repository import load_many
    from lab.strategy.loader import load_strategy

    loaded = load_strategy("donchian_atr_breakout", kelly_cfg.strategies_dir)
    params = loaded.create().params
    model = execution_model(kelly_cfg, SYMBOLS)
    raw = load_many(kelly_cfg, "synthetic", SYMBOLS, "5m", None, None)
    bt = backtest(loaded, params, raw, model)
    cut = bt.equity.index[len(bt.equity) * 2 // 3]
    perturbed_raw = {}
    for s, frame in raw.items():
        frame = frame.copy()
        later = frame.index >= cut
        crash = np.linspace(1.0, 0.5, later.sum())
        for col in ("open", "high", "low", "close"):
            frame.loc[later, col] = frame.loc[later, col] * crash
        frame.loc[later, "high"] = frame.loc[later, ["open", "high", "close"]].max(axis=1)
        frame.loc[later, "low"] = frame.loc[later, ["open", "low", "close"]].min(axis=1)
        perturbed_raw[s] = frame
    perturbed = backtest(loaded, params, perturbed_raw, model)
    before = bt.extra["sizing"][bt.extra["sizing"]["time"] < cut].reset_index(drop=True)
    after = perturbed.extra["sizing"][perturbed.extra["sizing"]["time"] < cut].reset_index(drop=True)
    assert len(before) > 0
    pd.testing.assert_frame_equal(before, after)
    # and the perturbation did change the record after the cut (the test can fail)
    assert not bt.extra["signal_record"]["return"].equals(perturbed.extra["signal_record"]["return"])


def test_the_signal_record_survives_a_restart(kelly_cfg):
    """Stopped and restarted twice, the engine resumes its signal record and sizes exactly as the
    backtest does (the record lives in the saved runtime state)."""
    bt = run_backtest(kelly_cfg, "donchian_atr_breakout", SYMBOLS, exchange="synthetic", record=False)
    n = len(bt.equity)
    for steps in (n // 3, n // 3, None):
        engine = replay_engine(kelly_cfg, "donchian_atr_breakout", SYMBOLS, exchange="synthetic")
        engine.run(max_steps=steps)
    assert engine.record is not None and engine.record.sums().n == len(bt.extra["signal_record"])
    assert_same_trades(bt.trades, engine_trades(kelly_cfg))
