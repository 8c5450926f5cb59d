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
from vectorbt.portfolio import dispatch
from vectorbt.portfolio.enums import Direction


def _filled(close: np.ndarray) -> np.ndarray:
    """Forward- then backward-filled close per column, as `Portfolio.get_filled_close` does."""
    if not np.isnan(close).any():
        return close
    out = np.array(close, dtype=np.float64, copy=True)
    for j in range(out.shape[1]):  # few columns; each fill is vectorized
        col = out[:, j]
        valid = ~np.isnan(col)
        if not valid.any():
            continue
        last = np.where(valid, np.arange(len(col)), 0)
        np.maximum.accumulate(last, out=last)
        col[:] = col[last]
        first = int(np.argmax(valid))
        col[:first] = col[first]
    return out


def portfolio_value(pf: Any) -> np.ndarray:
    """`pf.value()` as a (bars, groups) array for grouped portfolios, else (bars, columns)."""
    shape = pf.wrapper.shape_2d
    close = np.asarray(pf.close, dtype=np.float64).reshape(shape[0], -1)
    records = pf.order_records
    col_map = pf.orders.col_mapper.col_map
    assets = dispatch.assets(dispatch.asset_flow(shape, records, col_map, Direction.Both))
    close = np.broadcast_to(close, shape) if close.shape != shape else close
    filled = _filled(close) if pf.fillna_close else close
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
    close = np.asarray(pf.close, dtype=np.float64).reshape(pf.wrapper.shape_2d[0], -1)
    close = np.broadcast_to(close, pf.wrapper.shape_2d) if close.shape != pf.wrapper.shape_2d else close
    return dispatch.get_exit_trades(pf.order_records, close, pf.orders.col_mapper.col_map)
