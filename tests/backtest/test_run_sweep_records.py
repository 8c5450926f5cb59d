"""Runner, sweep, walk-forward and experiment records on stored sample data."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from lab.backtest.run import execution_model, run_backtest
from lab.backtest.sweep import sweep, walk_forward
from lab.cli.main import app
from lab.market.repository import load_many, store_candles
from lab.market.sample import generate
from lab.store.db import session_scope
from lab.store.models import BacktestTrade, Experiment
from lab.strategy.loader import load_strategy

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture
def sample(cfg):
    start = pd.Timestamp("2025-01-01", tz="UTC")
    for s in ("BTC/USD", "ETH/USD"):
        store_candles(
            cfg,
            "synthetic",
            s,
            "5m",
            generate(s, "5m", start, start + pd.Timedelta(days=8), 5),
            source="t",
            action="sample",
            synthetic=True,
        )
    return cfg.model_copy(update={"strategies_dir": ROOT / "strategies"}) if False else cfg


def _cfg(cfg):
    return cfg.model_copy(
        update={"paths": cfg.paths.model_copy(update={"strategies_dir": ROOT / "strategies"})}
    )


def test_backtest_is_recorded_with_hashes_versions_and_trades(sample):
    cfg = _cfg(sample)
    res = run_backtest(cfg, "ema_rsi_volume", ["BTC/USD", "ETH/USD"], exchange="synthetic")
    again = run_backtest(cfg, "ema_rsi_volume", ["BTC/USD", "ETH/USD"], exchange="synthetic", record=False)
    assert res.trades_hash == again.trades_hash  # deterministic
    with session_scope(cfg) as s:
        exp = s.scalars(select(Experiment)).one()
        assert exp.strategy == "ema_rsi_volume" and exp.strategy_version == "1.0.0"
        assert exp.code_hash == res.strategy.code_hash and exp.data_hash == res.data_hash
        assert exp.trades_hash == res.trades_hash
        assert exp.parameters["fast"] == 9 and exp.symbols == ["BTC/USD", "ETH/USD"]
        assert set(exp.library_versions) >= {"vectorbt", "pandas", "ta-lib"}
        assert exp.metrics["trades"] == res.metrics["trades"]
        n = len(s.scalars(select(BacktestTrade).where(BacktestTrade.experiment_id == exp.id)).all())
        assert n == len(res.trades) > 0


def test_sweep_rows_match_single_backtests_and_report_dsr(sample):
    cfg = _cfg(sample)
    loaded = load_strategy("ema_rsi_volume", cfg.strategies_dir)
    grid = loaded.cls.Params.grid(
        {
            "fast": [6, 9],
            "slow": [20, 30],
            "rsi_max": [70.0],
            "rsi_exit": [80.0],
            "volume_min": [1.0],
            "stop_loss": [0.03],
            "take_profit": [0.06],
        }
    )
    candles = load_many(cfg, "synthetic", ["BTC/USD"], "5m")["BTC/USD"]
    model = execution_model(cfg, ["BTC/USD"])
    result = sweep(loaded, candles, model, "BTC/USD", grid, progress=False)
    assert len(result.table) == 4 and result.n_trials == 4
    for p in grid:
        single = run_backtest(
            cfg, "ema_rsi_volume", ["BTC/USD"], exchange="synthetic", params=p.model_dump(), record=False
        )
        row = result.table[(result.table["fast"] == p.fast) & (result.table["slow"] == p.slow)].iloc[0]
        assert row["total_return"] == pytest.approx(single.metrics["total_return"], rel=1e-9)
        assert row["trades"] == single.metrics["trades"]
        assert row["sharpe_daily"] == pytest.approx(single.metrics["sharpe_daily"], rel=1e-9, nan_ok=True)
    assert 0.0 <= result.deflated_sharpe <= 1.0


def test_sweep_in_worker_processes_equals_the_in_process_sweep(sample, monkeypatch):
    import lab.backtest.sweep as sweep_module

    cfg = _cfg(sample)
    loaded = load_strategy("ema_rsi_volume", cfg.strategies_dir)
    grid = loaded.cls.Params.grid(limit=8, seed=3)
    candles = load_many(cfg, "synthetic", ["BTC/USD"], "5m")["BTC/USD"]
    model = execution_model(cfg, ["BTC/USD"])
    monkeypatch.setattr(sweep_module, "CHUNK", 2)  # 4 chunks: more than 2 goes to worker processes
    parallel = sweep(loaded, candles, model, "BTC/USD", grid, progress=False, n_jobs=2)
    serial = sweep(loaded, candles, model, "BTC/USD", grid, progress=False, n_jobs=1)
    pd.testing.assert_frame_equal(parallel.table, serial.table)
    assert parallel.best == serial.best and parallel.table["trades"].sum() > 0


def test_walk_forward_chooses_in_sample_and_scores_out_of_sample(sample):
    cfg = _cfg(sample)
    loaded = load_strategy("ema_rsi_volume", cfg.strategies_dir)
    grid = loaded.cls.Params.grid(
        {
            "fast": [6, 9],
            "slow": [20],
            "rsi_max": [70.0],
            "rsi_exit": [80.0],
            "volume_min": [1.0],
            "stop_loss": [0.03],
            "take_profit": [0.06],
        }
    )
    candles = load_many(cfg, "synthetic", ["BTC/USD"], "5m")["BTC/USD"]
    wf = walk_forward(
        loaded,
        candles,
        execution_model(cfg, ["BTC/USD"]),
        "BTC/USD",
        splits=3,
        in_sample_days=2,
        out_sample_days=2,
        grid=grid,
    )
    assert list(wf.table["split"]) == [1, 2, 3]
    # out-of-sample windows follow each other without overlap, and no trade starts before its window
    assert wf.oos_equity.index.is_monotonic_increasing and wf.oos_equity.index.is_unique
    assert len(wf.oos_equity) == 3 * 2 * 288


def test_cli_backtest_prints_metrics_and_bad_strategy_is_named(sample, monkeypatch, tmp_path):
    import shutil

    shutil.copytree(ROOT / "strategies", sample.root / "strategies")
    result = CliRunner().invoke(app, ["backtest", "ema_rsi_volume", "-s", "BTC/USD", "-s", "ETH/USD"])
    assert result.exit_code == 0, result.output
    assert (
        "sharpe_daily" in result.output and "fees_paid" in result.output and "experiment #1" in result.output
    )
    bad = tmp_path / "broken.py"
    bad.write_text("def x(:\n")
    result = CliRunner().invoke(app, ["backtest", str(bad)])
    assert result.exit_code == 2 and "broken.py: syntax error on line 1" in result.output
