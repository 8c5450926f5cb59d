"""A database connection that cannot write, enforced by SQLite itself, for code in the sandbox.

Three locks, each at the database, none a regex over the SQL: the file is opened with `mode=ro` (the
OS-level open is read-only), `PRAGMA query_only` refuses every write statement, and an authorizer
denies ATTACH/DETACH, PRAGMA writes and any statement that would modify a table. SQLite's own
`execute` runs one statement at a time, so a `; DROP TABLE …` tail fails too.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

_READS = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
}
# PRAGMAs that only describe the schema (their argument is a table or index name, never a setting).
_READ_PRAGMAS = {"table_info", "table_xinfo", "index_list", "index_info", "foreign_key_list", "table_list"}


def _authorizer(
    action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None
) -> int:
    if action in _READS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in _READ_PRAGMAS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_TRANSACTION:  # BEGIN/COMMIT of a read
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def connect_readonly(path: str | Path) -> sqlite3.Connection:
    uri = f"file:{Path(path).resolve()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    conn.execute("PRAGMA query_only = ON")
    conn.set_authorizer(_authorizer)
    return conn


class ReadOnlyDB:
    """What an analysis module gets as `db`: queries returning rows as dicts, or a DataFrame."""

    def __init__(self, path: str | Path) -> None:
        self._conn = connect_readonly(path)

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        cur = self._conn.execute(sql, params)
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def frame(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> Any:
        import pandas as pd

        cur = self._conn.execute(sql, params)
        names = [d[0] for d in cur.description or ()]
        return pd.DataFrame.from_records(cur.fetchall(), columns=names)

    def execute(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        """Raw rows (writes fail at the database like every other path)."""
        return self._conn.execute(sql, params).fetchall()
