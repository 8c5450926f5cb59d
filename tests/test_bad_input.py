"""Bad input, class by class, through the `lab` command as a person types it: each case ends with a
non-zero exit (or a plain statement of what was done), one line naming the problem, no traceback, no
hang (a timeout per case), and nothing stored changed (candle files, the series table, the ledger)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lab.cli.main import app
from lab.strategy import checks
from tests.trading.helpers import ROOT, make_project

LEDGER = ("candle_series", "orders", "fills", "positions", "engine_trades", "engine_state")


@dataclass
class Case:
    name: str
    argv: list[str]
    says: str  # a piece of the message that names the problem
    env: dict[str, str] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None
    ok: bool = False  # True: a plain statement, exit 0


def fingerprint(root: Path) -> tuple:
    data = root / "data"
    files = tuple(
        sorted(
            (str(p.relative_to(data)), hashlib.sha256(p.read_bytes()).hexdigest())
            for p in (data / "candles").rglob("*")
            if p.is_file()
        )
    )
    db = data / "lab.db"
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        rows = tuple(tuple(sorted(map(str, conn.execute(f"SELECT * FROM {t}").fetchall()))) for t in LEDGER)
        conn.close()
    except sqlite3.DatabaseError:
        rows = (hashlib.sha256(db.read_bytes()).hexdigest(),) if db.exists() else ()
    return files, rows


# --- candle files ----------------------------------------------------------------------------------
def csv(rows: list[tuple]) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        lines = ["timestamp,open,high,low,close,volume"] + [",".join(map(str, r)) for r in rows]
        (root / "in.csv").write_text("\n".join(lines) + "\n")

    return write


def good_rows(n: int = 30, start_ms: int = 1_740_787_200_000) -> list[list]:
    return [[start_ms + 300_000 * i, 100.0, 101.0, 99.0, 100.5, 5.0] for i in range(n)]


def rows_with(change: Callable[[list[list]], None]) -> list[tuple]:
    rows = good_rows()
    change(rows)
    return [tuple(r) for r in rows]


def _set(i: int, col: int, value: object) -> Callable[[list[list]], None]:
    def change(rows: list[list]) -> None:
        rows[i][col] = value

    return change


IMPORT = ["data", "import", "in.csv", "--exchange", "kraken", "--symbol", "BTC/USD", "--timeframe", "5m"]
CANDLES = [
    Case("inf_price", IMPORT, "infinite_value", setup=csv(rows_with(_set(5, 4, "inf")))),
    Case("overflow_1e400", IMPORT, "infinite_value", setup=csv(rows_with(_set(7, 2, "1e400")))),
    Case(
        "spike_1e300",
        IMPORT,
        "price_spike",
        setup=csv(rows_with(lambda r: r[9].__setitem__(slice(1, 5), [1e300] * 4))),
    ),
    Case("negative_volume", IMPORT, "negative_volume", setup=csv(rows_with(_set(3, 5, -1.0)))),
    Case("high_below_low", IMPORT, "high_below_low", setup=csv(rows_with(_set(4, 2, 90.0)))),
    Case("nan_close", IMPORT, "nan_value", setup=csv(rows_with(_set(6, 4, "")))),
    Case("text_price", IMPORT, "nan_value", setup=csv(rows_with(_set(6, 1, "abc")))),
    Case("zero_price", IMPORT, "non_positive_price", setup=csv(rows_with(_set(2, 3, 0.0)))),
    Case(
        "duplicate_ts",
        IMPORT,
        "duplicate_timestamp",
        setup=csv(rows_with(lambda r: r[5].__setitem__(0, r[4][0]))),
    ),
    Case(
        "misaligned_ts",
        IMPORT,
        "misaligned_timestamp",
        setup=csv(rows_with(_set(5, 0, 1_740_787_200_000 + 1_500_123))),
    ),
    Case("bad_timestamp", IMPORT, "missing_timestamp", setup=csv(rows_with(_set(5, 0, "yesterday")))),
    Case("epoch_out_of_range", IMPORT, "missing_timestamp", setup=csv(rows_with(_set(5, 0, 9e30)))),
    Case("open_above_high", IMPORT, "open_outside_range", setup=csv(rows_with(_set(8, 1, 150.0)))),
    Case("close_below_low", IMPORT, "close_outside_range", setup=csv(rows_with(_set(8, 4, 1.0)))),
    Case(
        "missing_column",
        IMPORT,
        "missing column",
        setup=lambda r: (r / "in.csv").write_text("timestamp,open,high\n1,2,3\n"),
    ),
    Case(
        "no_time_column",
        IMPORT,
        "no time column",
        setup=lambda r: (r / "in.csv").write_text("a,open,high,low,close,volume\n1,2,3,1,2,3\n"),
    ),
    Case("empty_file", IMPORT, "in.csv", setup=lambda r: (r / "in.csv").write_text("")),
    Case(
        "binary_garbage", IMPORT, "in.csv", setup=lambda r: (r / "in.csv").write_bytes(bytes(range(256)) * 4)
    ),
    Case(
        "truncated_parquet",
        ["data", "import", "in.parquet", "--exchange", "kraken", "--symbol", "BTC/USD", "--timeframe", "5m"],
        "in.parquet",
        setup=lambda r: (r / "in.parquet").write_bytes(b"PAR1" + b"\0" * 50),
    ),
    Case(
        "unsupported_format",
        ["data", "import", "in.xlsx", "--exchange", "kraken", "--symbol", "BTC/USD", "--timeframe", "5m"],
        "unsupported format",
        setup=lambda r: (r / "in.xlsx").write_text("x"),
    ),
    Case(
        "missing_file",
        ["data", "import", "nope.csv", "--exchange", "kraken", "--symbol", "BTC/USD", "--timeframe", "5m"],
        "no such file",
    ),
]


def _micro(root: Path) -> None:
    csv([tuple([r[0] * 1000, *r[1:]]) for r in good_rows()])(root)


GOOD_STATEMENTS = [
    Case(
        "microsecond_epochs_import",
        [*IMPORT[:4], "kraken", "--symbol", "ETH/USD", "--timeframe", "5m"],
        "ETH/USD",
        setup=_micro,
        ok=True,
    ),
]


# --- names that become paths ----------------------------------------------------------------------
def named(exchange: str, symbol: str, timeframe: str = "5m") -> list[str]:
    return ["data", "import", "in.csv", "--exchange", exchange, "--symbol", symbol, "--timeframe", timeframe]


PATHS = (
    [
        Case(
            f"exchange_{i}",
            named(ex, "BTC/USD"),
            "not an exchange id",
            setup=csv([tuple(r) for r in good_rows()]),
        )
        for i, ex in enumerate(["../../x", "Kraken", "a/b", "..", "kra ken", "x" * 80])
    ]
    + [
        Case(
            f"symbol_{i}",
            named("kraken", sym),
            "not a ccxt symbol",
            setup=csv([tuple(r) for r in good_rows()]),
        )
        for i, sym in enumerate(
            ["BTCUSD", "../x/y", "BTC/USD/EUR", "/USD", "BTC/", "BTC/U SD", "../../etc/passwd"]
        )
    ]
    + [
        Case(
            "timeframe_path",
            named("kraken", "BTC/USD", "../5m"),
            "timeframe",
            setup=csv([tuple(r) for r in good_rows()]),
        ),
    ]
)


# --- configuration and environment ----------------------------------------------------------------
def toml(text: str) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        (root / "lab.toml").write_text((root / "lab.toml").read_text() + "\n" + text)

    return write


STATUS = ["data", "list"]
CONFIG = [
    Case("inf_cash", STATUS, "initial_cash", env={"LAB_BACKTEST__INITIAL_CASH": "inf"}),
    Case("nan_cash", STATUS, "initial_cash", env={"LAB_BACKTEST__INITIAL_CASH": "nan"}),
    Case("negative_cash", STATUS, "initial_cash", env={"LAB_BACKTEST__INITIAL_CASH": "-5"}),
    Case("text_cash", STATUS, "initial_cash", env={"LAB_BACKTEST__INITIAL_CASH": "lots"}),
    Case("fraction_above_one", STATUS, "position_fraction", env={"LAB_BACKTEST__POSITION_FRACTION": "1.5"}),
    Case("error_rate_2", STATUS, "error_rate for broker", env={"LAB_FAULTS__ERROR_RATE": "{ broker = 2 }"}),
    Case("negative_latency", STATUS, "latency_ms for feed", env={"LAB_FAULTS__LATENCY_MS": "{ feed = -5 }"}),
    Case(
        "one_underscore",
        STATUS,
        "did you mean LAB_BACKTEST__INITIAL_CASH",
        env={"LAB_BACKTEST_INITIAL_CASH": "5000"},
    ),
    Case("unknown_variable", STATUS, "unknown environment variable LAB_FOO", env={"LAB_FOO": "1"}),
    Case("unknown_key", STATUS, "unknown key 'backtest.inital_cash'", env={"LAB_BACKTEST__INITAL_CASH": "5"}),
    Case("garbage_db_url", STATUS, "database URL", env={"LAB_DB_URL": "garbage:://nope"}),
    Case(
        "missing_driver",
        STATUS,
        "needs the pg8000 driver",
        env={"LAB_DB_URL": "postgresql+pg8000://u:p@127.0.0.1:1/x"},
    ),
    Case("bad_symbol_config", STATUS, "must look like BASE/QUOTE", env={"LAB_MARKET__SYMBOLS": '["BTCUSD"]'}),
    Case("bad_timeframe_config", STATUS, "timeframe", env={"LAB_MARKET__TIMEFRAMES": '["7x"]'}),
    Case("negative_retention", STATUS, "retention", env={"LAB_MARKET__RETENTION": '{ "5m" = -1 }'}),
    Case("min_above_max_fraction", STATUS, "min_fraction", env={"LAB_SIZING__MIN_FRACTION": "0.5"}),
    Case("sizing_method", STATUS, "sizing.method", env={"LAB_SIZING__METHOD": "martingale"}),
    Case("fee_too_high", STATUS, "taker", env={"LAB_FEES__TAKER": "0.5"}),
    Case("window_too_small", STATUS, "window_bars", env={"LAB_ENGINE__WINDOW_BARS": "3"}),
    Case(
        "invalid_toml",
        STATUS,
        "not valid TOML",
        setup=lambda r: (r / "lab.toml").write_text("[backtest\nx = 1"),
    ),
    Case("unknown_toml_key", STATUS, "unknown key 'backtest2'", setup=toml("[backtest2]\nx = 1\n")),
    Case("config_missing", STATUS, "does not exist", env={"LAB_CONFIG": "/nonexistent/lab.toml"}),
    Case("data_dir_is_file", STATUS, "a file stands there", setup=toml('[paths]\ndata_dir = "lab.toml"\n')),
]


# --- strategy code ---------------------------------------------------------------------------------
HEADER = "import pandas as pd\nfrom lab.core.contract import Signals, Strategy, StrategyParams\n\n"


def strategy(body: str, extra: str = "") -> Callable[[Path], None]:
    code = (
        HEADER
        + extra
        + (
            "class Bad(Strategy):\n    name = 'bad'\n    timeframe = '5m'\n\n    def warmup(self):\n        return 5\n\n"
            "    def signals(self, candles):\n" + "".join(f"        {line}\n" for line in body.splitlines())
        )
    )

    def write(root: Path) -> None:
        (root / "bad.py").write_text(code)

    return write


BT = ["backtest", "bad.py", "-s", "BTC/USD"]
OK_EXIT = "e = candles['close'] > candles['close'].rolling(3).mean()\nreturn Signals(entries=e, exits=~e)"
STRATEGY = [
    Case(
        "lookahead_shift",
        BT,
        "look-ahead",
        setup=strategy(
            "e = candles['close'].shift(-1) > candles['close']\nreturn Signals(entries=e.fillna(False), exits=~e.fillna(False))"
        ),
    ),
    Case(
        "lookahead_future_max",
        BT,
        "look-ahead",
        setup=strategy(
            "e = candles['close'] >= candles['close'].max() * 0.99\nreturn Signals(entries=e, exits=~e)"
        ),
    ),
    Case("sys_exit_in_signals", BT, "signals() raised SystemExit", setup=strategy("import sys\nsys.exit(0)")),
    Case(
        "keyboard_interrupt_in_signals",
        BT,
        "signals() raised KeyboardInterrupt",
        setup=strategy("raise KeyboardInterrupt"),
    ),
    Case("loop_in_signals", BT, "signals(): still running after", setup=strategy("while True:\n    pass")),
    Case(
        "loop_at_import",
        BT,
        "loading the file: still running after",
        setup=strategy(OK_EXIT, extra="while True:\n    pass\n\n"),
    ),
    Case(
        "sys_exit_at_import",
        BT,
        "failed while loading: SystemExit",
        setup=strategy(OK_EXIT, extra="import sys\nsys.exit(3)\n\n"),
    ),
    Case("raises", BT, "signals() raised ZeroDivisionError", setup=strategy("return 1 / 0")),
    Case("wrong_type", BT, "must return lab.core.contract.Signals", setup=strategy("return candles")),
    Case(
        "nan_entries",
        BT,
        "NaN value",
        setup=strategy(
            "e = candles['close'] > candles['close'].rolling(3).mean()\nreturn Signals(entries=e.where(e, None), exits=~e)"
        ),
    ),
    Case(
        "non_bool",
        BT,
        "must be boolean",
        setup=strategy("return Signals(entries=candles['close'], exits=candles['close'] < 0)"),
    ),
    Case(
        "wrong_length",
        BT,
        "entries",
        setup=strategy("e = candles['close'] > 0\nreturn Signals(entries=e.iloc[:-3], exits=~e)"),
    ),
    Case(
        "stop_above_one",
        BT,
        "stop_loss must be a fraction",
        setup=strategy(OK_EXIT.replace("exits=~e)", "exits=~e, stop_loss=1.5)")),
    ),
    Case("syntax_error", BT, "syntax error on line", setup=lambda r: (r / "bad.py").write_text("def (:\n")),
    Case(
        "no_strategy_class",
        BT,
        "expected exactly one Strategy subclass, found 0",
        setup=lambda r: (r / "bad.py").write_text("x = 1\n"),
    ),
    Case(
        "two_strategy_classes",
        BT,
        "found 2",
        setup=lambda r: (r / "bad.py").write_text(
            HEADER + "class A(Strategy):\n    name='a'\nclass B(Strategy):\n    name='b'\n"
        ),
    ),
    Case(
        "no_name",
        BT,
        "class attribute 'name'",
        setup=lambda r: (r / "bad.py").write_text(
            HEADER + "class A(Strategy):\n    def signals(self, c):\n        return None\n"
        ),
    ),
    Case(
        "no_signals_method",
        BT,
        "does not implement signals",
        setup=lambda r: (r / "bad.py").write_text(HEADER + "class A(Strategy):\n    name = 'a'\n"),
    ),
    Case(
        "import_error",
        BT,
        "failed while loading: ModuleNotFoundError",
        setup=strategy(OK_EXIT, extra="import not_a_module\n\n"),
    ),
    Case(
        "bad_params_json",
        ["backtest", "ema_rsi_volume", "--params", '{"fast": 50, "slow": 10}'],
        "invalid parameters",
    ),
    Case("unknown_param", ["backtest", "ema_rsi_volume", "--params", '{"nope": 1}'], "nope"),
    Case("unknown_strategy", ["backtest", "no_such_strategy"], "not found"),
]


# --- command-line arguments -----------------------------------------------------------------------
ARGS = [
    Case("start_unparseable", ["backtest", "ema_rsi_volume", "--start", "notadate"], "'--start'"),
    Case("end_unparseable", ["backtest", "ema_rsi_volume", "--end", "31/31/2025"], "'--end'"),
    Case("params_not_json", ["backtest", "ema_rsi_volume", "--params", "{bad"], "'--params'"),
    Case("params_not_object", ["backtest", "ema_rsi_volume", "--params", "[1, 2]"], "JSON object"),
    Case("limit_zero", ["backtest", "ema_rsi_volume", "--sweep", "--limit", "0"], "'--limit'"),
    Case("signals_bogus", ["run", "--replay", "--signals", "bogus"], "'--signals'"),
    Case("pace_negative", ["run", "--replay", "--pace", "-1"], "'--pace'"),
    Case("run_start_bad", ["run", "--replay", "--start", "soon"], "'--start'"),
    Case("errors_limit_zero", ["errors", "--limit", "0"], "'--limit'"),
    Case("history_limit_zero", ["notebook", "history", "--limit", "0"], "'--limit'"),
    Case("unknown_tier", ["data", "prune", "--tier", "7m"], "not a retention tier"),
    Case("kelly_fractions_text", ["kelly", "ema_rsi_volume", "--fractions", "a,b"], "--fractions"),
    Case("kelly_fractions_zero", ["kelly", "ema_rsi_volume", "--fractions", "0"], "--fractions"),
    Case("kelly_fractions_large", ["kelly", "ema_rsi_volume", "--fractions", "3"], "--fractions"),
    Case("kelly_sims_low", ["kelly", "ema_rsi_volume", "--n-sims", "5"], "'--n-sims'"),
    Case(
        "notebook_param_pair", ["notebook", "run", "backtest", "-p", "sweep"], "-p needs a NAME and a VALUE"
    ),
    Case("notebook_unknown", ["notebook", "run", "no_such_notebook"], "no notebook 'no_such_notebook'"),
    Case(
        "notebook_unknown_param",
        ["notebook", "run", "backtest", "-p", "nope", "1"],
        "unknown parameter",
        setup=lambda r: shutil.copytree(ROOT / "notebooks", r / "notebooks"),
    ),
    Case("report_compare_unknown", ["report", "compare", "nope", "nada"], "no such run"),
    Case("stats_validate_missing", ["stats", "modules", "validate", "missing.py"], "cannot be read"),
    Case("stats_rollback_unknown", ["stats", "modules", "rollback", "no_module"], "no archived version"),
    Case("live_and_replay", ["run", "--live", "--replay"], "exclude each other"),
    Case("backtest_unknown_symbol", ["backtest", "ema_rsi_volume", "-s", "DOGE/USD"], "DOGE/USD"),
    Case("backtest_bad_symbol", ["backtest", "ema_rsi_volume", "-s", "DOGEUSD"], "not a ccxt symbol"),
    Case("unknown_command", ["frobnicate"], "No such command"),
]


# --- commands to a stopped engine -----------------------------------------------------------------
STOPPED = [
    Case("pause_stopped", ["pause", "--reason", "x", "--wait", "0"], "no engine is running", ok=True),
    Case("resume_stopped", ["resume", "--wait", "0"], "no engine is running", ok=True),
    Case("stop_stopped", ["stop", "--wait", "0"], "nothing to stop", ok=True),
]


# --- the database ---------------------------------------------------------------------------------
def not_a_db(root: Path) -> None:
    (root / "data" / "lab.db").unlink()
    for p in (root / "data").glob("lab.db-*"):
        p.unlink()
    (root / "data" / "lab.db").write_bytes(b"this is not a database" * 200)


def unknown_revision(root: Path) -> None:
    with sqlite3.connect(root / "data" / "lab.db") as c:
        c.execute("UPDATE alembic_version SET version_num = 'ffff9999'")


def dropped_table(root: Path) -> None:
    with sqlite3.connect(root / "data" / "lab.db") as c:
        c.execute("DROP TABLE engine_trades")


def corrupt_state(root: Path) -> None:
    with sqlite3.connect(root / "data" / "lab.db") as c:
        c.execute(
            "INSERT OR REPLACE INTO engine_state (mode, state, updated_at) VALUES ('paper', '{\"cash\": \"lots\"', '2025-01-01')"
        )


def truncated_candles(root: Path) -> None:
    path = root / "data" / "candles" / "synthetic" / "BTC_USD" / "5m.parquet"
    path.write_bytes(path.read_bytes()[:200])


DATABASE = [
    Case("db_not_a_database", ["status"], "not a SQLite database", setup=not_a_db),
    Case(
        "db_not_a_database_backtest", ["backtest", "ema_rsi_volume"], "not a SQLite database", setup=not_a_db
    ),
    Case("db_unknown_revision", ["data", "list"], "migration", setup=unknown_revision),
    Case("db_dropped_table", ["stats", "--no-run"], "lab db upgrade", setup=dropped_table),
    Case(
        "db_truncated_parquet",
        ["backtest", "ema_rsi_volume", "-s", "BTC/USD"],
        "damaged",
        setup=truncated_candles,
    ),
    Case("db_corrupt_state_status", ["status"], "paper engine", setup=corrupt_state, ok=True),
]

CASES = CANDLES + GOOD_STATEMENTS + PATHS + CONFIG + STRATEGY + ARGS + STOPPED + DATABASE


@pytest.fixture
def project(lab_root, monkeypatch):
    make_project(lab_root, days=1)
    from lab.store.db import ensure_schema, get_engine

    ensure_schema(f"sqlite:///{lab_root / 'data' / 'lab.db'}")
    get_engine.cache_clear()
    monkeypatch.setenv("LAB_ROOT", str(lab_root))
    monkeypatch.setattr(checks, "SIGNALS_TIMEOUT_S", 2.0)
    monkeypatch.setattr(checks, "IMPORT_TIMEOUT_S", 2.0)
    return lab_root


def test_there_are_at_least_100_cases():
    assert len(CASES) >= 100 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(project, monkeypatch, case):
    from lab.store import db

    if case.setup:
        case.setup(project)
    db.get_engine.cache_clear()
    db._SCHEMA_CHECKED.clear()
    before = fingerprint(project)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, case.argv)
    out = result.output
    assert "Traceback" not in out, out
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if case.ok:
        assert result.exit_code == 0, out
    else:
        assert result.exit_code != 0, out
    assert case.says in out, out
    if case.name != "microsecond_epochs_import":
        assert fingerprint(project) == before, "stored data changed"


def test_microsecond_epochs_are_read_as_the_right_dates(project):
    _micro(project)
    result = CliRunner().invoke(app, [*IMPORT[:4], "kraken", "--symbol", "ETH/USD", "--timeframe", "5m"])
    assert result.exit_code == 0, result.output
    from lab.core.config import load_config
    from lab.market.repository import load

    frame = load("kraken", "ETH/USD", "5m", config=load_config(project / "lab.toml", env={}))
    assert frame.index[0] == pd.Timestamp(1_740_787_200_000, unit="ms", tz="UTC") and len(frame) == 30
    assert np.isclose(frame["close"].iloc[0], 100.5)


@pytest.mark.timeout(120)
def test_a_locked_database_is_named_and_leaves_nothing_behind(project):
    """Another writer holds the database: the import waits its busy timeout, then says so; nothing is
    stored and no temporary candle file is left behind."""
    csv([tuple(r) for r in good_rows()])(project)
    before = fingerprint(project)
    holder = sqlite3.connect(project / "data" / "lab.db", timeout=1)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = CliRunner().invoke(app, [*IMPORT[:4], "kraken", "--symbol", "XRP/USD", "--timeframe", "5m"])
    finally:
        holder.rollback()
        holder.close()
    assert result.exit_code != 0 and "locked by another writer" in result.output, result.output
    assert "Traceback" not in result.output
    assert fingerprint(project) == before
    leftovers = [
        p
        for p in (project / "data").rglob("*")
        if p.is_file() and ("tmp" in p.name or p.name.startswith("."))
    ]
    assert leftovers == []
