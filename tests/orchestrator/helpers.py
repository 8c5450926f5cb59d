"""A project for nightly cycles: sample candles, a paper book with a losing record, gates sized to the
few days of test candles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from lab.core.config import LabConfig, load_config
from lab.store.db import ensure_schema, get_engine, session_scope
from lab.store.models import Book, EngineTrade
from tests.trading.helpers import make_project

NIGHT_TOML = """
[llm]
backoff_s = 0.0
max_retries = 2
tool_iterations = 2

[llm.gates]
backtest_days = 6
min_trades = 1
walk_forward_splits = 1
min_oos_return = -0.5
lookahead_cuts = 3

[llm.budgets.nightly]
daily_dollars = 5.0
"""


def night_project(
    root: Path, losing_trades: int = 40, extra_toml: str = "", env: dict | None = None
) -> LabConfig:
    (root / "lab.toml").write_text((root / "lab.toml").read_text() + NIGHT_TOML + extra_toml)
    cfg = make_project(root, days=8, env=env)
    ensure_schema(cfg.db_url)
    if losing_trades:
        rng = np.random.default_rng(5)
        with session_scope(cfg) as s:
            book = Book(
                key="paper", strategy="ema_rsi_volume", strategy_version="1.0.0", mode="paper", params={}
            )
            s.add(book)
            s.flush()
            t0 = datetime(2025, 3, 1, tzinfo=UTC)
            for i in range(losing_trades):
                ret = float(rng.normal(-0.004, 0.003))
                s.add(
                    EngineTrade(
                        book_id=book.id,
                        mode="paper",
                        strategy="ema_rsi_volume",
                        strategy_version="1.0.0",
                        symbol="BTC/USD",
                        entry_time=t0 + timedelta(hours=3 * i),
                        exit_time=t0 + timedelta(hours=3 * i + 1),
                        size=0.01,
                        entry_price=50_000.0,
                        exit_price=50_000.0 * (1 + ret),
                        entry_fees=2.0,
                        exit_fees=2.0,
                        pnl=500.0 * ret - 4.0,
                        status="closed",
                        exit_reason="signal",
                    )
                )
    return load_config(root / "lab.toml", env=env or {})


def db_of(cfg: LabConfig):
    return get_engine(cfg.db_url)
