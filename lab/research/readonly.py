"""Read-only views of the lab's database for research code.

In the lab's own process (truth benchmarks, notebooks, the dashboard): `lab.store.db.readonly_engine`
(SQLite `mode=ro`; a read-only transaction on PostgreSQL). For untrusted code in the sandbox: a
consistent SQLite *snapshot* of the database, taken here with SQLite's backup API (or copied table by
table from another database), that the sandbox opens read-only. The snapshot means an analysis module
never holds a connection to the live database at all, and reads one consistent moment.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, select

from lab.core.config import LabConfig
from lab.store.db import ensure_schema, readonly_engine
from lab.store.models import Base


def snapshot(config: LabConfig, directory: Path | None = None) -> Path:
    """A consistent copy of the database as one SQLite file (journal mode DELETE); returns its path."""
    url = config.db_url
    ensure_schema(url)
    directory = Path(directory or tempfile.mkdtemp(prefix="lab-snapshot-"))
    target = directory / "snapshot.db"
    target.unlink(missing_ok=True)
    if url.startswith("sqlite:///") and ":memory:" not in url:
        source = sqlite3.connect(f"file:{Path(url.removeprefix('sqlite:///')).resolve()}?mode=ro", uri=True)
        dest = sqlite3.connect(target)
        with dest:
            source.backup(dest)
        dest.execute("PRAGMA journal_mode=DELETE")
        dest.close()
        source.close()
        return target
    src = readonly_engine(url)
    dst = create_engine(f"sqlite:///{target}")
    Base.metadata.create_all(dst)
    with src.connect() as read, dst.begin() as write:
        for table in Base.metadata.sorted_tables:
            rows = [dict(r._mapping) for r in read.execute(select(table))]
            if rows:
                write.execute(table.insert(), rows)
    dst.dispose()
    return target


def seeded_copy(directory: Path) -> Path:
    """An empty database with the lab's schema (for validating a module on known rows)."""
    target = directory / "seeded.db"
    engine = create_engine(f"sqlite:///{target}")  # journal mode DELETE: a plain file the sandbox can copy
    Base.metadata.create_all(engine)
    engine.dispose()
    return target
