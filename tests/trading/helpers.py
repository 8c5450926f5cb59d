"""Shared setup for engine tests: a project with sample candles and risk limits that do not bind."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from lab.core.config import LabConfig, load_config
from lab.market.repository import store_candles
from lab.market.sample import generate

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = ["BTC/USD", "ETH/USD", "SOL/USD"]
NO_RISK = """
[risk]
daily_loss_limit = 0
max_drawdown = 0
max_consecutive_losses = 0
max_position_fraction = 1.0
"""


def make_project(
    root: Path, days: float = 4, env: dict[str, str] | None = None, symbols: list[str] = SYMBOLS
) -> LabConfig:
    """env: LAB_* overrides (as a subprocess would get them)."""
    toml = (root / "lab.toml").read_text()
    if "[risk]" not in toml:
        (root / "lab.toml").write_text(toml + NO_RISK)
    if not (root / "strategies").exists():
        shutil.copytree(ROOT / "strategies", root / "strategies")
    cfg = load_config(root / "lab.toml", env=env or {})
    start = pd.Timestamp("2025-03-01", tz="UTC")
    for s in symbols:
        store_candles(
            cfg,
            "synthetic",
            s,
            "5m",
            generate(s, "5m", start, start + pd.Timedelta(days=days), 21),
            source="t",
            action="sample",
            synthetic=True,
        )
    return cfg


def engine_trades(cfg: LabConfig, book: str = "paper") -> pd.DataFrame:
    from lab.store.db import session_scope
    from lab.trading.ledger import trades_frame

    with session_scope(cfg) as s:
        return trades_frame(s, book)


# Learning agents on a few days of candles: short training windows so they vote within the test data.
FAST_AGENTS = """
[agents.params]
ml = { train_bars = 500, min_train = 300, retrain_hours = 12 }
anomaly = { train_bars = 500, min_train = 300, retrain_hours = 12 }
rl = { train_bars = 500, min_train = 300, retrain_hours = 12 }
time_pattern = { min_samples = 10 }
"""


def agent_project(root: Path, days: float = 4, env: dict[str, str] | None = None) -> LabConfig:
    """A project whose voting strategies' agents all vote within `days` of candles."""
    toml = (root / "lab.toml").read_text()
    if "[agents.params]" not in toml:
        (root / "lab.toml").write_text(toml + FAST_AGENTS)
    return make_project(root, days=days, env=env)
