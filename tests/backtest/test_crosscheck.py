"""The vectorbt backtest and an independent event-driven loop give identical trades."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lab.backtest.run import backtest, execution_model
from lab.backtest.simulate import ExecutionModel, execution_arrays
from lab.market.importer import read_file
from lab.market.sample import generate
from lab.strategy.loader import load_strategy
from tests.backtest.reference_loop import compare, run_reference
from tests.conftest import shared_candles_or_skip

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def _frames(result) -> dict[str, pd.DataFrame]:
    """execution_arrays as (bars x symbols) frames, constant stop rows broadcast, for the plain loop."""
    index, symbols = result.candles[next(iter(result.candles))].index, list(result.candles)
    arrs = execution_arrays(result.candles, result.signals)
    shape = (len(index), len(symbols))
    return {k: pd.DataFrame(np.broadcast_to(v, shape), index=index, columns=symbols) for k, v in arrs.items()}


def _check(result):
    arrs = _frames(result)
    m = result.model
    ref = run_reference(
        result.candles,
        arrs["entries"],
        arrs["exits"],
        arrs["sl"],
        arrs["tp"],
        {s: sig.trailing for s, sig in result.signals.items()},
        m.fees,
        m.slippage,
        m.init_cash,
        m.position_fraction,
        m.max_open,
    )
    compare(result.trades, ref)
    return ref


@pytest.mark.parametrize("strategy", ["ema_rsi_volume", "bollinger_rsi_reversion", "donchian_atr_breakout"])
@pytest.mark.parametrize("max_open", [3, 1])
def test_generated_multi_symbol(cfg, strategy, max_open):
    start = pd.Timestamp("2025-01-01", tz="UTC")
    raw = {
        s: generate(s, "5m", start, start + pd.Timedelta(days=6), seed=11)
        for s in ("BTC/USD", "ETH/USD", "SOL/USD")
    }
    loaded = load_strategy(strategy, ROOT / "strategies")
    model = ExecutionModel({s: 0.004 for s in raw}, 0.0005, 10_000.0, 0.3, max_open)
    result = backtest(loaded, loaded.create().params, raw, model)
    ref = _check(result)
    assert len(ref) >= 5, "the comparison needs trades to mean something"


def test_real_binance_candles(cfg):
    raw = {}
    for name in ("binance_ETH_BTC_5m.csv", "binance_ADA_BTC_5m.csv", "binance_LTC_BTC_5m.csv"):
        path = shared_candles_or_skip(name)
        raw[name.split("_")[1] + "/BTC"] = read_file(path)
    loaded = load_strategy("ema_rsi_volume", ROOT / "strategies")
    params = loaded.create({"volume_min": 1.0, "stop_loss": 0.02, "take_profit": 0.04}).params
    result = backtest(loaded, params, raw, execution_model(cfg, list(raw)))
    ref = _check(result)
    assert len(ref) > 50
