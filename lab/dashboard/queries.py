"""Read-only queries behind the status view. Every query is bounded (LIMIT, or downsampled in SQL),
so a year of 5m equity points and 100,000 trades never load at once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import Engine, text

from lab.core.clock import to_utc
from lab.core.config import LabConfig

PERIODS = {
    "1 day": timedelta(days=1),
    "7 days": timedelta(days=7),
    "30 days": timedelta(days=30),
    "1 year": timedelta(days=365),
    "all": None,
}


@dataclass(frozen=True)
class EngineView:
    mode: str
    running: bool
    paused: bool
    pause_reason: str | None
    last_bar: pd.Timestamp | None
    started_at: pd.Timestamp | None
    cash: float
    peak_equity: float
    day_start_equity: float
    consecutive_losses: int

    @property
    def status(self) -> str:
        from lab.core.locks import engine_status

        return engine_status(self.running, self.paused)


def _dates(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for c in columns:
        frame[c] = pd.to_datetime(frame[c], utc=True)
    return frame


def engine_running(config: LabConfig, mode: str) -> bool:
    """The one place that says whether an engine runs: its instance lock is held (the CLI asks here too)."""
    from lab.core.locks import is_held

    return is_held(config.data_dir / f"engine-{mode}.lock")


def engine_view(db: Engine, config: LabConfig, mode: str = "paper") -> EngineView | None:
    with db.connect() as c:
        rows = dict(
            c.execute(
                text("SELECT mode, CAST(state AS TEXT) FROM engine_state WHERE mode IN (:m, :b)"),
                {"m": mode, "b": f"{mode}:backup"},
            ).all()
        )
    if not rows:
        return None
    s: dict = {}
    for key in (mode, f"{mode}:backup"):  # a corrupt row: its backup copy, as the engine reads it
        try:
            s = json.loads(rows[key]) if key in rows else {}
        except (TypeError, ValueError):
            continue
        if isinstance(s, dict) and s:
            break
    return EngineView(
        mode,
        engine_running(config, mode),
        bool(s.get("paused")),
        s.get("pause_reason"),
        to_utc(s.get("last_bar")),
        to_utc(s.get("started_at")),
        float(s.get("cash", 0)),
        float(s.get("peak_equity", 0)),
        float(s.get("day_start_equity", 0)),
        int(s.get("consecutive_losses", 0)),
    )


def latest_health(db: Engine) -> pd.DataFrame:
    q = text(
        "SELECT component, status, detail, created_at FROM health WHERE id IN "
        "(SELECT MAX(id) FROM health GROUP BY component) ORDER BY component"
    )
    with db.connect() as c:
        return pd.read_sql(q, c)


def breakers(db: Engine) -> pd.DataFrame:
    with db.connect() as c:
        return pd.read_sql(
            text("SELECT name, state, failures, opened_at FROM circuit_breakers ORDER BY name"), c
        )


def equity(db: Engine, mode: str, period: str, max_points: int = 800) -> pd.DataFrame:
    """Bar equity in the period, thinned in SQL to at most ~max_points rows."""
    since = PERIODS.get(period)
    with db.connect() as c:
        last = c.execute(
            text("SELECT MAX(bar_time) FROM equity_snapshots WHERE mode = :m AND kind = 'bar'"), {"m": mode}
        ).scalar()
        if last is None:
            return pd.DataFrame(columns=["bar_time", "equity"])
        start = to_utc(last) - since if since else pd.Timestamp("1970-01-01", tz="UTC")
        # In the stored text format: SQLite compares these timestamps as strings.
        args = {"m": mode, "s": start.tz_localize(None).strftime("%Y-%m-%d %H:%M:%S.%f")}
        n = c.execute(
            text("SELECT COUNT(*) FROM equity_snapshots WHERE mode = :m AND kind = 'bar' AND bar_time > :s"),
            args,
        ).scalar()
        step = max(1, -(-n // max_points))  # ceil: never more than max_points rows
        frame = pd.read_sql(
            text(
                "SELECT bar_time, equity FROM equity_snapshots WHERE mode = :m AND kind = 'bar' "
                "AND bar_time > :s AND (id % :k) = 0 ORDER BY bar_time"
            ),
            c,
            params=args | {"k": step},
        )
    frame["bar_time"] = pd.to_datetime(frame["bar_time"], utc=True)
    return frame


def last_closes(db: Engine, symbols: list[str]) -> dict[str, float]:
    out = {}
    with db.connect() as c:
        for s in symbols:
            row = c.execute(
                text("SELECT indicators FROM scan_results WHERE symbol = :s ORDER BY id DESC LIMIT 1"),
                {"s": s},
            ).scalar()
            data = row if isinstance(row, dict) else json.loads(row) if row else {}
            if data.get("close") is not None:
                out[s] = float(data["close"])
    return out


def positions(db: Engine, mode: str) -> pd.DataFrame:
    with db.connect() as c:
        frame = pd.read_sql(
            text(
                "SELECT symbol, size, entry_price, entry_fees, entry_time, stop_loss, take_profit "
                "FROM positions WHERE mode = :m ORDER BY symbol"
            ),
            c,
            params={"m": mode},
        )
    frame = _dates(frame, "entry_time")
    closes = last_closes(db, list(frame["symbol"]))
    frame["last_price"] = frame["symbol"].map(closes)
    frame["unrealized_pnl"] = (
        frame["size"] * (frame["last_price"] - frame["entry_price"]) - frame["entry_fees"]
    )
    return frame


def recent_trades(db: Engine, mode: str, symbol: str | None, limit: int = 25) -> pd.DataFrame:
    where = "mode = :m" + (" AND symbol = :s" if symbol else "")
    with db.connect() as c:
        frame = pd.read_sql(
            text(
                f"SELECT symbol, entry_time, exit_time, entry_price, exit_price, pnl, exit_reason, "
                f"status FROM engine_trades WHERE {where} ORDER BY id DESC LIMIT :n"
            ),
            c,
            params={"m": mode, "s": symbol, "n": limit},
        )
    return _dates(frame, "entry_time", "exit_time")


def recent_signals(db: Engine, symbol: str | None, limit: int = 25) -> pd.DataFrame:
    where = "signal != 'none'" + (" AND symbol = :s" if symbol else "")
    with db.connect() as c:
        frame = pd.read_sql(
            text(
                f"SELECT bar_time, symbol, signal, rejected FROM scan_results WHERE {where} "
                f"ORDER BY id DESC LIMIT :n"
            ),
            c,
            params={"s": symbol, "n": limit},
        )
    return _dates(frame, "bar_time")


SEVERITY = {
    "max_drawdown": "critical",
    "daily_loss_limit": "warning",
    "consecutive_losses": "warning",
    "paused": "info",
    "max_open_positions": "info",
    "position_size_clamped": "info",
}


def alerts(db: Engine, limit: int = 20) -> pd.DataFrame:
    """Risk events, engine errors and budget alerts (the nightly orchestrator's), newest first, with a
    severity."""
    with db.connect() as c:
        risk = pd.read_sql(
            text(
                "SELECT bar_time AS time, rule AS source, COALESCE(symbol, '') AS symbol, detail "
                "FROM risk_events WHERE rule NOT IN ('paused', 'max_open_positions') "
                "ORDER BY id DESC LIMIT :n"
            ),
            c,
            params={"n": limit},
        )
        errors = pd.read_sql(
            text(
                "SELECT created_at AS time, component AS source, '' AS symbol, message AS detail "
                "FROM engine_errors ORDER BY id DESC LIMIT :n"
            ),
            c,
            params={"n": limit},
        )
        raw = pd.read_sql(
            text(
                'SELECT created_at, service, period, measure, spent, "limit", level FROM budget_alerts '
                "ORDER BY id DESC LIMIT :n"
            ),
            c,
            params={"n": limit},
        )
    risk["severity"] = risk["source"].map(SEVERITY).fillna("warning")
    errors["severity"] = "error"
    budget = pd.DataFrame(
        {
            "time": raw["created_at"],
            "source": "budget " + raw["service"],
            "symbol": "",
            "detail": [
                f"{r.period} {r.measure}: {r.spent:,.4g} of {r.limit:,.4g} ({r.level:.0%})"
                for r in raw.itertuples()
            ],
            "severity": ["error" if v >= 1 else "warning" for v in raw["level"]],
        }
    )
    parts = [f for f in (risk, errors, budget) if not f.empty]
    if not parts:
        return risk
    frame = pd.concat(parts)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame.sort_values("time", ascending=False).head(limit)


def freshness(db: Engine, now: datetime | None = None) -> pd.DataFrame:
    now = now or datetime.now(UTC)
    with db.connect() as c:
        frame = pd.read_sql(
            text(
                "SELECT exchange, symbol, timeframe, last_ts, rows, synthetic FROM candle_series "
                "ORDER BY exchange, symbol, timeframe"
            ),
            c,
        )
    frame["last_ts"] = pd.to_datetime(frame["last_ts"], utc=True)
    # Rounded: a refresh that changes nothing visible sends nothing to the page.
    frame["age_hours"] = ((pd.Timestamp(now) - frame["last_ts"]).dt.total_seconds() / 3600).round(1)
    return frame


def notebook_jobs(db: Engine, config: LabConfig) -> pd.DataFrame:
    """Jobs of the running scheduler (`lab schedule` records its plan) with their next run, and each
    notebook's last run and status."""
    with db.connect() as c:
        jobs = pd.read_sql(
            text("SELECT name AS job, notebook, cron, next_run FROM scheduled_jobs ORDER BY name"), c
        )
        last = pd.read_sql(
            text(
                "SELECT notebook, status, started_at, duration_s FROM notebook_runs WHERE id IN "
                "(SELECT MAX(id) FROM notebook_runs GROUP BY notebook)"
            ),
            c,
        )
    jobs, last = _dates(jobs, "next_run"), _dates(last, "started_at")
    merged = jobs.merge(last, on="notebook", how="outer")
    return merged.rename(columns={"status": "last_status", "started_at": "last_run"})
