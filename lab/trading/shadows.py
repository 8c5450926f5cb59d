"""The shadow registry: candidate strategies traded in virtual books beside the active one, on the same
bars, never through a broker that reaches an exchange. A shadow is a book of mode "shadow" (the books
table is the registry: status active, retired or disabled, with the reason), added from lab.toml's
[shadows.*] or with `lab shadows add`, retired with `lab shadows retire`."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from lab.core.config import LabConfig
from lab.core.errors import LabError
from lab.store.db import session_scope
from lab.store.models import Book, EngineTrade, EquitySnapshot
from lab.strategy.loader import load_configured
from lab.trading.setup import ExtraBook

PREFIX = "shadow:"
NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,50}$")


def key_of(name: str) -> str:
    bare = name.removeprefix(PREFIX)
    if not NAME.match(bare):
        raise LabError(f"shadow name {name!r}: use lowercase letters, digits and underscores (at most 51)")
    return PREFIX + bare


def _register(
    s: Any,
    config: LabConfig,
    name: str,
    strategy: str,
    params: dict,
    sizing: str | None,
    capital_share: float,
    source: str,
) -> Book:
    loaded = load_configured(config, strategy)
    chosen = loaded.create(params).params  # refuses parameters the strategy does not take
    key = key_of(name)
    book = s.scalar(select(Book).where(Book.key == key))
    if book is not None and book.mode != "shadow":
        raise LabError(f"book {key!r} exists and is a {book.mode} book")
    if book is None:
        book = Book(
            key=key,
            mode="shadow",
            strategy=loaded.name,
            strategy_version=loaded.version,
            params=chosen.model_dump(mode="json"),
            capital_share=capital_share,
            status="active",
        )
        s.add(book)
    book.settings = {"strategy": strategy, "sizing": sizing, "source": source}
    s.flush()
    return book


def add_shadow(
    config: LabConfig,
    name: str,
    strategy: str,
    params: dict | None = None,
    sizing: str | None = None,
    capital_share: float = 1.0,
) -> str:
    if sizing not in (None, "fixed", "kelly"):
        raise LabError(f"sizing {sizing!r}: must be fixed or kelly")
    with session_scope(config) as s:
        existing = s.scalar(select(Book).where(Book.key == key_of(name)))
        if existing is not None and existing.status == "active":
            raise LabError(f"shadow {name!r} exists already ({existing.strategy}); retire it first")
        book = _register(s, config, name, strategy, params or {}, sizing, capital_share, "cli")
        book.status, book.error = "active", None
        return f"shadow {book.key} added: {book.strategy} {book.strategy_version} {book.params}"


def retire_shadow(config: LabConfig, name: str, reason: str = "retired by the operator") -> str:
    with session_scope(config) as s:
        book = s.scalar(select(Book).where(Book.key == key_of(name), Book.mode == "shadow"))
        if book is None:
            raise LabError(f"no shadow {name!r} (lab shadows list)")
        if book.status == "retired":
            return f"shadow {book.key} was retired already"
        book.status, book.error = "retired", reason
        return f"shadow {book.key} retired: {reason}"


def active_shadow_books(config: LabConfig) -> list[ExtraBook]:
    """lab.toml's shadows registered (unless retired or disabled in the DB), then every active shadow."""
    with session_scope(config) as s:
        for name, sh in config.shadows.items():
            book = s.scalar(select(Book).where(Book.key == key_of(name)))
            if book is None or book.status == "active":
                _register(s, config, name, sh.strategy, sh.params, sh.sizing, sh.capital_share, "lab.toml")
        books = s.scalars(
            select(Book).where(Book.mode == "shadow", Book.status == "active").order_by(Book.id)
        ).all()
        return [
            ExtraBook(
                b.key,
                (b.settings or {}).get("strategy") or b.strategy,
                dict(b.params or {}),
                "shadow",
                b.capital_share,
                sizing=(b.settings or {}).get("sizing"),
            )
            for b in books
        ]


def shadow_table(config: LabConfig) -> pd.DataFrame:
    """Every shadow with its status, closed trades, net P&L and newest equity."""
    with session_scope(config) as s:
        books = s.scalars(select(Book).where(Book.mode == "shadow").order_by(Book.id)).all()
        rows = []
        for b in books:
            trades, pnl = s.execute(
                select(func.count(), func.coalesce(func.sum(EngineTrade.pnl), 0.0)).where(
                    EngineTrade.book_id == b.id, EngineTrade.status == "closed"
                )
            ).one()
            equity = s.scalar(
                select(EquitySnapshot.equity)
                .where(EquitySnapshot.book_id == b.id)
                .order_by(EquitySnapshot.bar_time.desc())
                .limit(1)
            )
            rows.append(
                {
                    "shadow": b.key,
                    "strategy": f"{b.strategy} {b.strategy_version}",
                    "status": b.status,
                    "sizing": (b.settings or {}).get("sizing") or config.sizing.method,
                    "trades": int(trades),
                    "net_pnl": float(pnl),
                    "equity": equity,
                    "params": b.params,
                    "error": b.error or "",
                }
            )
    return pd.DataFrame(
        rows,
        columns=["shadow", "strategy", "status", "sizing", "trades", "net_pnl", "equity", "params", "error"],
    )
