"""Truth benchmarks on a seeded database against values computed by hand, and on an empty one."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from lab.research.truth import truth_benchmarks
from lab.store.db import readonly_engine, session_scope
from lab.store.models import EngineTrade, EquitySnapshot, ScanResult

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def trade(mode, strategy, i, pnl, fees=(1.0, 1.0), status="closed", version="1.0.0"):
    return EngineTrade(
        mode=mode,
        strategy=strategy,
        strategy_version=version,
        symbol="BTC/USD",
        entry_time=T0 + timedelta(hours=i),
        exit_time=T0 + timedelta(hours=i, minutes=30) if status == "closed" else None,
        size=1.0,
        entry_price=100.0,
        exit_price=100.0 if status == "closed" else None,
        entry_fees=fees[0],
        exit_fees=fees[1] if status == "closed" else 0.0,
        pnl=pnl if status == "closed" else None,
        status=status,
    )


@pytest.fixture
def seeded(cfg):
    with session_scope(cfg) as s:
        # paper / alpha: +10, -4, -6, +2, -1, -3 (then one open); by hand below
        for i, pnl in enumerate([10.0, -4.0, -6.0, 2.0, -1.0, -3.0]):
            s.add(trade("paper", "alpha", i, pnl, version="1.0.0" if i < 3 else "1.1.0"))
        s.add(trade("paper", "alpha", 9, 0.0, status="open", version="1.1.0"))
        s.add(trade("live", "alpha", 1, 5.0, fees=(0.5, 0.25)))
        s.add(trade("shadow", "beta", 1, -2.0))
        for i, eq in enumerate([100.0, 110.0, 99.0, 104.5, 88.0, 95.0]):  # max drawdown 88/110 - 1 = -0.2
            s.add(
                EquitySnapshot(
                    mode="paper",
                    kind="bar",
                    bar_time=T0 + timedelta(hours=i),
                    equity=eq,
                    cash=eq,
                    positions_value=0.0,
                )
            )
        end = T0 + timedelta(days=40)
        # scans: every 12 h over 40 days, an entry signal every 4th scan; the newest scan is `end`
        for k in range(81):
            t = end - timedelta(hours=12 * k)
            s.add(
                ScanResult(
                    bar_time=t, symbol="BTC/USD", signal="entry" if k % 4 == 2 else "none", indicators={}
                )
            )
    return cfg


def test_trade_benchmarks_match_hand_computed_values(seeded):
    bench = truth_benchmarks(readonly_engine(seeded.db_url))
    rows = {(r["strategy"], r["mode"]): r for r in bench["per_strategy"]}
    a = rows[("alpha", "paper")]
    assert (a["trades"], a["open_trades"], a["wins"], a["losses"]) == (6, 1, 2, 4)
    assert a["win_rate"] == pytest.approx(2 / 6)
    assert a["net_pnl"] == pytest.approx(-2.0)
    assert a["fees"] == pytest.approx(12.0)  # 6 closed trades x (1 + 1)
    assert a["gross_pnl"] == pytest.approx(10.0)
    assert a["expectancy"] == pytest.approx(-2.0 / 6)
    assert (a["consecutive_losses"], a["max_consecutive_losses"]) == (2, 2)  # -4,-6 then -1,-3
    assert a["strategy_version"] == "1.1.0"
    assert a["max_drawdown"] == pytest.approx(88.0 / 110.0 - 1)
    live = rows[("alpha", "live")]
    assert (live["trades"], live["fees"], live["net_pnl"], live["gross_pnl"]) == (1, 0.75, 5.0, 5.75)
    assert rows[("beta", "shadow")]["losses"] == 1 and rows[("beta", "shadow")]["consecutive_losses"] == 1


def test_activity_windows_and_signal_drought(seeded):
    act = truth_benchmarks(readonly_engine(seeded.db_url))["activity"]
    # scans at end - 12h*k: 24h window (exclusive start) holds k = 0, 1; 7d holds k = 0..13; 30d k = 0..59
    assert act["scans"] == {"24h": 2, "7d": 14, "30d": 60}
    # entries at k = 2, 6, 10, …: 7d holds k = 2, 6, 10 ; 30d holds 2..58 step 4 = 15
    assert act["signals"] == {"24h": 0, "7d": 3, "30d": 15}
    assert act["hours_since_last_signal"] == pytest.approx(24.0)
    assert act["as_of"].startswith("2025-04-10")


def test_empty_database_gives_empty_benchmarks_not_errors(cfg):
    bench = truth_benchmarks(
        readonly_engine(cfg.db_url) if (cfg.data_dir / "lab.db").exists() else _fresh(cfg)
    )
    assert bench["per_strategy"] == [] and bench["max_drawdown_by_book"] == {}
    act = bench["activity"]
    assert act["scans"] == {"24h": 0, "7d": 0, "30d": 0} and act["last_signal"] is None
    assert act["hours_since_last_signal"] is None or math.isnan(act["hours_since_last_signal"])


def _fresh(cfg):
    from lab.store.db import ensure_schema

    ensure_schema(cfg.db_url)
    return readonly_engine(cfg.db_url)


def test_two_shadow_books_of_one_strategy_are_judged_apart(cfg):
    """Each book has its own trades and its own equity curve: interleaving two books' snapshots would
    invent drawdowns neither had."""
    from datetime import UTC, datetime, timedelta

    from lab.store.models import Book, EngineTrade, EquitySnapshot

    t0 = datetime(2025, 5, 1, tzinfo=UTC)
    with session_scope(cfg) as s:
        for key, equity, pnl in (("shadow:a", [100, 110, 120], 5.0), ("shadow:b", [50, 40, 45], -3.0)):
            book = Book(key=key, strategy="ensemble", strategy_version="1.0.0", params={}, mode="shadow")
            s.add(book)
            s.flush()
            s.add(
                EngineTrade(
                    book_id=book.id,
                    mode="shadow",
                    strategy="ensemble",
                    strategy_version="1.0.0",
                    symbol="BTC/USD",
                    entry_time=t0,
                    exit_time=t0,
                    size=1,
                    entry_price=1,
                    exit_price=1,
                    entry_fees=0,
                    exit_fees=0,
                    pnl=pnl,
                    status="closed",
                )
            )
            for k, e in enumerate(equity):
                s.add(
                    EquitySnapshot(
                        book_id=book.id,
                        mode="shadow",
                        kind="bar",
                        bar_time=t0 + timedelta(minutes=5 * k),
                        equity=e,
                        cash=e,
                        positions_value=0,
                    )
                )
    bench = truth_benchmarks(readonly_engine(cfg.db_url))
    rows = {r["book"]: r for r in bench["per_strategy"]}
    assert rows["shadow:a"]["net_pnl"] == 5.0 and rows["shadow:b"]["net_pnl"] == -3.0
    assert rows["shadow:a"]["max_drawdown"] == 0.0 and rows["shadow:b"]["max_drawdown"] == pytest.approx(
        40 / 50 - 1
    )
