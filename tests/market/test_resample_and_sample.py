import numpy as np
import pandas as pd
import pytest

from lab.core.errors import LabError
from lab.market.repository import load, store_candles
from lab.market.resample import apply_retention, resample
from lab.market.sample import generate
from lab.market.validate import validate
from tests.conftest import make_candles


def test_resample_5m_to_1h_aggregates_correctly_and_drops_forming_bin():
    f = make_candles(12 * 3 + 5)  # three full hours and five candles of a fourth
    h = resample(f, "5m", "1h")
    assert len(h) == 3
    first = f.iloc[:12]
    assert h.iloc[0].tolist() == pytest.approx(
        [first.open.iloc[0], first.high.max(), first.low.min(), first.close.iloc[-1], first.volume.sum()]
    )
    assert h.index[1] == f.index[12]


def test_resample_keeps_hours_with_gaps_and_skips_empty_ones():
    f = make_candles(12 * 4)
    f = f.drop(f.index[12:24])  # the whole second hour is missing
    h = resample(f, "5m", "1h")
    assert list(h.index) == [
        f.index[0],
        f.index[0] + pd.Timedelta(hours=2),
        f.index[0] + pd.Timedelta(hours=3),
    ]


def test_resample_refuses_finer_target():
    with pytest.raises(LabError, match="multiple"):
        resample(make_candles(10), "1h", "5m")


def test_tiered_retention_aggregates_before_pruning(cfg):
    f = make_candles(12 * 24 * 4, seed=2)  # four days of 5m
    store_candles(cfg, "kraken", "BTC/USD", "5m", f, source="t", action="import")
    cfg2 = cfg.model_copy(
        update={"market": cfg.market.model_copy(update={"retention": {"5m": 1, "1h": 0, "1d": 0}})}
    )
    results = apply_retention(cfg2, "kraken", "BTC/USD", ["5m", "1h", "1d"])
    kept = load("kraken", "BTC/USD", "5m", config=cfg)
    assert kept.index[0] == f.index[-1] - pd.Timedelta(days=1)
    assert results[0].removed == len(f) - len(kept)
    hourly = load("kraken", "BTC/USD", "1h", config=cfg)
    assert len(hourly) == 4 * 24 and hourly["volume"].sum() == pytest.approx(f["volume"].sum())
    daily = load("kraken", "BTC/USD", "1d", config=cfg)
    assert len(daily) == 4


def test_sample_is_seeded_valid_and_has_regimes_and_gaps():
    start, end = pd.Timestamp("2025-01-01", tz="UTC"), pd.Timestamp("2025-03-01", tz="UTC")
    a = generate("BTC/USD", "5m", start, end, seed=1)
    b = generate("BTC/USD", "5m", start, end, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(generate("BTC/USD", "5m", start, end, seed=2))
    report = validate(a, "5m")
    assert report.ok and report.gaps, "sample data must be valid and contain occasional gaps"
    daily_vol = np.log(a["close"]).diff().groupby(a.index.date).std()
    assert daily_vol.max() > 2.5 * daily_vol.min(), "volatility regimes should differ"
    by_hour = a["volume"].groupby(a.index.hour).mean()
    assert by_hour.idxmax() in range(12, 19) and by_hour.max() > 1.5 * by_hour.min()


def test_sample_is_labelled_synthetic(cfg):
    from typer.testing import CliRunner

    from lab.cli.main import app
    from lab.market.repository import list_series
    from lab.store.candles import read_metadata, series_path

    assert CliRunner().invoke(app, ["data", "sample", "--days", "2"]).exit_code == 0
    listing = list_series(cfg)
    assert set(listing["exchange"]) == {"synthetic"} and listing["synthetic"].all()
    assert read_metadata(series_path(cfg.candles_dir, "synthetic", "BTC/USD", "5m"))["synthetic"] == "true"
