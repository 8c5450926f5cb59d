"""Single-instance lock: a PID file checked with os.kill(pid, 0); a stale lock (dead PID) is taken over."""

from __future__ import annotations

import os
from pathlib import Path

from lab.core.errors import LabError


class AlreadyRunning(LabError):
    pass


class InstanceLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.recovered_stale = False

    def _alive(self, pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    pid = int(self.path.read_text().strip() or "0")
                except (OSError, ValueError):
                    pid = 0
                if pid and pid != os.getpid() and self._alive(pid):
                    raise AlreadyRunning(
                        f"the engine is already running (pid {pid}, lock {self.path})"
                    ) from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                self.recovered_stale = True
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(str(os.getpid()))
            return

    def release(self) -> None:
        try:
            if self.path.read_text().strip() == str(os.getpid()):
                self.path.unlink()
        except OSError:
            pass

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


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
