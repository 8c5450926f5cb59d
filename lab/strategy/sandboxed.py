"""Generated strategies, loaded as a proxy whose signals come from a sandboxed worker process.

A file the orchestrator wrote carries GENERATED_MARKER on its first line (and lives under
strategies/candidates/generated/); moving it elsewhere does not make it trusted: the loader checks the
marker wherever the file is. The proxy is a real Strategy subclass, so the backtester, the look-ahead
check and the engine's books use it unchanged; only JSON crosses the process boundary."""

from __future__ import annotations

import atexit
import hashlib
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ConfigDict, create_model

from lab.core.config import SandboxConfig
from lab.core.contract import Signals, Strategy, StrategyParams
from lab.core.errors import StrategyError
from lab.sandbox.runner import Limits
from lab.sandbox.worker import SandboxWorker, WorkerError

GENERATED_MARKER = "# lab: generated"
GENERATED_DIR = Path("candidates") / "generated"
_WORKERS: list[SandboxWorker] = []
_CLASSES: dict[tuple[str, str], tuple[type[Strategy], str]] = {}  # (path, code hash): one worker per file


def is_generated(path: Path) -> bool:
    try:
        with path.open() as f:
            return f.readline().startswith(GENERATED_MARKER)
    except OSError:
        return False


def _limits(cfg: SandboxConfig) -> Limits:
    return Limits(
        cpu_seconds=cfg.cpu_seconds,
        wall_seconds=cfg.wall_seconds,
        memory_mb=cfg.memory_mb,
        file_mb=cfg.file_mb,
        open_files=cfg.open_files,
        max_output=cfg.max_output_kb * 1024,
    )


def _series(value: Any, index: pd.Index) -> pd.Series | float | None:
    if value is None or isinstance(value, float | int):
        return value
    return pd.Series([float("nan") if v is None else v for v in value], index=index, dtype=float)


class SandboxedStrategy(Strategy):
    """Base of the proxies; `worker` is set per loaded file."""

    worker: SandboxWorker

    def warmup(self) -> int:
        return int(self._meta()["warmup"])

    def _meta(self) -> dict[str, Any]:
        cached = getattr(self, "_meta_cache", None)
        if cached is None:
            cached = self._meta_cache = self.worker.meta(self.params.model_dump(mode="json"))
        return cached

    def signals(self, candles: pd.DataFrame) -> Signals:
        out = self.worker.signals(self.params.model_dump(mode="json"), candles)
        idx = candles.index
        return Signals(
            entries=pd.Series(out["entries"], index=idx, dtype=bool),
            exits=pd.Series(out["exits"], index=idx, dtype=bool),
            stop_loss=_series(out.get("stop_loss"), idx),
            take_profit=_series(out.get("take_profit"), idx),
            trailing=bool(out.get("trailing", False)),
        )


def sandboxed_class(path: Path, sandbox: SandboxConfig | None = None) -> tuple[type[Strategy], str]:
    """Start the file's worker and build its proxy class; returns (class, code hash)."""
    cfg = sandbox or SandboxConfig()
    source = path.read_text()
    code_hash = hashlib.sha256(source.encode()).hexdigest()
    known = _CLASSES.get((str(path), code_hash))
    if known is not None and known[0].worker.alive:  # type: ignore[attr-defined]
        return known
    try:
        worker = SandboxWorker(
            source, path.name, _limits(cfg), call_seconds=cfg.wall_seconds, cpu_seconds=cfg.cpu_seconds * 180
        )
        meta = worker.meta({})
    except WorkerError as exc:  # its message names the file already
        raise StrategyError(str(exc)) from None
    _WORKERS.append(worker)
    defaults = meta["params"]
    # The parameters' ranges are checked in the worker (its own Params class); here only the names.
    params_cls = create_model(
        "Params",
        __base__=StrategyParams,
        __config__=None,
        **{
            name: (type(defaults[name]) if defaults[name] is not None else Any, defaults[name])
            for name in meta["param_fields"]
        },
    )
    params_cls.model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self: SandboxedStrategy, params: StrategyParams | dict[str, Any] | None = None) -> None:
        Strategy.__init__(self, params)
        try:
            self._meta_cache = self.worker.meta(self.params.model_dump(mode="json"))
        except WorkerError as exc:
            raise ValueError(str(exc)) from None

    cls = type(
        f"Sandboxed_{meta['name']}",
        (SandboxedStrategy,),
        {
            "name": meta["name"],
            "version": meta["version"],
            "parent_version": meta["parent_version"],
            "timeframe": meta["timeframe"],
            "Params": params_cls,
            "worker": worker,
            "__init__": __init__,
        },
    )
    _CLASSES[(str(path), code_hash)] = (cls, code_hash)
    return cls, code_hash


@atexit.register
def _close_workers() -> None:
    for w in _WORKERS:
        w.close()
