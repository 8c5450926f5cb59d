"""The read-only connection refuses every kind of write at the database (not by inspecting the SQL),
and reads still work."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from lab.sandbox.readonly import ReadOnlyDB

WRITES = [
    "INSERT INTO t (x) VALUES (3)",
    "UPDATE t SET x = 0",
    "DELETE FROM t",
    "REPLACE INTO t (x) VALUES (9)",
    "DROP TABLE t",
    "CREATE TABLE u (y)",
    "CREATE INDEX ix ON t (x)",
    "ALTER TABLE t ADD COLUMN z",
    "CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM t; END",
    "CREATE VIEW v AS SELECT * FROM t",
    "ATTACH DATABASE 'other.db' AS o",
    "ATTACH DATABASE ':memory:' AS m",
    "PRAGMA query_only = OFF",
    "PRAGMA journal_mode = WAL",
    "PRAGMA user_version = 7",
    "VACUUM",
    "VACUUM INTO 'copy.db'",
    "INSERT INTO t (x) VALUES (1) ON CONFLICT DO NOTHING",
    "SELECT 1; DELETE FROM t",  # multi-statement trick
    "/* harmless */ DELETE FROM t",  # a comment first
    "-- comment\nDELETE FROM t",
    "WITH a AS (SELECT 1) DELETE FROM t",
    "INSERT INTO t SELECT x FROM t",
    "SAVEPOINT s",
]


@pytest.fixture
def ro(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "snap.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
    conn.commit()
    conn.close()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    yield ReadOnlyDB(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert not (tmp_path / "other.db").exists() and not (tmp_path / "copy.db").exists()


@pytest.mark.parametrize("sql", WRITES)
def test_every_write_fails_at_the_database(ro, sql):
    with pytest.raises((sqlite3.DatabaseError, sqlite3.ProgrammingError, sqlite3.Warning)):
        ro.execute(sql)
        ro._conn.commit()
    assert ro.query("SELECT COUNT(*) AS n, SUM(x) AS s FROM t") == [{"n": 2, "s": 3}]


def test_reads_work(ro):
    assert ro.query("SELECT x FROM t WHERE x > ?", (1,)) == [{"x": 2}]
    assert list(ro.frame("SELECT x FROM t ORDER BY x")["x"]) == [1, 2]
    assert [r["name"] for r in ro.query("PRAGMA table_info(t)")] == ["x"]
    assert ro.query(
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3) SELECT SUM(n) AS s FROM c"
    ) == [{"s": 6}]
