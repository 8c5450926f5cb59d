"""Loading strategy modules by file path (never imported as a package), the way freqtrade's resolver does:
the file is executed as an isolated module and its single Strategy subclass is picked up."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.core.agents import VotingStrategy
from lab.core.config import AgentsConfig, LabConfig, SandboxConfig
from lab.core.contract import Strategy
from lab.core.errors import StrategyError

FOLDERS = ("active", "candidates", "archive")


@dataclass(frozen=True)
class LoadedStrategy:
    cls: type[Strategy]
    path: Path
    code_hash: str
    stage: str  # active, candidates, archive, or external

    @property
    def name(self) -> str:
        return self.cls.name

    @property
    def version(self) -> str:
        return self.cls.version

    @property
    def parent_version(self) -> str | None:
        return self.cls.parent_version

    def create(self, params: dict[str, Any] | None = None) -> Strategy:
        try:
            return self.cls(params)
        except ValueError as exc:
            raise StrategyError(f"{self.path.name}: invalid parameters: {exc}") from None


def resolve_path(name_or_path: str, strategies_dir: Path) -> Path:
    """A file path as given, or strategies/{active,candidates,archive}/<name>.py, searched in that order."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".py" or candidate.exists():
        if not candidate.is_file():
            raise StrategyError(f"{candidate}: no such strategy file")
        return candidate.resolve()
    for folder in (*FOLDERS, "candidates/generated"):
        path = strategies_dir / folder / f"{name_or_path}.py"
        if path.is_file():
            return path.resolve()
    raise StrategyError(
        f"strategy {name_or_path!r} not found in {', '.join(f'{strategies_dir}/{f}' for f in FOLDERS)}"
    )


def exec_file(path: Path, prefix: str) -> tuple[Any, str]:
    """Execute a module file by path (cached by content hash); returns (module, sha256 of the source).
    Errors name the file and the problem."""
    source = path.read_bytes()
    code_hash = hashlib.sha256(source).hexdigest()
    module_name = f"{prefix}_{path.stem}_{code_hash[:12]}"
    if module_name in sys.modules:
        return sys.modules[module_name], code_hash
    try:
        compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise StrategyError(f"{path.name}: syntax error on line {exc.lineno}: {exc.msg}") from None
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    from lab.strategy.checks import IMPORT_TIMEOUT_S, StrategyTimeout, time_limit

    try:
        with time_limit(IMPORT_TIMEOUT_S, f"{path.name}: loading the file"):
            spec.loader.exec_module(module)
    except StrategyTimeout:
        raise
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        raise StrategyError(f"{path.name}: failed while loading: {type(exc).__name__}: {exc}") from None
    sys.modules[module_name] = module
    return module, code_hash


def single_subclass(module: Any, base: type, path: Path) -> type:
    classes = [
        c
        for _, c in inspect.getmembers(module, inspect.isclass)
        if issubclass(c, base) and c.__module__ == module.__name__
    ]
    if len(classes) != 1:
        raise StrategyError(
            f"{path.name}: expected exactly one {base.__name__} subclass, found {len(classes)}"
        )
    return classes[0]


def load_configured(config: LabConfig, name_or_path: str) -> LoadedStrategy:
    """load_strategy with the project's strategies folder, [agents] and [sandbox] (what every caller
    that has a LabConfig wants)."""
    return load_strategy(
        name_or_path, config.strategies_dir, config.agents, config.agents_store, config.sandbox
    )


def load_strategy(
    name_or_path: str,
    strategies_dir: Path,
    agents: AgentsConfig | None = None,
    agents_store: Path | None = None,
    sandbox: SandboxConfig | None = None,
) -> LoadedStrategy:
    """Execute a strategy file and return its Strategy subclass; errors name the file and the problem.
    A voting strategy gets its agents bound (lab.strategy.agents): `agents` (lab.toml's [agents], the
    defaults when None) from strategies_dir/agents, learning agents keeping their models in agents_store."""
    path = resolve_path(name_or_path, strategies_dir)
    stage = path.parent.name if path.parent.name in FOLDERS else "external"
    from lab.strategy.sandboxed import is_generated, sandboxed_class

    if is_generated(path):  # generated code: never executed in this process
        proxy, code_hash = sandboxed_class(path, sandbox)
        return LoadedStrategy(cls=proxy, path=path, code_hash=code_hash, stage="candidates")
    module, code_hash = exec_file(path, "lab_strategy")
    cls = single_subclass(module, Strategy, path)
    for attr in ("name", "timeframe", "version"):
        if not isinstance(getattr(cls, attr, None), str):
            raise StrategyError(
                f"{path.name}: {cls.__name__} must set the class attribute {attr!r} (a string)"
            )
    if cls.signals is Strategy.signals:
        raise StrategyError(f"{path.name}: {cls.__name__} does not implement signals(candles)")
    if issubclass(cls, VotingStrategy):
        from lab.strategy.agents import AgentPanel

        panel = AgentPanel.from_config(agents or AgentsConfig(), strategies_dir / "agents", agents_store)
        cls = type(cls.__name__, (cls,), {"panel": panel, "__module__": cls.__module__})
        code_hash = hashlib.sha256((code_hash + panel.fingerprint).encode()).hexdigest()
    return LoadedStrategy(cls=cls, path=path, code_hash=code_hash, stage=stage)
