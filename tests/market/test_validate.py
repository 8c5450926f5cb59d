import numpy as np
import pandas as pd

from lab.market.validate import repair, validate
from tests.conftest import make_candles


def _kinds(report):
    return {i.kind: i.count for i in report.issues}


def test_clean_frame_passes():
    report = validate(make_candles(200), "5m")
    assert report.ok and report.gaps == [] and report.bad_rows == 0


def test_every_kind_of_bad_row_is_found_with_its_timestamp():
    f = make_candles(20)
    f.iloc[1, f.columns.get_loc("close")] = np.nan
    f.iloc[2, f.columns.get_loc("low")] = -1.0
    f.iloc[3, f.columns.get_loc("high")] = f.iloc[3]["low"] * 0.9  # high < low
    f.iloc[4, f.columns.get_loc("open")] = f.iloc[4]["high"] * 1.1
    f.iloc[5, f.columns.get_loc("close")] = f.iloc[5]["low"] * 0.9
    f.iloc[6, f.columns.get_loc("volume")] = -5
    f = pd.concat([f, f.iloc[[10]]])  # duplicate
    report = validate(f, "5m")
    kinds = _kinds(report)
    assert kinds["nan_value"] == 1
    assert kinds["non_positive_price"] == 1
    assert kinds["high_below_low"] >= 1
    assert kinds["open_outside_range"] >= 1
    assert kinds["close_outside_range"] >= 1
    assert kinds["negative_volume"] == 1
    assert kinds["duplicate_timestamp"] == 1
    nan_issue = next(i for i in report.issues if i.kind == "nan_value")
    assert nan_issue.timestamps[0] == f.index[1]
    assert "nan_value: 1 row(s) at 2024-01-01T00:05:00+00:00" in report.summary()


def test_unsorted_and_misaligned_timestamps():
    f = make_candles(10)
    f = f.iloc[[0, 1, 3, 2, 4, 5, 6, 7, 8, 9]]
    shifted = make_candles(3, start="2024-02-01 00:01")
    report = validate(pd.concat([f, shifted]), "5m")
    kinds = _kinds(report)
    assert kinds["unsorted_timestamp"] == 1
    assert kinds["misaligned_timestamp"] == 3


def test_gaps_are_counted_in_candles():
    f = make_candles(100).drop(make_candles(100).index[[10, 11, 12, 50]])
    report = validate(f, "5m")
    assert report.ok
    assert [(g.after, g.missing) for g in report.gaps] == [(f.index[9], 3), (f.index[46], 1)]


def test_repair_quarantines_bad_rows_and_sorts():
    f = make_candles(10)
    f.iloc[3, f.columns.get_loc("volume")] = -1
    f = f.iloc[::-1]
    clean, bad = repair(f, validate(f, "5m"))
    assert len(bad) == 1 and bad.index[0] == make_candles(10).index[3]
    assert clean.index.is_monotonic_increasing and len(clean) == 9
