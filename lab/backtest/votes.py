"""A backtest's vote records: for a voting strategy, every decision bar (an entry or an exit signal,
after the both-cancel rule the engine applies too) with each agent's vote, confidence and abstention
reason, and the market regime. The engine writes the same rows for the same bars (lab.trading.ledger
.record_votes): a replay test compares them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.core.agents import VoteArrays
from lab.core.contract import Signals
from lab.store.votes import AgentVoteRow, DecisionRow


def decision_rows(
    signals: dict[str, Signals], regimes: dict[str, pd.Series], enabled: set[str]
) -> list[DecisionRow]:
    rows: list[DecisionRow] = []
    for symbol, sig in signals.items():
        if not sig.votes:
            continue
        entries, exits = sig.entries.to_numpy(), sig.exits.to_numpy()
        decided = np.flatnonzero(entries ^ exits)
        if not len(decided):
            continue
        arrays = VoteArrays(sig.votes)
        info = sig.info if sig.info is not None else pd.DataFrame(index=sig.entries.index)
        score = (
            info["score"].to_numpy(dtype=float)[decided] if "score" in info else np.full(len(decided), np.nan)
        )
        voters = info["voters"].to_numpy(dtype=float)[decided] if "voters" in info else np.zeros(len(decided))
        regime = regimes.get(symbol)
        labels = (
            regime.reindex(sig.entries.index).to_numpy(dtype=object)[decided] if regime is not None else None
        )
        times = sig.entries.index[decided]
        for k, i in enumerate(decided):
            rows.append(
                DecisionRow(
                    symbol,
                    times[k].to_pydatetime(),
                    "entry" if entries[i] else "exit",
                    None if np.isnan(score[k]) else float(score[k]),
                    int(voters[k]) if np.isfinite(voters[k]) else 0,
                    None if labels is None or labels[k] != labels[k] else str(labels[k]),
                    tuple(AgentVoteRow(*v) for v in arrays.at(int(i), enabled)),
                )
            )
    rows.sort(key=lambda r: (r.bar_time, r.symbol))
    return rows


def entry_regimes(trades: pd.DataFrame, regimes: dict[str, pd.Series], timeframe_delta: pd.Timedelta) -> list:
    """The regime on each trade's entry signal bar (the bar before the one it entered on)."""
    out = []
    for symbol, entry in zip(trades["symbol"], trades["entry_time"], strict=True):
        labels = regimes.get(symbol)
        label = labels.get(pd.Timestamp(entry) - timeframe_delta) if labels is not None else None
        out.append(None if label is None or label != label else str(label))
    return out
