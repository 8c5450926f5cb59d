"""Import and store: every format, name inference, refusal without damage, quarantine with --repair."""

import json

import pandas as pd
import pytest
from sqlalchemy import select

from lab.core.errors import DataValidationError, LabError
from lab.market.importer import infer_key, read_file
from lab.market.repository import list_series, load, store_candles
from lab.store.db import session_scope
from lab.store.models import DataQualityEvent
from tests.conftest import make_candles, shared_candles_or_skip


def _assert_same(a, b):
    pd.testing.assert_frame_equal(a, b, check_freq=False, check_index_type=False, check_exact=False)


def test_name_inference():
    from pathlib import Path

    assert infer_key(Path("binance_ETH_BTC_5m.csv")) == ("binance", "ETH/BTC", "5m") or True
    k = infer_key(Path("binance_ETH_BTC_5m.csv"))
    assert (k.exchange, k.symbol, k.timeframe) == ("binance", "ETH/BTC", "5m")
    k = infer_key(Path("user_data/data/kraken/BTC_USDT-1h.feather"))
    assert (k.exchange, k.symbol, k.timeframe) == ("kraken", "BTC/USDT", "1h")
    k = infer_key(Path("x/binance/BTC_USDT_USDT-5m-futures.feather"))
    assert (k.symbol, k.timeframe) == ("BTC/USDT", "5m")
    with pytest.raises(LabError, match="--symbol"):
        infer_key(Path("candles.csv"), exchange="kraken", timeframe="5m")


@pytest.mark.parametrize("fmt", ["csv_iso", "csv_epoch_ms", "parquet", "feather", "json_freqtrade"])
def test_every_format_reads_the_same_candles(tmp_path, fmt):
    frame = make_candles(50)
    table = frame.reset_index().rename(columns={"timestamp": "date"})
    path = (
        tmp_path
        / {
            "csv_iso": "a.csv",
            "csv_epoch_ms": "b.csv",
            "parquet": "c.parquet",
            "feather": "BTC_USDT-5m.feather",
            "json_freqtrade": "BTC_USDT-5m.json",
        }[fmt]
    )
    if fmt == "csv_iso":
        table.to_csv(path, index=False)
    elif fmt == "csv_epoch_ms":
        table.assign(date=table["date"].map(lambda t: int(t.timestamp() * 1000))).to_csv(path, index=False)
    elif fmt == "parquet":
        table.to_parquet(path)
    elif fmt == "feather":
        table.to_feather(path)
    else:
        rows = [
            [int(t.timestamp() * 1000), r.open, r.high, r.low, r.close, r.volume] for t, r in frame.iterrows()
        ]
        path.write_text(json.dumps(rows))
    _assert_same(read_file(path), frame)


def test_invalid_batch_is_refused_logged_and_stored_data_untouched(cfg):
    good = make_candles(100)
    store_candles(cfg, "kraken", "BTC/USD", "5m", good, source="t", action="import")
    bad = make_candles(120, seed=4)
    bad.iloc[110, bad.columns.get_loc("high")] = 0.0
    with pytest.raises(DataValidationError, match="refused, nothing stored") as err:
        store_candles(cfg, "kraken", "BTC/USD", "5m", bad, source="t", action="import")
    assert "non_positive_price" in str(err.value)
    _assert_same(load("kraken", "BTC/USD", "5m", config=cfg), good)
    with session_scope(cfg) as s:
        events = s.scalars(select(DataQualityEvent)).all()
        assert [(e.issue, e.detail["outcome"]) for e in events] == [
            ("non_positive_price", "refused"),
            ("high_below_low", "refused"),
            ("open_outside_range", "refused"),
            ("close_outside_range", "refused"),
        ]


def test_repair_quarantines_and_says_where(cfg):
    bad = make_candles(30)
    bad.iloc[7, bad.columns.get_loc("volume")] = -3
    res = store_candles(cfg, "kraken", "BTC/USD", "5m", bad, source="t", action="import", repair_bad=True)
    assert res.quarantined == 1 and res.rows == 29
    quarantined = pd.read_csv(res.quarantine_file)
    assert quarantined["volume"].tolist() == [-3]
    assert list_series(cfg).iloc[0]["missing"] == 1  # the removed row is now a gap


def test_shared_real_candles_show_the_40_missing_ada_candles_as_gaps(cfg):
    path = shared_candles_or_skip("binance_ADA_BTC_5m.csv")
    key = infer_key(path)
    store_candles(cfg, key.exchange, key.symbol, key.timeframe, read_file(path), source="t", action="import")
    row = list_series(cfg).iloc[0]
    assert (row["exchange"], row["symbol"], row["rows"], row["missing"]) == ("binance", "ADA/BTC", 5720, 40)


def test_cli_import_list_validate(cfg, tmp_path):
    from typer.testing import CliRunner

    from lab.cli.main import app

    path = tmp_path / "kraken_BTC_USD_5m.csv"
    frame = make_candles(40).drop(make_candles(40).index[[5, 6]])
    frame.reset_index().rename(columns={"timestamp": "date"}).to_csv(path, index=False)
    runner = CliRunner()
    result = runner.invoke(app, ["data", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "kraken BTC/USD 5m: +38 candles, 38 stored, 1 gap(s) (2 missing)" in result.output.replace(
        "\n", " "
    )
    result = runner.invoke(app, ["data", "list"])
    assert "BTC/USD" in result.output and "38" in result.output
    broken = tmp_path / "kraken_ETH_USD_5m.csv"
    frame.assign(low=-1.0).reset_index().rename(columns={"timestamp": "date"}).to_csv(broken, index=False)
    result = runner.invoke(app, ["data", "import", str(broken)])
    assert result.exit_code == 1 and "non_positive_price" in result.output
