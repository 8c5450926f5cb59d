import os

import pandas as pd
import pytest

from lab.store.candles import merge, read_metadata, read_series, series_path, write_series
from tests.conftest import make_candles


def test_roundtrip_keeps_values_utc_index_and_metadata(tmp_path):
    frame = make_candles(100)
    path = series_path(tmp_path, "kraken", "BTC/USD", "5m")
    write_series(path, frame, {"synthetic": "true"})
    back = read_series(path)
    assert str(back.index.tz) == "UTC"
    pd.testing.assert_frame_equal(back, frame, check_freq=False, check_index_type=False)
    assert read_metadata(path)["synthetic"] == "true"
    sub = read_series(path, frame.index[10], frame.index[20])
    assert list(sub.index) == list(frame.index[10:20])


def test_crash_during_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = series_path(tmp_path, "kraken", "BTC/USD", "5m")
    write_series(path, make_candles(50))
    before = read_series(path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write_series(path, make_candles(80, seed=9))
    pd.testing.assert_frame_equal(read_series(path), before)
    assert [p.name for p in path.parent.iterdir()] == ["5m.parquet"]  # no temp file left behind


def test_merge_never_overwrites_stored_candles():
    stored = make_candles(10)
    new = make_candles(15, seed=5)  # same timestamps for the first 10, different prices
    merged = merge(stored, new)
    assert len(merged) == 15
    pd.testing.assert_frame_equal(merged.iloc[:10], stored)
    pd.testing.assert_frame_equal(merged.iloc[10:], new.iloc[10:])
