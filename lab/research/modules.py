"""Analysis modules: discovery, sandboxed runs with stored outputs, and their lifecycle (validate,
deploy, archive, roll back) with version and parent version recorded.

A module is never imported into the lab's process: its literals (NAME, VERSION, PARENT_VERSION) are
read from the AST, and its code runs only through lab.sandbox against a read-only snapshot.
"""

from __future__ import annotations

import ast
import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from lab.core.analysis import ENTRY, MAX_OUTPUT_CHARS, REQUIRED_LITERALS
from lab.core.config import LabConfig
from lab.core.errors import LabError
from lab.research.readonly import seeded_copy, snapshot
from lab.research.schema import describe_schema
from lab.sandbox.runner import Limits, SandboxResult, run_untrusted
from lab.sandbox.screen import screen
from lab.store.db import session_scope
from lab.store.models import AnalysisModuleRecord, AnalysisOutput, EngineTrade, EquitySnapshot, ScanResult


class ModuleError(LabError):
    """An analysis module file is malformed or failed validation."""


@dataclass(frozen=True)
class ModuleInfo:
    name: str
    version: str
    parent_version: str | None
    code_hash: str
    path: Path


def limits(config: LabConfig) -> Limits:
    s = config.sandbox
    return Limits(
        cpu_seconds=s.cpu_seconds,
        wall_seconds=s.wall_seconds,
        memory_mb=s.memory_mb,
        file_mb=s.file_mb,
        open_files=s.open_files,
        max_output=min(s.max_output_kb * 1024, MAX_OUTPUT_CHARS),
    )


