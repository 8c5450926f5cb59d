from sqlalchemy import inspect

from lab.store import db


def test_upgrade_empty_db_to_head_and_back_down(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    assert db.current_revision(url) is None
    db.upgrade(url)
    assert db.current_revision(url) == db.head_revision()
    tables = set(inspect(db.get_engine(url)).get_table_names())
    assert {"candle_series", "data_quality_log", "experiments", "backtest_trades", "notebook_runs"} <= tables
    db.downgrade(url, "base")
    assert db.current_revision(url) is None
    assert set(inspect(db.get_engine(url)).get_table_names()) == {"alembic_version"}


def test_models_match_migrations(tmp_path):
    """Autogenerate finds nothing to do after upgrading: the models and migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from lab.store.models import Base

    url = f"sqlite:///{tmp_path / 'm.db'}"
    db.upgrade(url)
    with db.get_engine(url).connect() as conn:
        # The spool's FTS5 index (a virtual table and its shadow tables) is not a model: raw SQL in 0012.
        context = MigrationContext.configure(
            conn,
            opts={
                "include_name": lambda name, kind, _p: (
                    not (kind == "table" and name.startswith("thoughts_fts"))
                )
            },
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_sqlite_runs_in_wal_mode(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with db.get_engine(url).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
