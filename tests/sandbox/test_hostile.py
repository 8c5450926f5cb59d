"""Hostile analysis modules: each is refused by the screen with a reason, and — run past the screen
on purpose — contained by the process boundary, leaving the database and the file system outside the
sandbox's own directory unchanged and no key readable."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from lab.sandbox.runner import Limits, isolation_mode, run_untrusted
from lab.sandbox.screen import screen

SECRET = "sk-" + "ant-test-0123456789-never-visible"  # built at run time: not a key in the source
FAST = Limits(cpu_seconds=3, wall_seconds=6, max_output=64 * 1024)


def returns_env(result) -> bool:
    """Contained when it failed, or when whatever environment it read holds no key."""
    return (not result.ok) or SECRET not in str(result.value)


def failed(*kinds: str):
    def check(result) -> bool:
        return (not result.ok) and (not kinds or result.kind in kinds) and bool(result.error)

    return check


def no_escape_file(result) -> bool:
    return not any(
        Path(p).exists() for p in ("/tmp/lab_escape", "/var/tmp/lab_escape", "/dev/shm/lab_escape")
    )


# (name, source, refused by the screen, check of the run past the screen)
CASES = [
    (
        "socket_connect",
        "import socket\ndef analyze(db, schema):\n    s = socket.create_connection(('1.1.1.1', 80), timeout=2)\n    return {}",
        True,
        failed("error"),
    ),
    (
        "raw_socket",
        "import _socket\ndef analyze(db, schema):\n    s = _socket.socket()\n    s.settimeout(2)\n    s.connect(('127.0.0.1', 22))\n    return {}",
        True,
        failed("error"),
    ),
    (
        "urllib",
        "import urllib.request\ndef analyze(db, schema):\n    return {'x': urllib.request.urlopen('http://example.com', timeout=2).read(10).decode()}",
        True,
        failed("error"),
    ),
    (
        "write_tmp",
        "def analyze(db, schema):\n    open('/tmp/lab_escape', 'w').write('x')\n    return {}",
        True,
        failed("error"),
    ),
    (
        "write_var_tmp",
        "def analyze(db, schema):\n    open('/var/tmp/lab_escape', 'w').write('x')\n    return {}",
        True,
        failed("error"),
    ),
    (
        "write_dev_shm",
        "def analyze(db, schema):\n    open('/dev/shm/lab_escape', 'w').write('x')\n    return {}",
        True,
        failed("error"),
    ),
    (
        "write_project",
        "def analyze(db, schema):\n    open(SENTINEL_DIR + '/evil.txt', 'w').write('x')\n    return {}",
        True,
        failed("error"),
    ),
    (
        "pandas_write_outside",
        "import pandas as pd\ndef analyze(db, schema):\n    pd.DataFrame({'a': [1]}).to_csv('/tmp/lab_escape')\n    return {}",
        False,
        failed("error"),
    ),
    (
        "numpy_write_outside",
        "import numpy as np\ndef analyze(db, schema):\n    np.save(SENTINEL_DIR + '/evil.npy', np.zeros(3))\n    return {}",
        False,
        failed("error"),
    ),
    (
        "subprocess",
        "import subprocess\ndef analyze(db, schema):\n    return {'x': subprocess.run(['id'], capture_output=True).stdout.decode()}",
        True,
        failed("error"),
    ),
    (
        "os_system",
        "import os\ndef analyze(db, schema):\n    return {'rc': os.system('touch /tmp/lab_escape')}",
        True,
        lambda r: no_escape_file(r) and (not r.ok or r.value["rc"] != 0),
    ),
    (
        "fork_bomb",
        "import os\ndef analyze(db, schema):\n    while True:\n        os.fork()",
        True,
        failed("error"),
    ),
    (
        "setsid_and_outlive",
        "import os, time\ndef analyze(db, schema):\n    if os.fork() == 0:\n        os.setsid()\n        time.sleep(30)\n    return {}",
        True,
        failed("error"),
    ),
    (
        "ctypes_system",
        "import ctypes\ndef analyze(db, schema):\n    return {'rc': ctypes.CDLL(None).system(b'touch /tmp/lab_escape')}",
        True,
        lambda r: no_escape_file(r),
    ),
    (
        "import_os_environ",
        "import os\ndef analyze(db, schema):\n    return {'env': dict(os.environ)}",
        True,
        returns_env,
    ),
    (
        "import_sys_modules",
        "import sys\ndef analyze(db, schema):\n    return {'env': dict(sys.modules['os'].environ)}",
        True,
        returns_env,
    ),
    (
        "proc_self_environ",
        "def analyze(db, schema):\n    return {'env': open('/proc/self/environ').read()}",
        True,
        returns_env,
    ),
    (
        "proc_parent_environ",
        "import os\ndef analyze(db, schema):\n    out = {}\n    for pid in os.listdir('/proc'):\n        if pid.isdigit():\n            try:\n                out[pid] = open('/proc/' + pid + '/environ').read()\n            except OSError as e:\n                out[pid] = str(e)\n    return out",
        True,
        returns_env,
    ),
    (
        "subclasses_walk",
        "def analyze(db, schema):\n    for c in ().__class__.__bases__[0].__subclasses__():\n        if c.__name__ == '_wrap_close':\n            c.__init__.__globals__['system']('touch /tmp/lab_escape')\n    return {}",
        True,
        lambda r: no_escape_file(r),
    ),
    (
        "generator_frame_escape",
        "def analyze(db, schema):\n    g = (x for x in [1])\n    b = g.gi_frame.f_back.f_back.f_builtins\n    os = b['__import__']('os')\n    return {'env': dict(os.environ), 'uid': os.getuid()}",
        True,
        lambda r: (
            returns_env(r) and (not r.ok or r.value["uid"] != 0 or isolation_mode() == "user namespaces")
        ),
    ),
    (
        "importlib_trick",
        "import importlib\ndef analyze(db, schema):\n    os = importlib.import_module('os')\n    return {'env': dict(os.environ)}",
        True,
        returns_env,
    ),
    (
        "dunder_import",
        "def analyze(db, schema):\n    os = __import__('os')\n    os.system('touch /tmp/lab_escape')\n    return {}",
        True,
        lambda r: no_escape_file(r),
    ),
    (
        "getattr_builtins",
        "def analyze(db, schema):\n    o = getattr(__builtins__, 'open')\n    o('/tmp/lab_escape', 'w').write('x')\n    return {}",
        True,
        failed(),
    ),
    (
        "eval_exec",
        "def analyze(db, schema):\n    exec(\"open('/tmp/lab_escape', 'w').write('x')\")\n    return {}",
        True,
        failed("error"),
    ),
    (
        "format_string_walk",
        "def analyze(db, schema):\n    return {'x': '{0.__class__.__mro__}'.format(db)}",
        True,
        lambda r: True,
    ),
    (
        "resource_raise_limits",
        "import resource\ndef analyze(db, schema):\n    resource.setrlimit(resource.RLIMIT_NPROC, (1000, 1000))\n    return {}",
        True,
        failed("error"),
    ),
    (
        "memory_bomb",
        "def analyze(db, schema):\n    x = bytearray(64 * 1024 ** 3)\n    return {'n': len(x)}",
        False,
        failed("memory", "error", "killed"),
    ),
    (
        "infinite_loop",
        "def analyze(db, schema):\n    while True:\n        pass",
        False,
        failed("cpu", "timeout", "killed"),
    ),
    (
        "sleep_forever",
        "import time\ndef analyze(db, schema):\n    time.sleep(3600)\n    return {}",
        True,
        failed("timeout"),
    ),
    (
        "huge_output",
        "def analyze(db, schema):\n    return {'x': 'a' * 10 ** 7}",
        False,
        failed("output_too_large"),
    ),
    (
        "huge_print",
        "def analyze(db, schema):\n    print('a' * 10 ** 8)\n    return {'ok': 1}",
        False,
        lambda r: r.ok and len(r.printed) < 70_000,
    ),
    ("not_json", "def analyze(db, schema):\n    return {'x': float('nan')}", False, failed("contract")),
    ("system_exit", "def analyze(db, schema):\n    raise SystemExit(0)", False, failed("error")),
    (
        "db_write_insert",
        "def analyze(db, schema):\n    db.execute(\"INSERT INTO engine_trades (mode) VALUES ('paper')\")\n    return {}",
        False,
        failed("error"),
    ),
    (
        "db_write_private_conn",
        "def analyze(db, schema):\n    db._conn.execute('DELETE FROM engine_trades')\n    db._conn.commit()\n    return {}",
        False,
        failed("error"),
    ),
    (
        "db_attach",
        "def analyze(db, schema):\n    db.execute(\"ATTACH DATABASE 'copy.db' AS c\")\n    return {}",
        False,
        failed("error"),
    ),
    (
        "db_pragma_off",
        "def analyze(db, schema):\n    db.execute('PRAGMA query_only = OFF')\n    db.execute('DELETE FROM engine_trades')\n    return {}",
        False,
        failed("error"),
    ),
]


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A database with rows and a folder outside the sandbox, hashed before and after."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.setenv("LAB_EXCHANGE_API_SECRET", SECRET)
    db = tmp_path / "lab.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE engine_trades (id INTEGER PRIMARY KEY, mode TEXT, pnl REAL)")
    conn.executemany("INSERT INTO engine_trades (mode, pnl) VALUES (?, ?)", [("paper", 1.5), ("paper", -2.0)])
    conn.commit()
    conn.close()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("unchanged")
    outside.chmod(0o777)  # even a world-writable folder outside the sandbox must stay unchanged

    def fingerprint() -> tuple:
        return (
            hashlib.sha256(db.read_bytes()).hexdigest(),
            sorted(p.name for p in outside.iterdir()),
            sorted(p.name for p in Path("/tmp").glob("lab_escape*")),
        )

    before = fingerprint()
    yield db, outside
    assert fingerprint() == before, "the sandboxed code changed something outside its directory"
    for p in Path("/tmp").glob("lab_escape*"):
        p.unlink()


def test_the_list_is_long_enough():
    assert len(CASES) >= 25 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("name,source,refused,check", CASES, ids=[c[0] for c in CASES])
def test_hostile_module_is_refused_or_contained(world, name, source, refused, check):
    db, outside = world
    source = source.replace("SENTINEL_DIR", repr(str(outside)))
    findings = screen(source)
    if refused:
        assert findings, f"{name}: the screen should refuse it"
        screened = run_untrusted(source, entry="analyze", db_path=db, limits=FAST)
        assert not screened.ok and screened.kind == "screen" and "line" in screened.error
    result = run_untrusted(source, entry="analyze", db_path=db, limits=FAST, screen_first=False)
    assert check(result), f"{name}: not contained: {result}"
    assert result.ok or result.reason  # a failure always says why
    assert SECRET not in (result.error + result.printed + str(result.value))


def test_a_well_behaved_module_runs_and_reads_the_snapshot(world):
    db, _ = world
    src = "import pandas as pd\ndef analyze(db, schema):\n    f = db.frame('SELECT SUM(pnl) AS s FROM engine_trades')\n    print('read', len(f))\n    return {'sum': float(f['s'][0]), 'mode': schema['mode']}"
    result = run_untrusted(src, entry="analyze", db_path=db, schema={"mode": "x"})
    assert result.ok, result.reason
    assert result.value == {"sum": -0.5, "mode": "x"} and result.printed == "read 1\n"
    assert result.isolation == isolation_mode()


def test_isolation_is_the_strong_kind_here():
    """CI runs as root on Linux with util-linux: the namespaces and the uid drop must be available."""
    if os.geteuid() == 0:
        assert isolation_mode() == "namespaces, uid nobody"
    else:
        assert isolation_mode() in ("user namespaces", "process only")
