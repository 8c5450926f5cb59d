"""An independent event-driven implementation of the execution model in lab.backtest.simulate, written
as a plain loop over bars. Tests compare its trades with the vectorbt backtest, trade by trade."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lab.core.contract import TRADE_COLUMNS


def run_reference(
    candles: dict[str, pd.DataFrame],
    entries: pd.DataFrame,
    exits: pd.DataFrame,
    sl: pd.DataFrame,
    tp: pd.DataFrame,
    trailing: dict[str, bool],
    fees: dict[str, float],
    slippage: float,
    init_cash: float,
    fraction: float,
    max_open: int,
) -> pd.DataFrame:
    """entries/exits/sl/tp are already on execution bars (as lab.backtest.simulate.execution_arrays gives)."""
    symbols = list(candles)
    index = candles[symbols[0]].index
    cash = init_cash
    pos: dict[str, dict | None] = {s: None for s in symbols}
    trades = []
    for i in range(len(index)):
        decisions: list[tuple[str, str, float]] = []
        held = {s: pos[s] is not None for s in symbols}
        for s in symbols:
            bar = candles[s].iloc[i]
            p = pos[s]
            if p is not None:
                stop_price = math.nan
                if not math.isnan(p["sl"]):
                    level = p["peak"] * (1 - p["sl"])
                    if bar.open <= level:
                        stop_price = bar.open
                    elif bar.low <= level <= bar.high:
                        stop_price = level
                if math.isnan(stop_price) and not math.isnan(p["tp"]):
                    level = p["entry_price"] * (1 + p["tp"])
                    if level <= bar.open:
                        stop_price = bar.open
                    elif bar.low <= level <= bar.high:
                        stop_price = level
                if p["trailing"] and bar.high > p["peak"]:
                    p["peak"] = bar.high
                if not math.isnan(stop_price):
                    decisions.append((s, "exit", stop_price * (1 - slippage)))
                    held[s] = False
                elif exits[s].iloc[i]:
                    decisions.append((s, "exit", bar.open * (1 - slippage)))
                    held[s] = False
            elif entries[s].iloc[i] and sum(held.values()) < max_open:
                decisions.append((s, "entry", bar.open * (1 + slippage)))
                held[s] = True
        for s, kind, price in decisions:
            fee = fees[s]
            if kind == "exit":
                p = pos[s]
                exit_fees = p["size"] * price * fee
                cash += p["size"] * price - exit_fees
                pnl = p["size"] * (price - p["entry_price"]) - p["entry_fees"] - exit_fees
                trades.append(
                    {
                        "symbol": s,
                        "entry_time": p["entry_time"],
                        "exit_time": index[i],
                        "size": p["size"],
                        "entry_price": p["entry_price"],
                        "exit_price": price,
                        "entry_fees": p["entry_fees"],
                        "exit_fees": exit_fees,
                        "pnl": pnl,
                    }
                )
                pos[s] = None
            else:
                spend = cash * fraction
                size = spend / (1 + fee) / price
                pos[s] = {
                    "size": size,
                    "entry_price": price,
                    "entry_fees": spend - size * price,
                    "entry_time": index[i],
                    "sl": float(sl[s].iloc[i]),
                    "tp": float(tp[s].iloc[i]),
                    "trailing": trailing[s],
                    "peak": price,
                }
                cash -= spend
    out = pd.DataFrame(
        trades, columns=[c for c in TRADE_COLUMNS if c not in ("return_pct", "status", "exit_reason")]
    )
    return out.sort_values(["entry_time", "symbol"], ignore_index=True)


def compare(vbt_trades: pd.DataFrame, ref: pd.DataFrame) -> None:
    closed = vbt_trades[vbt_trades["status"] == "closed"].reset_index(drop=True)
    assert len(closed) == len(ref), f"{len(closed)} trades vs {len(ref)} in the reference loop"
    assert list(closed["symbol"]) == list(ref["symbol"])
    assert list(closed["entry_time"]) == list(ref["entry_time"])
    assert list(closed["exit_time"]) == list(ref["exit_time"])
    for col in ("size", "entry_price", "exit_price", "entry_fees", "exit_fees", "pnl"):
        np.testing.assert_allclose(
            closed[col].to_numpy(float), ref[col].to_numpy(float), rtol=1e-9, atol=1e-9, err_msg=col
        )
