"""The common bar grid: gaps become flat bars; a complete series passes through unchanged and unshared."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.market.grid import fill_gaps, prepare_candles


def frame(index):
    n = len(index)
    close = np.arange(1, n + 1, dtype=float)
    return pd.DataFrame(
        {"open": close, "high": close + 1, "low": close - 0.5, "close": close, "volume": 2.0}, index=index
    )


def test_gap_becomes_flat_bar_at_previous_close():
    idx = pd.date_range("2024-01-01", periods=5, freq="5min", tz="UTC")
    filled = fill_gaps(frame(idx).drop(idx[2]), "5m")
    assert len(filled) == 5
    assert filled.loc[idx[2]].tolist() == [2.0, 2.0, 2.0, 2.0, 0.0]
    assert filled.loc[idx[3], "open"] == 4.0


def test_complete_series_is_equal_and_writing_to_it_leaves_the_input_alone():
    idx = pd.date_range("2024-01-01", periods=4, freq="5min", tz="UTC")
    raw = frame(idx)
    out = prepare_candles({"X/USD": raw}, "5m")["X/USD"]
    pd.testing.assert_frame_equal(out, raw.rename_axis("timestamp"))
    out.loc[idx[0], "close"] = -1.0
    assert raw.loc[idx[0], "close"] == 1.0


def test_later_listing_symbol_keeps_nan_rows_before_its_first_candle():
    idx = pd.date_range("2024-01-01", periods=6, freq="5min", tz="UTC")
    out = prepare_candles({"A/USD": frame(idx), "B/USD": frame(idx[3:])}, "5m")
    assert out["B/USD"]["close"].isna().tolist() == [True, True, True, False, False, False]
