"""Trades on hand-made prices where every fill, fee and P&L is computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lab.backtest.run import extract_trades
from lab.backtest.simulate import ExecutionModel, simulate
from lab.core.contract import Signals
from lab.market.grid import prepare_candles

FEE, SLIP = 0.004, 0.0005


def bars(opens, highs=None, lows=None, closes=None, start="2024-01-01"):
    idx = pd.date_range(start, periods=len(opens), freq="5min", tz="UTC", name="timestamp")
    o = np.asarray(opens, float)
    h = np.asarray(highs, float) if highs is not None else o + 1
    lo = np.asarray(lows, float) if lows is not None else o - 1
    c = np.asarray(closes, float) if closes is not None else o
    return pd.DataFrame({"open": o, "high": h, "low": lo, "close": c, "volume": 1.0}, index=idx)


def flags(n, on):
    s = np.zeros(n, bool)
    s[list(on)] = True
    return s


def run(candles: dict, sigs: dict, fraction=0.5, max_open=10, fees=None):
    candles = prepare_candles(candles, "5m")
    signals = {}
    for s, (en, ex, sl, tp, trail) in sigs.items():
        idx = candles[s].index
        signals[s] = Signals(
            entries=pd.Series(flags(len(idx), en), idx),
            exits=pd.Series(flags(len(idx), ex), idx),
            stop_loss=sl,
            take_profit=tp,
            trailing=trail,
        )
    model = ExecutionModel(fees or {s: FEE for s in candles}, SLIP, 10_000.0, fraction, max_open)
    pf = simulate(candles, signals, model, "5min")
    return extract_trades(pf, candles, signals, model), pf


def test_signal_entry_and_exit_fill_at_next_open_with_fees_and_slippage():
    c = bars([100, 101, 102, 103, 104, 105])
    trades, pf = run({"X/USD": c}, {"X/USD": ([1], [3], None, None, False)})
    t = trades.iloc[0]
    entry_px = 102 * 1.0005  # signal on bar 1's close -> bar 2's open, plus slippage
    size = 5000 / 1.004 / entry_px  # half the cash, fees included
    entry_fees = 5000 - 5000 / 1.004
    exit_px = 104 * 0.9995
    exit_fees = size * exit_px * 0.004
    pnl = size * (exit_px - entry_px) - entry_fees - exit_fees
    assert (t.entry_time, t.exit_time) == (c.index[2], c.index[4])
    assert t.entry_price == pytest.approx(entry_px, rel=1e-12)
    assert t["size"] == pytest.approx(size, rel=1e-12)
    assert t.entry_fees == pytest.approx(entry_fees, rel=1e-12)
    assert t.exit_price == pytest.approx(exit_px, rel=1e-12)
    assert t.exit_fees == pytest.approx(exit_fees, rel=1e-12)
    assert t.pnl == pytest.approx(pnl, rel=1e-12)
    assert t.exit_reason == "signal"
    assert pf.value().iloc[-1] == pytest.approx(10_000 + pnl, rel=1e-12)  # cash reconciles with net P&L


def test_stop_loss_inside_the_bar_exits_at_the_stop_price():
    c = bars([100, 100, 100, 99, 98], lows=[99, 99, 99, 94, 97])
    trades, _ = run({"X/USD": c}, {"X/USD": ([1], [], 0.05, None, False)})
    t = trades.iloc[0]
    stop = 100 * 1.0005 * 0.95
    assert t.exit_time == c.index[3]
    assert t.exit_price == pytest.approx(stop * 0.9995, rel=1e-12)
    assert t.exit_reason == "stop_loss"


def test_gap_below_the_stop_exits_at_the_open():
    c = bars([100, 100, 100, 90, 91], lows=[99, 99, 99, 89, 90])
    trades, _ = run({"X/USD": c}, {"X/USD": ([1], [], 0.05, None, False)})
    assert trades.iloc[0].exit_price == pytest.approx(90 * 0.9995, rel=1e-12)


def test_stop_is_not_checked_on_the_entry_bar():
    c = bars([100, 100, 100, 100], lows=[99, 99, 80, 99])  # entry bar 2 dips 20% after the open
    trades, _ = run({"X/USD": c}, {"X/USD": ([1], [], 0.05, None, False)})
    assert trades.iloc[0].status == "open"


def test_take_profit_and_stop_loss_priority():
    c = bars([100, 100, 100, 100, 100], highs=[101, 101, 101, 112, 101])
    trades, _ = run({"X/USD": c}, {"X/USD": ([1], [], None, 0.10, False)})
    t = trades.iloc[0]
    assert t.exit_price == pytest.approx(100 * 1.0005 * 1.10 * 0.9995, rel=1e-12)
    assert t.exit_reason == "take_profit"
    # a bar that touches both: the stop-loss wins (we cannot know which came first)
    c = bars([100, 100, 100, 100, 100], highs=[101, 101, 101, 112, 101], lows=[99, 99, 99, 90, 99])
    trades, _ = run({"X/USD": c}, {"X/USD": ([1], [], 0.05, 0.10, False)})
    assert trades.iloc[0].exit_reason == "stop_loss"


def test_trailing_stop_follows_the_high():
    c = bars(
        [100, 100, 100, 110, 120, 118, 110],
        highs=[101, 101, 101, 111, 125, 119, 111],
        lows=[99, 99, 99, 109, 119, 117, 109],
    )
    trades, _ = run({"X/USD": c}, {"X/USD": ([1], [], 0.10, None, True)})
    t = trades.iloc[0]
    assert t.exit_time == c.index[6]  # 125 peak -> stop at 112.5, bar 6 opens at 110 below it
    assert t.exit_price == pytest.approx(110 * 0.9995, rel=1e-12)
    assert t.exit_reason == "trailing_stop"


def test_shared_cash_max_open_positions_and_per_pair_fees():
    c = {s: bars([100, 100, 100, 100]) for s in ("A/USD", "B/USD", "C/USD")}
    sig = {s: ([1], [], None, None, False) for s in c}
    trades, _ = run(c, sig, fraction=0.5, max_open=2, fees={"A/USD": 0.0026, "B/USD": 0.004, "C/USD": 0.004})
    assert list(trades["symbol"]) == ["A/USD", "B/USD"]  # C is refused: two positions held
    a, b = trades.iloc[0], trades.iloc[1]
    assert a.entry_fees == pytest.approx(5000 - 5000 / 1.0026, rel=1e-12)  # A pays its own fee tier
    assert b["size"] * b.entry_price + b.entry_fees == pytest.approx(2500, rel=1e-12)  # half of what is left


def test_a_stop_frees_its_slot_for_later_symbols_in_the_same_bar():
    a = bars([100, 100, 100, 90, 90], lows=[99, 99, 99, 89, 89])
    b = bars([50, 50, 50, 50, 50])
    trades, _ = run(
        {"A/USD": a, "B/USD": b},
        {"A/USD": ([1], [], 0.05, None, False), "B/USD": ([1, 2], [], None, None, False)},
        max_open=1,
    )
    assert list(zip(trades["symbol"], trades["entry_time"], strict=True)) == [
        ("A/USD", a.index[2]),
        ("B/USD", a.index[3]),
    ]


def test_entry_and_exit_on_the_same_bar_cancel():
    c = bars([100, 100, 100, 100, 100])
    trades, _ = run({"X/USD": c}, {"X/USD": ([1, 2], [2], None, None, False)})
    assert trades.iloc[0].status == "open"  # the exit at bar 2 was cancelled by the entry on the same bar


def test_gaps_become_flat_bars_and_signals_still_fill_next_bar():
    c = bars([100, 101, 102, 103, 104, 105])
    c = c.drop(c.index[3])
    filled = prepare_candles({"X/USD": c}, "5m")["X/USD"]
    assert len(filled) == 6
    assert filled.iloc[3].tolist() == [102, 102, 102, 102, 0.0]
