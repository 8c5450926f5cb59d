"""Books: several accounts in one engine on the same bars, each equal to its own backtest, each state
rebuilt from its own fills only; the migration that assigned the ledger's old rows to books."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, select

from lab.backtest.run import run_backtest
from lab.store import db
from lab.store.models import Book, EngineState, EngineTrade, Fill, Order, ScanResult
from lab.trading import ledger
from lab.trading.ledger import RuntimeState
from lab.trading.setup import ExtraBook, replay_engine
from tests.trading.helpers import SYMBOLS, engine_trades, make_project
from tests.trading.test_parity import assert_same_trades

OTHER = ExtraBook("shadow:bollinger", "bollinger_rsi_reversion")


def test_two_books_on_the_same_bars_each_equal_their_own_backtest(lab_root):
    cfg = make_project(lab_root, days=4)
    engine = replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", books=[OTHER])
    summary = engine.run()
    first = run_backtest(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", record=False)
    second = run_backtest(cfg, "bollinger_rsi_reversion", SYMBOLS, exchange="synthetic", record=False)
    assert_same_trades(first.trades, engine_trades(cfg, "paper"))
    assert_same_trades(second.trades, engine_trades(cfg, "shadow:bollinger"))
    assert summary.steps == len(first.equity)
    assert engine.trader("paper").equity() == pytest.approx(float(first.equity.iloc[-1]), rel=1e-10)
    assert engine.trader("shadow:bollinger").equity() == pytest.approx(
        float(second.equity.iloc[-1]), rel=1e-10
    )
    with db.session_scope(cfg) as s:
        books = {b.key: b for b in s.scalars(select(Book))}
        assert (
            books["shadow:bollinger"].mode == "shadow"
            and books["shadow:bollinger"].strategy == "bollinger_rsi_reversion"
        )
        assert books["paper"].strategy == "ema_rsi_volume"
        # every ledger row belongs to a book, client order ids are unique across books
        for model in (Order, Fill, EngineTrade, ScanResult):
            assert s.scalar(select(func.count()).select_from(model).where(model.book_id.is_(None))) == 0
        ids = [o.client_order_id for o in s.scalars(select(Order))]
        assert len(ids) == len(set(ids)) and any(
            i.startswith(f"lab-b{books['shadow:bollinger'].id}-") for i in ids
        )


def test_each_books_state_rebuilt_from_its_own_fills_equals_the_saved_state(lab_root):
    cfg = make_project(lab_root, days=4)
    replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", books=[OTHER]).run()
    with db.session_scope(cfg) as s:
        for book in s.scalars(select(Book)):
            saved = RuntimeState.model_validate(s.get(EngineState, book.key).state)
            rebuilt = ledger.rebuild_state(s, book.id, cfg.trading_capital.initial_cash)
            assert rebuilt.cash == pytest.approx(saved.cash, abs=1e-6), book.key
            assert (
                rebuilt.last_bar == saved.last_bar.replace(tzinfo=None) or rebuilt.last_bar == saved.last_bar
            )
        assert (
            len(
                {
                    round(RuntimeState.model_validate(s.get(EngineState, k).state).cash, 6)
                    for k in ("paper", "shadow:bollinger")
                }
            )
            == 2
        )


def test_a_restarted_engine_resumes_every_book_where_it_stopped(lab_root):
    cfg = make_project(lab_root, days=4)
    first = run_backtest(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", record=False)
    second = run_backtest(cfg, "bollinger_rsi_reversion", SYMBOLS, exchange="synthetic", record=False)
    n = len(first.equity)
    for steps in (n // 3, n // 4, None):
        replay_engine(cfg, "ema_rsi_volume", SYMBOLS, exchange="synthetic", books=[OTHER]).run(
            max_steps=steps
        )
    assert_same_trades(first.trades, engine_trades(cfg, "paper"))
    assert_same_trades(second.trades, engine_trades(cfg, "shadow:bollinger"))


def test_the_migration_assigns_existing_rows_to_their_book(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db.upgrade(url, "0007")
    conn = sqlite3.connect(tmp_path / "old.db")
    conn.executescript(
        """
        INSERT INTO orders (client_order_id, mode, symbol, side, kind, reason, bar_time, reference_price, trailing, status, created_at)
          VALUES ('lab-p-1', 'paper', 'BTC/USD', 'buy', 'market', 'entry', '2025-01-01 00:05:00', 100, 0, 'filled', '2025-01-01');
        INSERT INTO fills (order_id, symbol, side, size, price, fee, bar_time, created_at)
          VALUES (1, 'BTC/USD', 'buy', 1, 100, 0.4, '2025-01-01 00:05:00', '2025-01-01');
        INSERT INTO engine_trades (mode, strategy, strategy_version, symbol, entry_time, size, entry_price, entry_fees, exit_fees, status)
          VALUES ('paper', 'ema_rsi_volume', '1.0.0', 'BTC/USD', '2025-01-01 00:05:00', 1, 100, 0.4, 0, 'open');
        INSERT INTO positions (mode, symbol, size, entry_price, entry_fees, entry_time, trailing, peak, trade_id)
          VALUES ('paper', 'BTC/USD', 1, 100, 0.4, '2025-01-01 00:05:00', 0, 100, 1);
        INSERT INTO scan_results (bar_time, symbol, signal, indicators) VALUES ('2025-01-01 00:00:00', 'BTC/USD', 'entry', '{}');
        INSERT INTO risk_events (bar_time, symbol, rule, detail) VALUES ('2025-01-01 00:00:00', 'BTC/USD', 'paused', 'x');
        INSERT INTO engine_state (mode, state, updated_at) VALUES ('paper', '{}', '2025-01-01');
        """
    )
    conn.commit()
    conn.close()
    db.upgrade(url)
    conn = sqlite3.connect(tmp_path / "old.db")
    ((book_id, key, strategy),) = conn.execute("SELECT id, key, strategy FROM books").fetchall()
    assert (key, strategy) == ("paper", "ema_rsi_volume")
    for table in ("orders", "fills", "engine_trades", "positions", "scan_results", "risk_events"):
        assert conn.execute(f"SELECT DISTINCT book_id FROM {table}").fetchall() == [(book_id,)], table
    conn.close()
    db.downgrade(url, "0007")
    db.upgrade(url)
