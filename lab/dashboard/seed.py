"""A large synthetic trading record for dashboard benchmarks and tests (bulk inserts, no engine run)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import insert

from lab.core.config import LabConfig
from lab.store.db import connection_scope
from lab.store.models import EngineState, EngineTrade, EquitySnapshot, ScanResult


def seed_large(
    config: LabConfig, trades: int = 100_000, days: int = 365, seed: int = 0, scans: bool = False
) -> None:
    """`days` of 5-minute equity points and `trades` closed trades for the paper engine; with `scans`,
    a scan row per 5-minute bar and symbol too (an entry signal on one bar in 50)."""
    rng = np.random.default_rng(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    n = days * 288
    equity = 10_000 * np.exp(np.cumsum(rng.normal(0, 0.0005, n)))
    symbols = ["BTC/USD", "ETH/USD", "SOL/USD"]
    with connection_scope(config) as c:
        for lo in range(0, n, 50_000):
            c.execute(
                insert(EquitySnapshot),
                [
                    {
                        "mode": "paper",
                        "kind": "bar",
                        "bar_time": start + timedelta(minutes=5 * i),
                        "equity": float(equity[i]),
                        "cash": float(equity[i]),
                        "positions_value": 0.0,
                    }
                    for i in range(lo, min(n, lo + 50_000))
                ],
            )
        for lo in range(0, trades, 50_000):
            c.execute(
                insert(EngineTrade),
                [
                    {
                        "mode": "paper",
                        "strategy": "ema_rsi_volume",
                        "strategy_version": "1.0.0",
                        "symbol": symbols[i % 3],
                        "entry_time": start + timedelta(minutes=5 * (i % n)),
                        "exit_time": start + timedelta(minutes=5 * (i % n) + 30),
                        "size": 1.0,
                        "entry_price": 100.0,
                        "exit_price": 101.0,
                        "entry_fees": 0.4,
                        "exit_fees": 0.4,
                        "pnl": float(rng.normal(0, 10)),
                        "status": "closed",
                        "exit_reason": "signal",
                    }
                    for i in range(lo, min(trades, lo + 50_000))
                ],
            )
        if scans:
            for lo in range(0, n, 20_000):
                c.execute(
                    insert(ScanResult),
                    [
                        {
                            "bar_time": start + timedelta(minutes=5 * i),
                            "symbol": sym,
                            "signal": "entry" if (i + k) % 50 == 0 else "none",
                            "rejected": None,
                            "indicators": {"close": 100.0, "rsi": 50.0},
                        }
                        for i in range(lo, min(n, lo + 20_000))
                        for k, sym in enumerate(symbols)
                    ],
                )
        c.execute(
            insert(EngineState),
            [
                {
                    "mode": "paper",
                    "state": {
                        "initial_capital": 10_000,
                        "cash": float(equity[-1]),
                        "peak_equity": float(equity.max()),
                        "day_start_equity": float(equity[-288]),
                        "last_bar": (start + timedelta(minutes=5 * (n - 1))).isoformat(),
                    },
                }
            ],
        )
