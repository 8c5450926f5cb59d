"""A throwaway PostgreSQL server for the tests: Debian's binaries (installed by `make test` and
.ci/run), `initdb` + `pg_ctl` in a temporary directory, listening on a free loopback port, stopped at
the end of the session. Each test gets a database of its own.

Where no server can be started the PostgreSQL tests are skipped with the reason; in CI (CI=true) they
fail instead, so CI always runs them.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unavailable(reason: str) -> None:
    message = f"PostgreSQL tests cannot run: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must run them: .ci/run installs Debian's postgresql)")
    pytest.skip(message + " (make test installs Debian's postgresql when run as root)")


class Unavailable(Exception):
    pass


@contextmanager
def running_server(durable: bool = False) -> Iterator[str]:
    """A throwaway server for the block; raises Unavailable saying why one cannot be started. Tests run
    it without fsync (nothing to keep); `durable` keeps PostgreSQL's defaults, for benchmarks."""
    bin_dir = _binaries()
    if bin_dir is None:
        raise Unavailable("no initdb under /usr/lib/postgresql/*/bin")
    if importlib_missing("psycopg"):
        raise Unavailable("the psycopg driver is not installed (pip install -e '.[postgres]')")
    base = Path(tempfile.mkdtemp(prefix="lab-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root: run it as Debian's postgres user
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable("running as root and there is no 'postgres' user") from None
        os.chown(base, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = base / "data", _free_port()
    run = lambda *cmd: subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120)  # noqa: E731
    init = run(
        str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "lab", "-E", "UTF8", "--no-locale"
    )
    if init.returncode != 0:
        raise Unavailable(f"initdb failed: {init.stderr.strip()[-300:]}")
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c max_connections=60"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off"
    start = run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(base / "server.log"),
        "-w",
        "-t",
        "60",
        "start",
    )
    if start.returncode != 0:
        raise Unavailable(
            f"pg_ctl start failed: {start.stderr.strip()[-300:]} {(base / 'server.log').read_text()[-300:] if (base / 'server.log').exists() else ''}"
        )
    try:
        yield f"postgresql+psycopg://lab@127.0.0.1:{port}"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    try:
        with running_server() as url:
            yield url
    except Unavailable as exc:
        _unavailable(str(exc))


def importlib_missing(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is None


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh database on the session's server."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:10]}"
    dsn = pg_server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"{pg_server}/{name}"
    from lab.store import db

    db.get_engine.cache_clear()
    with psycopg.connect(dsn + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
