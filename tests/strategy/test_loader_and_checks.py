"""Strategy files: loaded by path; bad ones rejected naming the file and the problem; look-ahead caught."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.core.errors import StrategyError
from lab.strategy.checks import compute_signals, lookahead_check
from lab.strategy.loader import load_strategy
from tests.conftest import make_candles

ROOT = Path(__file__).resolve().parents[2]
HEADER = "import pandas as pd\nfrom lab.core.contract import Signals, Strategy, StrategyParams, param\n"


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(HEADER + body)
    return path


def test_shipped_strategies_load_with_version_and_stage():
    for name, stage in [
        ("ema_rsi_volume", "active"),
        ("bollinger_rsi_reversion", "candidates"),
        ("donchian_atr_breakout", "candidates"),
    ]:
        loaded = load_strategy(name, ROOT / "strategies")
        assert (loaded.name, loaded.stage, loaded.version) == (name, stage, "1.0.0")
        assert len(loaded.code_hash) == 64


def test_shipped_strategies_pass_the_lookahead_check():
    candles = make_candles(3000, seed=4)
    for name in ("ema_rsi_volume", "bollinger_rsi_reversion", "donchian_atr_breakout"):
        loaded = load_strategy(name, ROOT / "strategies")
        assert lookahead_check(loaded.create(), candles, name).ok


PEEKING = """
class Peek(Strategy):
    name = "peek"
    def warmup(self):
        return 5
    def signals(self, candles):
        nxt = candles["close"].shift(-1)
        up = (nxt > candles["close"]).fillna(False)
        return Signals(entries=up, exits=~up)
"""


def test_a_strategy_that_peeks_one_bar_ahead_is_caught(tmp_path):
    loaded = load_strategy(str(write(tmp_path, "peek", PEEKING)), ROOT / "strategies")
    result = lookahead_check(loaded.create(), make_candles(500), "peek.py")
    assert not result.ok
    assert "look-ahead" in result.detail and "peek.py" in result.detail


@pytest.mark.parametrize(
    "body,message",
    [
        ("class S(Strategy)\n    pass\n", "syntax error on line"),
        ("raise RuntimeError('boom')\n", "failed while loading: RuntimeError: boom"),
        ("x = 1\n", "expected exactly one Strategy subclass, found 0"),
        ("class S(Strategy):\n    name = 's'\n", "does not implement signals(candles)"),
        (
            "class S(Strategy):\n    def signals(self, c):\n        return None\n",
            "must set the class attribute 'name'",
        ),
    ],
)
def test_bad_strategy_files_are_rejected_with_file_and_problem(tmp_path, body, message):
    path = write(tmp_path, "bad", body)
    with pytest.raises(StrategyError) as err:
        load_strategy(str(path), ROOT / "strategies")
    assert "bad.py" in str(err.value) and message in str(err.value)


@pytest.mark.parametrize(
    "signals_body,message",
    [
        ("return Signals(entries=c['close'].iloc[:-1] > 0, exits=c['close'] < 0)", "entries has 99 rows"),
        (
            "return Signals(entries=(c['close'] > 0).astype(float).where(c['close'] > 100.2), exits=c['close'] < 0)",
            "entries has",
        ),
        (
            "return Signals(entries=c['close'] > 0, exits=(c['close'] > 0).astype(int))",
            "exits must be boolean",
        ),
        ("return 5", "must return lab.core.contract.Signals"),
        (
            "return Signals(entries=c['close'] > 0, exits=c['close'] < 0, stop_loss=2.0)",
            "stop_loss must be a fraction",
        ),
        ("raise ZeroDivisionError('x')", "signals() raised ZeroDivisionError"),
    ],
)
def test_bad_signal_output_is_rejected(tmp_path, signals_body, message):
    body = f"class S(Strategy):\n    name = 's'\n    def signals(self, c):\n        {signals_body}\n"
    loaded = load_strategy(str(write(tmp_path, "out", body)), ROOT / "strategies")
    with pytest.raises(StrategyError) as err:
        compute_signals(loaded.create(), make_candles(100), "out.py on X/USD")
    assert "out.py on X/USD" in str(err.value) and message in str(err.value)


def test_parameters_are_typed_and_range_checked():
    loaded = load_strategy("ema_rsi_volume", ROOT / "strategies")
    with pytest.raises(StrategyError, match="invalid parameters"):
        loaded.create({"fast": 500})
    with pytest.raises(StrategyError, match="fast"):
        loaded.create({"fast": 30, "slow": 20})
    with pytest.raises(StrategyError, match="extra"):
        loaded.create({"nope": 1})
    grid = loaded.cls.Params.grid(
        {
            "rsi_max": [70.0],
            "rsi_exit": [80.0],
            "volume_min": [1.2],
            "stop_loss": [0.03],
            "take_profit": [0.06],
        }
    )
    assert all(p.fast < p.slow for p in grid)
    assert len(grid) == sum(1 for f in range(3, 31, 3) for s in range(10, 81, 5) if f < s)
