"""Shared fixtures: an isolated project root with its own lab.toml, DB and data directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lab.core.config import LabConfig, load_config

TEST_TOML = """
[market]
exchange = "kraken"
symbols = ["BTC/USD", "ETH/USD"]
retry_backoff = 0.0
flush_every = 500

[sample]
seed = 3
symbols = ["BTC/USD", "ETH/USD"]
days = 3
end = "2026-01-01"

[backtest]
initial_cash = 10000.0
position_fraction = 0.5
max_open_positions = 2
"""

SHARED_CANDLES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "candles"


@pytest.fixture
def lab_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "lab.toml").write_text(TEST_TOML)
    for name in ("LAB_CONFIG", "LAB_ROOT", "LAB_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def cfg(lab_root: Path) -> LabConfig:
    return load_config(lab_root / "lab.toml", env={})


def make_candles(
    n: int, start: str = "2024-01-01", freq: str = "5min", seed: int = 0, price: float = 100.0
) -> pd.DataFrame:
    """A valid random-walk OHLCV frame."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="timestamp")
    close = price * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.001, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.001, n))
    vol = rng.uniform(1, 10, n)
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": vol}, index=idx)


def shared_candles_or_skip(name: str) -> Path:
    path = SHARED_CANDLES / name
    if not path.exists():
        pytest.skip(
            f"real candles not available ({path} is absent; only the lab's own checkout has ../shared)"
        )
    return path


from tests.pg import pg_server, pg_url  # noqa: E402,F401  (PostgreSQL fixtures)
