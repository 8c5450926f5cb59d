"""Trade performance: by symbol, by market regime at entry, by trend at entry, by strategy version; signal analysis (act and
reject rates, top rejection reasons); fee impact and break-even move; holding durations; rolling
7-day and 30-day figures. Runs in the sandbox on a read-only snapshot (lab.core.analysis)."""

import json

import numpy as np
import pandas as pd

from lab.core.analysis import json_safe

NAME = "trade_performance"
VERSION = "1.2.0"
PARENT_VERSION = "1.1.0"


def group_stats(trades, key):
    out = {}
    for name, g in trades.groupby(key, sort=True):
        out[str(name)] = {
            "trades": len(g),
            "win_rate": float((g["pnl"] > 0).mean()),
            "net_pnl": float(g["pnl"].sum()),
            "mean_return": float(g["ret"].mean()),
        }
    return out


def analyze(db, schema):
    trades = db.frame(
        "SELECT mode, strategy, strategy_version, symbol, entry_time, exit_time, size, entry_price,"
        " exit_price, entry_fees, exit_fees, pnl, regime FROM engine_trades WHERE status = 'closed'"
    )
    scans = db.frame(
        "SELECT bar_time, symbol, signal, rejected, indicators FROM scan_results WHERE signal = 'entry'"
    )
    out = {"closed_trades": len(trades)}
    if len(trades):
        trades["entry_time"] = pd.to_datetime(trades["entry_time"], utc=True, format="mixed")
        trades["exit_time"] = pd.to_datetime(trades["exit_time"], utc=True, format="mixed")
        cost = trades["size"] * trades["entry_price"] + trades["entry_fees"]
        trades["ret"] = trades["pnl"] / cost
        trades["hours"] = (trades["exit_time"] - trades["entry_time"]).dt.total_seconds() / 3600
        fees = trades["entry_fees"] + trades["exit_fees"]
        gross = (trades["pnl"] + fees).clip(lower=0).sum()
        fee_rate = float((fees / (trades["size"] * (trades["entry_price"] + trades["exit_price"]))).median())
        out["by_symbol"] = group_stats(trades, "symbol")
        # the regime the engine stored on the entry signal's bar (trend_up/trend_down/range/high_vol)
        out["by_regime"] = group_stats(trades.assign(regime=trades["regime"].fillna("unknown")), "regime")
        out["by_strategy_version"] = group_stats(
            trades.assign(v=trades["strategy"] + " " + trades["strategy_version"]), "v"
        )
        out["fee_impact"] = {
            "fees_paid": float(fees.sum()),
            "fee_share_of_gross_profit": float(fees.sum() / gross) if gross > 0 else None,
            "median_fee_rate_per_side": fee_rate,
            "break_even_move": (1 + fee_rate) / (1 - fee_rate) - 1,
        }
        out["holding_hours"] = {
            "median": float(trades["hours"].median()),
            "mean": float(trades["hours"].mean()),
            "median_winners": float(trades.loc[trades["pnl"] > 0, "hours"].median()),
            "median_losers": float(trades.loc[trades["pnl"] <= 0, "hours"].median()),
        }
        newest = trades["exit_time"].max()
        out["rolling"] = {}
        for label, days in (("7d", 7), ("30d", 30)):
            recent = trades[trades["exit_time"] > newest - pd.Timedelta(days=days)]
            out["rolling"][label] = {
                "trades": len(recent),
                "net_pnl": float(recent["pnl"].sum()),
                "win_rate": float((recent["pnl"] > 0).mean()) if len(recent) else None,
            }
    # trend at entry: the entry bar's scan (EMA fast above slow = up), where the strategy logs EMAs
    if len(trades) and len(scans):
        scans["bar_time"] = pd.to_datetime(scans["bar_time"], utc=True, format="mixed")
        ind = pd.json_normalize(
            scans["indicators"].map(lambda t: json.loads(t) if isinstance(t, str) else (t or {}))
        )
        if {"ema_fast", "ema_slow"} <= set(ind.columns):
            scans["trend"] = np.where(ind["ema_fast"] > ind["ema_slow"], "up", "down")
            # the entry fills on the bar after its signal
            keyed = scans.assign(fill_time=scans["bar_time"] + pd.Timedelta(minutes=5))[
                ["symbol", "fill_time", "trend"]
            ]
            merged = trades.merge(
                keyed, left_on=["symbol", "entry_time"], right_on=["symbol", "fill_time"], how="left"
            )
            merged["trend"] = merged["trend"].fillna("unknown")
            out["by_trend_at_entry"] = group_stats(merged, "trend")
    # An entry signal is acted on at the next bar's open, or refused there by a rule (risk_events).
    n_signals = len(scans)
    refusals = db.frame(
        "SELECT rule, COUNT(*) AS n FROM risk_events WHERE symbol IS NOT NULL AND rule != 'position_size_clamped' GROUP BY rule ORDER BY n DESC"
    )
    entered = db.query("SELECT COUNT(*) AS n FROM engine_trades")[0]["n"]
    refused = int(refusals["n"].sum()) if len(refusals) else 0
    out["signals"] = {
        "entry_signals": n_signals,
        "entered": int(entered),
        "refused": refused,
        "act_rate": float(entered / n_signals) if n_signals else None,
        "top_rejection_reasons": {str(r["rule"]): int(r["n"]) for _, r in refusals.head(5).iterrows()},
    }
    return json_safe(out)
