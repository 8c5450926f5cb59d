"""Database engines and sessions; migrations applied with Alembic.

SQLite is the embedded default (WAL mode so readers never block the writer); any SQLAlchemy URL works.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from lab.core.config import LabConfig
from lab.core.errors import LabError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _create(url: str, **kwargs: Any) -> Engine:
    """create_engine with the problems a person can fix named: a missing driver, a malformed URL."""
    try:
        return create_engine(url, **kwargs)
    except ModuleNotFoundError as exc:
        extra = " (pip install -e '.[postgres]')" if url.startswith("postgresql") else ""
        raise LabError(
            f"database URL {_redacted(url)} needs the {exc.name} driver, which is not installed{extra}"
        ) from None
    except (ArgumentError, NoSuchModuleError) as exc:
        raise LabError(
            f"database URL {_redacted(url)} is not usable: {exc}; expected e.g. sqlite:///data/lab.db or "
            "postgresql+psycopg://user:password@host:5432/dbname"
        ) from None


def _redacted(url: str) -> str:
    """The URL without its password (never in a message or a log)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url)


@cache
def get_engine(url: str) -> Engine:
    """One engine per URL per process, with WAL and foreign keys on SQLite."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = _create(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def readonly_engine(url: str) -> Engine:
    """An engine that cannot write: SQLite opened with mode=ro (enforced by SQLite itself), other
    databases in read-only transactions."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        path = Path(url.removeprefix("sqlite:///")).resolve()
        return _create(f"sqlite:///file:{path}?mode=ro&uri=true")
    return _create(url, execution_options={"postgresql_readonly": True})


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def current_revision(url: str) -> str | None:
    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)
    _SCHEMA_CHECKED.discard(url)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
    _SCHEMA_CHECKED.discard(url)


_SCHEMA_CHECKED: set[str] = set()


def ensure_schema(url: str) -> None:
    """Upgrade to head when the database is behind; checked once per process and URL (hot paths open
    many sessions)."""
    if url in _SCHEMA_CHECKED:
        return
    if current_revision(url) != head_revision():
        upgrade(url)
    _SCHEMA_CHECKED.add(url)


@contextmanager
def connection_scope(config: LabConfig) -> Iterator[Connection]:
    """A Core connection in a transaction: for per-bar writes where the ORM's overhead would dominate."""
    ensure_schema(config.db_url)
    with get_engine(config.db_url).begin() as conn:
        yield conn


_SESSIONS: dict[str, sessionmaker] = {}


@contextmanager
def session_scope(config: LabConfig) -> Iterator[Session]:
    """A session on the configured DB (migrated to head), committed on success, rolled back on error."""
    url = config.db_url
    ensure_schema(url)
    factory = _SESSIONS.get(url) or _SESSIONS.setdefault(
        url, sessionmaker(get_engine(url), expire_on_commit=False)
    )
    with factory() as session, session.begin():
        yield session
