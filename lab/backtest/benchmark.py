"""Equal-weight buy-and-hold of the same symbols over the same period: the reference every backtest is
read against. Each symbol gets an equal share of the initial cash, bought at its first bar's open
with the same slippage and taker fee the strategy pays, and held to the end (a symbol that lists later
keeps its share in cash until then)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.backtest.simulate import ExecutionModel
from lab.core import metrics as m


def buy_and_hold(candles: dict[str, pd.DataFrame], model: ExecutionModel) -> pd.Series:
    """Equity of the equal-weight buy-and-hold portfolio on the candles' shared index."""
    symbols = list(candles)
    index = candles[symbols[0]].index
    share = model.init_cash / len(symbols)
    total = np.zeros(len(index))
    for s in symbols:
        frame = candles[s]
        opens = frame["open"].to_numpy(dtype=float)
        closes = frame["close"].ffill().to_numpy(dtype=float)
        first = int(np.flatnonzero(~np.isnan(opens))[0]) if (~np.isnan(opens)).any() else len(index)
        value = np.full(len(index), share)
        if first < len(index):
            price = opens[first] * (1 + model.slippage)
            units = share / (1 + model.fees[s]) / price
            value[first:] = units * closes[first:]
        total += value
    return pd.Series(total, index=index, name="buy and hold")


def buy_and_hold_metrics(equity: pd.Series, days_per_year: int = 365) -> dict[str, float]:
    """The equity metrics of buy-and-hold (trade metrics do not apply)."""
    daily = m.daily_returns(equity)
    dd = m.drawdown(equity)
    mdd = m.max_drawdown(equity, dd)
    return {
        "total_return": m.total_return(equity),
        "annualized_return": m.annualized_return(equity, days_per_year),
        "sharpe_daily": m.sharpe_ratio(daily, days_per_year),
        "sortino_daily": m.sortino_ratio(daily, days_per_year),
        "calmar": m.calmar_ratio(equity, days_per_year, mdd),
        "max_drawdown": mdd,
        "max_drawdown_hours": m.max_drawdown_duration(equity, dd).total_seconds() / 3600,
        "exposure": 1.0,
        "final_equity": float(equity.iloc[-1]),
    }
