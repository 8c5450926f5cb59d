"""The engine's locks: the single-instance file lock (lab.core.locks) and, on a server database, a
lock in the database itself."""

from __future__ import annotations

from lab.core.locks import AlreadyRunning, InstanceLock

__all__ = ["AlreadyRunning", "DatabaseLock", "InstanceLock"]


class DatabaseLock:
    """Held for the engine's lifetime on a server database: a PostgreSQL advisory lock keyed by the
    book, on a connection of its own, so two engines on two machines (two data directories, one
    database) cannot trade the same book. On SQLite the database is a local file and the instance
    lock above already covers it: nothing to do."""

    def __init__(self, url: str, book: str) -> None:
        self.url, self.book = url, book
        self._conn = None

    def acquire(self) -> None:
        if not self.url.startswith("postgresql"):
            return
        import zlib

        from sqlalchemy import text

        from lab.store.db import get_engine

        key = zlib.crc32(f"lab-engine:{self.book}".encode())
        conn = get_engine(self.url).connect()
        if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            conn.close()
            raise AlreadyRunning(
                f"another engine holds the {self.book} book's lock in the database (a second machine or data "
                "directory on the same database?); stop it first"
            )
        conn.commit()
        self._conn = conn

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()  # the session's advisory locks go with it
            self._conn = None

    def __enter__(self) -> DatabaseLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
