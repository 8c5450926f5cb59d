"""Equity and trade records of a vectorbt simulation as plain arrays, from vectorbt's own kernels.

`Portfolio.value()` wraps every intermediate result (asset flow, assets, cash flow, cash, asset value)
in pandas with vectorbt's ArrayWrapper: ~80 ms of wrapper overhead per million bars for one column,
and ~1.6 s per 100-column sweep chunk, several times the simulation itself; `Portfolio.trades` builds
records objects around one kernel call. This module calls the same engine-neutral kernels
(`vectorbt.portfolio.dispatch`, Rust when vectorbt-rust is installed) in the same order on raw
arrays, so the numbers are vectorbt's; tests check them against `pf.value()` and `pf.trades` for
grouped (shared cash) and per-column portfolios.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from vectorbt.portfolio import dispatch
from vectorbt.portfolio.enums import Direction


def _close(pf: Any) -> np.ndarray:
    """The simulation's close as a (bars, columns) array (vectorbt keeps it as a wrapped frame)."""
    shape = pf.wrapper.shape_2d
    close = np.asarray(pf.close, dtype=np.float64).reshape(shape[0], -1)
    return np.broadcast_to(close, shape) if close.shape != shape else close


def portfolio_value(pf: Any) -> np.ndarray:
    """`pf.value()` as a (bars, groups) array for grouped portfolios, else (bars, columns)."""
    shape = pf.wrapper.shape_2d
    records = pf.order_records
    col_map = pf.orders.col_mapper.col_map
    assets = dispatch.assets(dispatch.asset_flow(shape, records, col_map, Direction.Both))
    filled = _close(pf)
    if pf.fillna_close and np.isnan(filled).any():  # as Portfolio.get_filled_close
        filled = pd.DataFrame(filled).ffill().bfill().to_numpy()
    if np.isnan(filled).any():  # vectorbt: a NaN price of an asset not held is worth nothing
        filled = np.where(assets == 0, 0.0, filled)
    asset_value = dispatch.asset_value(filled, assets)
    cash_flow = dispatch.cash_flow(shape, records, col_map, False)
    init_cash = np.asarray(pf.init_cash, dtype=np.float64).reshape(-1)
    if pf.wrapper.grouper.is_grouped():
        group_lens = pf.wrapper.grouper.get_group_lens()
        if len(group_lens) > 1 or shape[1] > 1:  # one column in one group is its own sum
            cash_flow = dispatch.cash_flow_grouped(cash_flow, group_lens)
            asset_value = dispatch.asset_value_grouped(asset_value, group_lens)
        cash = dispatch.cash_grouped(shape, cash_flow, group_lens, init_cash)
    else:
        cash = dispatch.cash(cash_flow, init_cash)
    return dispatch.value(cash, asset_value)


def exit_trades(pf: Any) -> np.ndarray:
    """`pf.trades.records_arr` (exit trades, vectorbt's default trade type) as a structured array."""
    return dispatch.get_exit_trades(pf.order_records, _close(pf), pf.orders.col_mapper.col_map)