def read_info(path: Path) -> ModuleInfo:
    """The module's declared literals, from its AST (nothing of it runs here)."""
    try:
        source = path.read_text()
        tree = ast.parse(source, filename=str(path))
    except (OSError, UnicodeDecodeError, SyntaxError) as exc:
        raise ModuleError(f"{path.name}: cannot be read as Python: {exc}") from None
    literals: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                literals[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    missing = [k for k in REQUIRED_LITERALS if k not in literals]
    if missing:
        raise ModuleError(
            f"{path.name}: missing top-level literal(s) {', '.join(missing)} (see lab.core.analysis)"
        )
    if not any(isinstance(n, ast.FunctionDef) and n.name == ENTRY for n in tree.body):
        raise ModuleError(f"{path.name}: defines no function {ENTRY}(db, schema)")
    if literals["NAME"] != path.stem and path.parent.name == "active":
        raise ModuleError(
            f"{path.name}: NAME is {literals['NAME']!r}; an active module's NAME must be its file stem"
        )
    return ModuleInfo(
        name=str(literals["NAME"]),
        version=str(literals["VERSION"]),
        parent_version=None if literals["PARENT_VERSION"] is None else str(literals["PARENT_VERSION"]),
        code_hash=hashlib.sha256(source.encode()).hexdigest(),
        path=path,
    )


def active_modules(config: LabConfig) -> list[ModuleInfo]:
    folder = config.statistics_dir / "active"
    return [read_info(p) for p in sorted(folder.glob("*.py"))] if folder.is_dir() else []


def run_module(config: LabConfig, info: ModuleInfo, db_path: Path, store: bool = True) -> SandboxResult:
    """Run one module in the sandbox on a snapshot; store its output (or error) with version and hash."""
    result = run_untrusted(
        info.path.read_text(),
        entry=ENTRY,
        db_path=db_path,
        schema=describe_schema(),
        limits=limits(config),
        module_name=info.name,
    )
    if store:
        with session_scope(config) as s:
            s.add(
                AnalysisOutput(
                    name=info.name,
                    version=info.version,
                    code_hash=info.code_hash,
                    ok=result.ok,
                    output=result.value,
                    error=None if result.ok else result.reason,
                    seconds=result.seconds,
                    isolation=result.isolation,
                )
            )
    return result


def run_active(config: LabConfig, store: bool = True) -> dict[str, SandboxResult]:
    """Every active module on one consistent snapshot of the database."""
    mods = active_modules(config)
    if not mods:
        return {}
    with tempfile.TemporaryDirectory(prefix="lab-stats-") as d:
        snap = snapshot(config, Path(d))
        return {m.name: run_module(config, m, snap, store) for m in mods}


def latest_outputs(config: LabConfig) -> dict[str, dict[str, Any]]:
    """The newest stored output of each module: {name: {version, run_at, ok, output, error}}."""
    out: dict[str, dict[str, Any]] = {}
    with session_scope(config) as s:
        for row in s.scalars(select(AnalysisOutput).order_by(AnalysisOutput.id.desc()).limit(500)):
            out.setdefault(
                row.name,
                {
                    "version": row.version,
                    "run_at": str(row.run_at),
                    "ok": row.ok,
                    "output": row.output,
                    "error": row.error,
                },
            )
    return out


# --- lifecycle -------------------------------------------------------------------------------------
def _seed(path: Path) -> None:
    """A few known rows for a module's trial run: two closed trades, scans with a signal, equity."""
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    engine = create_engine(f"sqlite:///{path}")

    with Session(engine) as s, s.begin():
        for i, pnl in enumerate((12.5, -7.25)):
            s.add(
                EngineTrade(
                    mode="paper",
                    strategy="seeded",
                    strategy_version="1.0.0",
                    symbol="BTC/USD",
                    entry_time=t0 + timedelta(hours=i * 3),
                    exit_time=t0 + timedelta(hours=i * 3 + 2),
                    size=0.01,
                    entry_price=40_000.0,
                    exit_price=40_000.0 + pnl * 100,
                    entry_fees=1.6,
                    exit_fees=1.6,
                    pnl=pnl,
                    status="closed",
                    exit_reason="signal",
                )
            )
        for i in range(24):
            s.add(
                ScanResult(
                    bar_time=t0 + timedelta(minutes=5 * i),
                    symbol="BTC/USD",
                    signal="entry" if i in (3, 9) else "none",
                    rejected="max_open_positions: 3 held" if i == 9 else None,
                    indicators={
                        "close": 40_000.0 + i,
                        "ema_fast": 1.0 + i,
                        "ema_slow": 10.0,
                        "rsi": 50.0,
                        "volume_ratio": 1.1,
                    },
                )
            )
            s.add(
                EquitySnapshot(
                    mode="paper",
                    kind="bar",
                    bar_time=t0 + timedelta(minutes=5 * i),
                    equity=10_000.0 + i,
                    cash=10_000.0,
                    positions_value=float(i),
                )
            )
    engine.dispose()


def validate(config: LabConfig, path: Path) -> SandboxResult:
    """Screen the file, then run it in the sandbox on a seeded copy of the schema: it must return a JSON
    object within the size limit. Raises ModuleError naming the problem."""
    info = read_info(path)
    findings = screen(path.read_text(), path.name)
    if findings:
        raise ModuleError(f"{path.name} refused by the screen: " + "; ".join(map(str, findings)))
    with tempfile.TemporaryDirectory(prefix="lab-validate-") as d:
        db = seeded_copy(Path(d))
        _seed(db)
        result = run_module(config, info, db, store=False)
    if not result.ok:
        raise ModuleError(f"{path.name} failed its sandboxed trial run: {result.reason}")
    return result


def _record(config: LabConfig, info: ModuleInfo, action: str, path: Path) -> None:
    with session_scope(config) as s:
        s.add(
            AnalysisModuleRecord(
                name=info.name,
                version=info.version,
                parent_version=info.parent_version,
                code_hash=info.code_hash,
                action=action,
                path=str(path.relative_to(config.root)) if path.is_relative_to(config.root) else str(path),
            )
        )


def _archive_path(config: LabConfig, info: ModuleInfo) -> Path:
    folder = config.statistics_dir / "archive"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{info.name}-v{info.version}-{info.code_hash[:8]}.py"


def deploy(config: LabConfig, path: Path) -> ModuleInfo:
    """Validate, archive the active version of the same name, make this one active."""
    info = read_info(path)
    validate(config, path)
    active_dir = config.statistics_dir / "active"
    active_dir.mkdir(parents=True, exist_ok=True)
    target = active_dir / f"{info.name}.py"
    if target.exists():
        current = read_info(target)
        if current.code_hash == info.code_hash:
            raise ModuleError(f"{info.name} {info.version} is already the active version")
        archived = _archive_path(config, current)
        shutil.copy2(target, archived)
        _record(config, current, "archived", archived)
    tmp = target.with_suffix(".py.tmp")
    shutil.copyfile(path, tmp)
    tmp.replace(target)  # atomic: the active file is never half-written
    deployed = read_info(target)
    _record(config, deployed, "deployed", target)
    return deployed


def archived_versions(config: LabConfig, name: str) -> list[ModuleInfo]:
    folder = config.statistics_dir / "archive"
    found = [read_info(p) for p in sorted(folder.glob(f"{name}-v*.py"))] if folder.is_dir() else []
    return sorted(found, key=lambda i: i.path.stat().st_mtime)


def rollback(config: LabConfig, name: str, version: str | None = None) -> ModuleInfo:
    """Restore an archived version (the newest archived one, or `version`) as the active module."""
    candidates = [i for i in archived_versions(config, name) if version is None or i.version == version]
    if not candidates:
        have = ", ".join(sorted({i.version for i in archived_versions(config, name)})) or "none"
        raise ModuleError(
            f"no archived version {version or ''} of {name!r} (archived: {have})".replace("  ", " ")
        )
    chosen = candidates[-1]
    target = config.statistics_dir / "active" / f"{name}.py"
    if target.exists():
        current = read_info(target)
        archived = _archive_path(config, current)
        if not archived.exists():
            shutil.copy2(target, archived)
        _record(config, current, "archived", archived)
    tmp = target.with_suffix(".py.tmp")
    shutil.copyfile(chosen.path, tmp)
    tmp.replace(target)
    restored = read_info(target)
    _record(config, restored, "rolled_back", target)
    return restored
