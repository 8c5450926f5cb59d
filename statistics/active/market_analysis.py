"""Market analysis from what the engine scanned: per symbol the latest price, 24h and 7d change, EMA
alignment, RSI, volume ratio and their recent distributions, how close each is to an entry signal,
and data quality and freshness of the stored candles. Runs in the sandbox on a read-only snapshot."""

import json

import pandas as pd

from lab.core.analysis import json_safe

NAME = "market_analysis"
VERSION = "1.1.0"
PARENT_VERSION = "1.0.0"


def change(series, times, hours):
    """Relative change of the last value against the value `hours` earlier (None without history)."""
    end = times.iloc[-1]
    before = series[times <= end - pd.Timedelta(hours=hours)]
    return float(series.iloc[-1] / before.iloc[-1] - 1) if len(before) else None


def analyze(db, schema):
    scans = db.frame(
        "SELECT bar_time, symbol, signal, indicators FROM scan_results"
        " WHERE bar_time >= (SELECT datetime(MAX(bar_time), '-8 days') FROM scan_results) ORDER BY bar_time"
    )
    out = {"symbols": {}}
    if len(scans):
        scans["bar_time"] = pd.to_datetime(scans["bar_time"], utc=True, format="mixed")
        ind = pd.json_normalize(
            scans["indicators"].map(lambda t: json.loads(t) if isinstance(t, str) else (t or {}))
        )
        scans = pd.concat([scans.drop(columns=["indicators"]).reset_index(drop=True), ind], axis=1)
        out["as_of"] = scans["bar_time"].max().isoformat()
        for symbol, g in scans.groupby("symbol", sort=True):
            g = g.reset_index(drop=True)
            last = g.iloc[-1]
            week = g[g["bar_time"] > g["bar_time"].iloc[-1] - pd.Timedelta(days=7)]
            entry = g.index[g["signal"] == "entry"]
            info = {
                "close": last.get("close"),
                "change_24h": change(g["close"], g["bar_time"], 24) if "close" in g else None,
                "change_7d": change(g["close"], g["bar_time"], 24 * 7) if "close" in g else None,
                "bars_since_entry_signal": int(len(g) - 1 - entry[-1]) if len(entry) else None,
                "entry_signals_7d": int((week["signal"] == "entry").sum()),
            }
            if {"ema_fast", "ema_slow"} <= set(g.columns) and pd.notna(last["ema_fast"]):
                info["ema_alignment"] = (
                    "fast above slow" if last["ema_fast"] > last["ema_slow"] else "fast below slow"
                )
                # how far the fast EMA must move for a crossover, as a share of the price
                info["ema_gap_to_cross"] = float((last["ema_slow"] - last["ema_fast"]) / last["close"])
            for col in ("rsi", "volume_ratio"):
                if col in g.columns and week[col].notna().any():
                    q = week[col].dropna().quantile([0.1, 0.5, 0.9])
                    info[col] = last[col]
                    info[f"{col}_7d_p10_p50_p90"] = [float(v) for v in q]
            out["symbols"][str(symbol)] = info
    series = db.frame(
        "SELECT exchange, symbol, timeframe, last_ts, rows, gaps, missing_candles, synthetic FROM candle_series"
    )
    quality = db.frame("SELECT issue, SUM(count) AS n FROM data_quality_log GROUP BY issue")
    out["data"] = {
        "series": [
            {
                "series": f"{r['exchange']} {r['symbol']} {r['timeframe']}",
                "last_candle": r["last_ts"],
                "rows": int(r["rows"]),
                "gaps": int(r["gaps"]),
                "missing_candles": int(r["missing_candles"]),
                "synthetic": bool(r["synthetic"]),
            }
            for _, r in series.iterrows()
        ],
        "quality_issues": {str(r["issue"]): int(r["n"] or 0) for _, r in quality.iterrows()},
    }
    return json_safe(out)
