"""What the learning agents (ML, RL, anomaly) share: walk-forward blocks that never train on data at
or after the bar they predict, a store for fitted models (with their training window and a hash), and
the tabular Q-learning kernel.

Blocks are aligned to wall-clock multiples of the retraining period (not to the frame's first row), so
a frame cut short or a rolling window that covers the training data yields the same fits and the same
votes: that is what the look-ahead check and the engine's replay rely on.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numba
import numpy as np
import pandas as pd
import xxhash


@dataclass(frozen=True)
class Block:
    """Predict bars [start, stop) from a model fitted on samples [train_start, train_stop)."""

    start: int
    stop: int
    train_start: int
    train_stop: int


def bar_ns(index: pd.DatetimeIndex) -> int:
    """The bar length in nanoseconds (the most common step: gaps do not change it)."""
    ts = index.as_unit("ns").asi8
    if len(ts) < 2:
        return 0
    steps, counts = np.unique(np.diff(ts), return_counts=True)
    return int(steps[np.argmax(counts)])


def walk_forward_blocks(
    index: pd.DatetimeIndex, every_hours: float, train_bars: int, min_train: int, label_bars: int
) -> list[Block]:
    """Blocks of bars sharing one fit. A block starts at the first bar of each `every_hours` period
    (counted from the Unix epoch); its fit uses the last `train_bars` samples whose label is complete
    strictly before the block's first bar (sample j's label needs bar j + label_bars), so no bar at or
    after a prediction enters its training. Blocks with fewer than `min_train` samples are left out
    (their bars have no prediction: the agent abstains there)."""
    ts = index.as_unit("ns").asi8
    if len(ts) == 0:
        return []
    period = int(every_hours * 3600 * 1e9)
    bucket = ts // period
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    stops = np.r_[starts[1:], len(ts)]
    out = []
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        train_stop = start - label_bars  # samples j < start - label_bars: j + label_bars < start
        train_start = max(0, train_stop - train_bars)
        if train_stop - train_start >= min_train:
            out.append(Block(start, stop, train_start, train_stop))
    return out


def digest(*arrays: np.ndarray, extra: str = "") -> str:
    h = xxhash.xxh3_128()
    for a in arrays:
        h.update(np.ascontiguousarray(a).view(np.uint8))
    h.update(extra.encode())
    return h.hexdigest()


class ModelStore:
    """Fitted models by the hash of what they were fitted on (features, labels, settings), in memory and
    under `root` (joblib, with a JSON sidecar naming the training window). The files are the lab's own,
    written here: loading them is loading our pickles, never a download's."""

    _memory: ClassVar[OrderedDict[str, tuple[Any, dict[str, Any]]]] = OrderedDict()
    MEMORY = 512

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def get_or_fit(self, key: str, fit: Any, meta: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        if key in self._memory:
            self._memory.move_to_end(key)
            return self._memory[key]
        import joblib

        path = self.root / f"{key}.joblib" if self.root is not None else None
        if path is not None and path.is_file():
            try:
                entry = (joblib.load(path), json.loads(path.with_suffix(".json").read_text()))
            except Exception:  # a damaged file is refitted, never trusted half-read
                entry = None
            if entry is not None:
                self._remember(key, entry)
                return entry
        began = time.perf_counter()
        model = fit()
        record = meta | {"hash": key, "fit_seconds": round(time.perf_counter() - began, 4)}
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            joblib.dump(model, tmp)
            tmp.replace(path)  # a crash mid-write leaves no half file under the real name
            path.with_suffix(".json").write_text(json.dumps(record | {"path": str(path)}, default=str))
            record = record | {"path": str(path)}
        self._remember(key, (model, record))
        return model, record

    def _remember(self, key: str, entry: tuple[Any, dict[str, Any]]) -> None:
        self._memory[key] = entry
        while len(self._memory) > self.MEMORY:
            self._memory.popitem(last=False)


# Tabular Q-learning by hand: no well-kept library does a 54-state table (gymnasium/stable-baselines
# bring environments and neural policies, not this), and numba keeps 100k-bar training fast.
@numba.njit(cache=True)
def q_learning(
    states: np.ndarray,  # market state per bar (0..n_market-1)
    rewards_long: np.ndarray,  # return of holding over bar j -> j+1, for a long position
    q: np.ndarray,  # (n_market * 2 positions, 2 actions), updated in place
    visits: np.ndarray,  # (n_market * 2,) updated in place
    lo: int,
    hi: int,
    episodes: int,
    alpha: float,
    gamma: float,
    epsilon: float,
    fee: float,
    seed: int,
) -> float:
    """Episodes of epsilon-greedy Q-learning over transitions j in [lo, hi) (bar j's state, the
    return to bar j + 1, which must be known: hi <= the first bar predicted). Action 0 is flat, 1 long;
    the reward is the fee-aware return of the position taken. Returns the last episode's mean reward."""
    np.random.seed(seed)
    last = 0.0
    for e in range(episodes):
        eps = epsilon * (1.0 - e / max(1, episodes))
        pos = 0
        total = 0.0
        for j in range(lo, hi - 1):
            s = states[j] * 2 + pos
            a = np.random.randint(0, 2) if np.random.random() < eps else (1 if q[s, 1] > q[s, 0] else 0)
            r = a * rewards_long[j] - fee * abs(a - pos)
            s2 = states[j + 1] * 2 + a
            best = q[s2, 0] if q[s2, 0] > q[s2, 1] else q[s2, 1]
            q[s, a] += alpha * (r + gamma * best - q[s, a])
            visits[s] += 1
            pos = a
            total += r
        last = total / max(1, hi - 1 - lo)
    return last
