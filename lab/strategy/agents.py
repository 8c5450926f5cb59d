"""Loading signal agents by file path, checking what they return, their look-ahead check, and the
panel a voting strategy computes its agents' votes through.

A bad agent file is refused with the file and the problem (it does not load, returns the wrong
length, a vote outside [-1, 1], NaN where it did not abstain, or votes that change when later bars are
removed). At run time, in the engine (tolerant panel), an agent that raises abstains on that call with
the error as its reason and the error kept for the engine's log: it never stops the engine.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xxhash

from lab.core.agents import Agent, LiveInputs, Votes
from lab.core.config import AgentsConfig
from lab.core.errors import StrategyError
from lab.strategy.checks import LOOKAHEAD_BARS, SIGNALS_TIMEOUT_S, StrategyTimeout, time_limit
from lab.strategy.loader import exec_file, single_subclass


@dataclass(frozen=True)
class LoadedAgent:
    cls: type[Agent]
    path: Path
    code_hash: str

    @property
    def name(self) -> str:
        return self.cls.name

    def create(self, params: dict[str, Any] | None = None) -> Agent:
        try:
            return self.cls(params)
        except ValueError as exc:
            raise StrategyError(f"{self.path.name}: invalid parameters: {exc}") from None


def agent_path(name_or_path: str, agents_dir: Path) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".py":
        if not candidate.is_file():
            raise StrategyError(f"{candidate}: no such agent file")
        return candidate.resolve()
    path = agents_dir / f"{name_or_path}.py"
    if not path.is_file():
        known = sorted(p.stem for p in agents_dir.glob("*.py")) if agents_dir.is_dir() else []
        raise StrategyError(
            f"agent {name_or_path!r} not found in {agents_dir} (there: {', '.join(known) or 'none'})"
        )
    return path.resolve()


def load_agent(name_or_path: str, agents_dir: Path) -> LoadedAgent:
    """Execute an agent file and return its Agent subclass; errors name the file and the problem."""
    path = agent_path(name_or_path, agents_dir)
    module, code_hash = exec_file(path, "lab_agent")
    cls = single_subclass(module, Agent, path)
    if not isinstance(getattr(cls, "name", None), str) or not cls.name:
        raise StrategyError(f"{path.name}: {cls.__name__} must set the class attribute 'name' (a string)")
    if cls.votes is Agent.votes:
        raise StrategyError(f"{path.name}: {cls.__name__} does not implement votes(candles, live)")
    return LoadedAgent(cls, path, code_hash)


def check_votes(out: object, index: pd.Index, where: str) -> Votes:
    """What an agent returned, checked: a Votes aligned to the candles, votes in [-1, 1] and
    confidences in [0, 1] where it voted, NaN exactly where it abstained."""
    if not isinstance(out, Votes):
        raise StrategyError(f"{where}: votes() must return lab.core.agents.Votes, got {type(out).__name__}")
    for name in ("vote", "confidence", "abstain"):
        series = getattr(out, name)
        if not isinstance(series, pd.Series):
            raise StrategyError(f"{where}: {name} must be a pandas Series, got {type(series).__name__}")
        if len(series) != len(index) or not series.index.equals(index):
            raise StrategyError(
                f"{where}: {name} has {len(series)} rows on a different index; expected {len(index)} rows "
                "aligned to the candles"
            )
    reasons = out.abstain.to_numpy(dtype=object)
    if not all(isinstance(r, str) for r in reasons):
        raise StrategyError(f"{where}: abstain must hold a reason string per bar ('' where the agent voted)")
    voted = reasons == ""
    for name, low in (("vote", -1.0), ("confidence", 0.0)):
        try:
            values = getattr(out, name).to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise StrategyError(f"{where}: {name} must be numeric") from None
        bad = voted & ~np.isfinite(values)
        if bad.any():
            raise StrategyError(
                f"{where}: {name} is NaN or infinite on {int(bad.sum())} bar(s) where the agent did not "
                f"abstain, first at {index[np.flatnonzero(bad)[0]]} (abstain with a reason instead)"
            )
        with np.errstate(invalid="ignore"):
            out_of_range = voted & ((values < low) | (values > 1.0))
        if out_of_range.any():
            k = np.flatnonzero(out_of_range)[0]
            raise StrategyError(
                f"{where}: {name} {values[k]:g} at {index[k]} is outside [{low:g}, 1] "
                f"({int(out_of_range.sum())} bar(s))"
            )
    return out


def compute_votes(agent: Agent, candles: pd.DataFrame, where: str, live: LiveInputs | None = None) -> Votes:
    """Run agent.votes under the watchdog and check the result; every problem names `where`."""
    try:
        with time_limit(SIGNALS_TIMEOUT_S, f"{where}: votes()"):
            out = agent.votes(candles, live)
    except StrategyTimeout:
        raise
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        raise StrategyError(f"{where}: votes() raised {type(exc).__name__}: {exc}") from None
    return check_votes(out, candles.index, where)


def agent_lookahead(agent: Agent, candles: pd.DataFrame, where: str, cuts: int = 8) -> str | None:
    """The look-ahead check for an agent: votes recomputed on data cut at `cuts` points must equal the
    full run's up to the cut. Returns the problem, or None."""
    full = compute_votes(agent, candles, where)
    n, warm = len(candles), min(agent.warmup(), len(candles) // 2)
    for cut in np.unique(np.linspace(warm + 1, n - 1, cuts).astype(int)):
        part = compute_votes(agent, candles.iloc[:cut], where)
        for name in ("vote", "confidence"):
            a = getattr(full, name).to_numpy(dtype=float)[warm:cut]
            b = getattr(part, name).to_numpy(dtype=float)[warm:cut]
            differ = ~(np.isclose(a, b, rtol=1e-9, atol=1e-12) | (np.isnan(a) & np.isnan(b)))
            if differ.any():
                k = warm + int(np.flatnonzero(differ)[0])
                return (
                    f"{where}: look-ahead: the {name} at {candles.index[k]} is {a[k - warm]:.6g} with the "
                    f"full data but {b[k - warm]:.6g} when data ends at {candles.index[cut - 1]}"
                )
        a, b = full.abstain.to_numpy()[warm:cut], part.abstain.to_numpy()[warm:cut]
        if (a != b).any():
            k = warm + int(np.flatnonzero(a != b)[0])
            return f"{where}: look-ahead: abstention at {candles.index[k]} changes when data ends at {candles.index[cut - 1]}"
    return None


_LOOKAHEAD_OK: set[tuple[str, str]] = set()


def frame_digest(candles: pd.DataFrame) -> str:
    h = xxhash.xxh3_64()
    h.update(np.ascontiguousarray(candles.index.asi8))
    for column in ("open", "high", "low", "close", "volume"):
        h.update(np.ascontiguousarray(candles[column].to_numpy(dtype=np.float64)))
    return h.hexdigest()


class AgentPanel:
    """The agents of a voting strategy: loaded, parameterised, enabled or not, computing checked votes.

    Disabled agents still vote (their record keeps growing, so a flag can lift on evidence) but weigh
    nothing in the blend. strict (backtests): a failing agent is an error naming its file. Not strict
    (the engine): it abstains with the error as its reason, and the error waits in `errors`."""

    CACHE = 64  # frames whose votes are kept (look-ahead cuts, leave-one-out re-runs reuse them)

    def __init__(self, agents: list[tuple[LoadedAgent, Agent]], enabled: set[str] | None = None) -> None:
        self.agents = {la.name: (la, agent) for la, agent in agents}
        self.enabled = set(self.agents) if enabled is None else set(enabled)
        self.strict = True
        self.live_inputs: Any = None  # callable(symbol) -> LiveInputs, set by a live engine
        self.errors: list[tuple[str, str]] = []
        self._cache: OrderedDict[tuple[str, str], Votes] = OrderedDict()
        self.config: AgentsConfig | None = None  # what it was built from (a sweep's workers rebuild it)
        self.store: Path | None = None

    @classmethod
    def from_config(cls, cfg: AgentsConfig, agents_dir: Path, store: Path | None = None) -> AgentPanel:
        loaded = []
        for name in cfg.enabled:
            la = load_agent(name, agents_dir)
            if la.name != name:
                raise StrategyError(f"{la.path.name}: declares name {la.cls.name!r}, listed as {name!r}")
            agent = la.create(cfg.params.get(name))
            agent.store = store / name if store is not None else None
            loaded.append((la, agent))
        unknown = set(cfg.params) - set(cfg.enabled)
        if unknown:
            raise StrategyError(
                f"[agents.params] names agents that are not enabled: {', '.join(sorted(unknown))}"
            )
        panel = cls(loaded)
        panel.config, panel.store = cfg, store
        return panel

    @property
    def fingerprint(self) -> str:
        """Changes with any agent's code or parameters (part of the voting strategy's code hash)."""
        parts = [
            (n, la.code_hash, agent.params.model_dump_json())
            for n, (la, agent) in sorted(self.agents.items())
        ]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def warmup(self) -> int:
        return max((agent.warmup() for _, agent in self.agents.values()), default=0)

    def weights(self, overrides: dict[str, float]) -> dict[str, float]:
        unknown = set(overrides) - set(self.agents)
        if unknown:
            raise StrategyError(f"weights name unknown agents: {', '.join(sorted(unknown))}")
        return {n: (float(overrides.get(n, 1.0)) if n in self.enabled else 0.0) for n in self.agents}

    def set_enabled(self, name: str, on: bool) -> None:
        if name not in self.agents:
            raise StrategyError(
                f"no agent {name!r} in this strategy (agents: {', '.join(sorted(self.agents))})"
            )
        (self.enabled.add if on else self.enabled.discard)(name)

    def require_no_lookahead(self, candles: pd.DataFrame) -> None:
        """Every agent's look-ahead check, once per code hash and parameters per process."""
        frame = candles.dropna(subset=["close"]).tail(LOOKAHEAD_BARS)
        if len(frame) < 20:
            return
        for la, agent in self.agents.values():
            key = (la.code_hash, agent.params.model_dump_json())
            if key in _LOOKAHEAD_OK:
                continue
            problem = agent_lookahead(agent, frame, f"{la.path.name}")
            if problem:
                raise StrategyError(f"refused: {problem} (an agent may use only bars up to its own)")
            _LOOKAHEAD_OK.add(key)

    def votes(self, candles: pd.DataFrame) -> dict[str, Votes]:
        """Every agent's checked votes on this frame (cached by content: the same frame costs once)."""
        symbol = str(candles.attrs.get("symbol", ""))
        live = self.live_inputs(symbol) if self.live_inputs is not None and symbol else None
        digest = frame_digest(candles) if live is None else None
        out = {}
        for name, (la, agent) in self.agents.items():
            key = (name, digest) if digest is not None else None
            if key is not None and key in self._cache:
                self._cache.move_to_end(key)
                out[name] = self._cache[key]
                continue
            where = f"{la.path.name}" + (f" on {symbol}" if symbol else "")
            try:
                v = compute_votes(agent, candles, where, live)
            except StrategyError as exc:
                if self.strict:
                    raise
                self.errors.append((name, str(exc)))
                v = Votes.abstain_all(candles.index, f"error: {exc}"[:200])
            out[name] = v
            if key is not None:
                self._cache[key] = v
                while len(self._cache) > self.CACHE * max(1, len(self.agents)):
                    self._cache.popitem(last=False)
        return out
