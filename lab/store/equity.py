"""Reading a book's daily equity from the store: its daily returns, and the spread between two books'
returns (what the promoter judges and what the rollout's CUSUM is scaled by)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import select

from lab.core.config import LabConfig
from lab.store.db import session_scope
from lab.store.models import Book, EquitySnapshot


def daily_returns(conn: Any, book_id: int) -> pd.Series:
    """Returns between the book's daily equity points (the close of each UTC day's first bar)."""
    rows = conn.execute(
        select(EquitySnapshot.bar_time, EquitySnapshot.equity)
        .where(EquitySnapshot.book_id == book_id, EquitySnapshot.kind == "daily")
        .order_by(EquitySnapshot.bar_time)
    ).all()
    if len(rows) < 2:
        return pd.Series(dtype=float)
    eq = pd.Series(
        [r[1] for r in rows], index=pd.DatetimeIndex([pd.Timestamp(r[0]) for r in rows]).floor("D")
    )
    eq = eq[~eq.index.duplicated(keep="last")]
    return eq.pct_change().dropna()


def difference_sigma(config: LabConfig, shadow: str, active: str = "paper") -> float:
    """The standard deviation of the daily difference between two books' returns over their common
    days (NaN with fewer than two)."""
    with session_scope(config) as s:
        ids = dict(s.execute(select(Book.key, Book.id).where(Book.key.in_([shadow, active]))).all())
        both = pd.concat(
            {"shadow": daily_returns(s, ids[shadow]), "active": daily_returns(s, ids[active])},
            axis=1,
            join="inner",
        ).dropna()
    return float((both["shadow"] - both["active"]).std())
