"""Which strategy version is active, and how it got there: files move between strategies/candidates/,
active/ and archive/, and every move is a strategy_deployments row (version, parent version, code hash,
parameters, sizing, the rollout it came from), so any earlier version can be restored (`lab strategy
rollback`).

A completed rollout makes its candidate the primary strategy at the next engine start: the candidate's
book (which holds the capital by then) takes the primary book's key (`paper` or `live`), the replaced
book keeps its whole record under `retired:<key>:<rollout>`, and the candidate's file becomes the active
one. Its shadow keeps its virtual record (retire it with `lab shadows retire` when it is no longer wanted). One transaction renames the books and their runtime state; the files follow, and a crash between
the two is finished at the next start (the rollout row says whether its files moved)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select, update

from lab.core.config import LabConfig
from lab.core.errors import LabError
from lab.store.db import session_scope
from lab.store.models import Book, EngineState, Rollout
from lab.store.models_strategy import StrategyDeployment
from lab.strategy.loader import load_configured, resolve_path


@dataclass(frozen=True)
class ActiveStrategy:
    name: str
    version: str
    path: Path
    params: dict[str, Any]
    sizing: str | None


def _rel(config: LabConfig, path: Path) -> str:
    path = path.resolve()
    root = config.root.resolve()
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _record(s: Any, loaded: Any, action: str, path: str, **extra: Any) -> None:
    s.add(
        StrategyDeployment(
            name=loaded.name,
            version=loaded.version,
            parent_version=loaded.parent_version,
            code_hash=loaded.code_hash,
            action=action,
            path=path,
            params=extra.get("params") or {},
            sizing=extra.get("sizing"),
            rollout_id=extra.get("rollout_id"),
            reason=extra.get("reason", ""),
        )
    )


def active_strategy(config: LabConfig) -> ActiveStrategy:
    """The one strategy in strategies/active/, with the parameters and sizing it was deployed with."""
    folder = config.strategies_dir / "active"
    files = sorted(folder.glob("*.py"))
    if len(files) != 1:
        found = ", ".join(p.name for p in files) or "none"
        raise LabError(
            f"strategies/active/ must hold exactly one strategy (found: {found}); lab strategy deploy NAME"
        )
    loaded = load_configured(config, str(files[0]))
    with session_scope(config) as s:
        row = s.scalars(
            select(StrategyDeployment)
            .where(
                StrategyDeployment.name == loaded.name,
                StrategyDeployment.action.in_(("deployed", "rolled_back")),
            )
            .order_by(StrategyDeployment.id.desc())
        ).first()
        params, sizing = (
            (dict(row.params or {}), row.sizing) if row and row.code_hash == loaded.code_hash else ({}, None)
        )
    return ActiveStrategy(loaded.name, loaded.version, files[0], params, sizing)


def _archive(config: LabConfig, s: Any, path: Path, reason: str) -> None:
    """Move an active file to archive/: a versioned copy (for rollback) and one by its plain name (so
    books, shadows and lab.toml that name it still find it)."""
    loaded = load_configured(config, str(path))
    folder = config.strategies_dir / "archive"
    folder.mkdir(parents=True, exist_ok=True)
    versioned = folder / f"{loaded.name}-v{loaded.version}-{loaded.code_hash[:8]}.py"
    shutil.copy2(path, versioned)
    shutil.copy2(path, folder / path.name)
    path.unlink()
    _record(s, loaded, "archived", _rel(config, versioned), reason=reason)


def deploy(
    config: LabConfig,
    strategy: str,
    params: dict[str, Any] | None = None,
    sizing: str | None = None,
    reason: str = "deployed by the operator",
    rollout_id: int | None = None,
) -> str:
    """Make `strategy` (a name or file) the active strategy; the active one goes to archive/."""
    source = resolve_path(strategy, config.strategies_dir)
    loaded = load_configured(config, str(source))
    chosen = loaded.create(params or {}).params.model_dump(mode="json")  # refuses what it does not take
    active = config.strategies_dir / "active"
    active.mkdir(parents=True, exist_ok=True)
    target = active / f"{loaded.name}.py"
    with session_scope(config) as s:
        for current in sorted(active.glob("*.py")):
            if current.resolve() != source.resolve():
                _archive(config, s, current, f"replaced by {loaded.name} {loaded.version}")
        if source.resolve() != target.resolve():
            tmp = target.with_suffix(".py.tmp")
            shutil.copy2(source, tmp)
            tmp.replace(target)  # the active file is never half-written
            if source.parent.name != "archive":  # a candidate moves; an archived version stays archived
                source.unlink()
        _record(
            s,
            loaded,
            "deployed",
            _rel(config, target),
            params=chosen,
            sizing=sizing,
            rollout_id=rollout_id,
            reason=reason,
        )
    return (
        f"{loaded.name} {loaded.version} is the active strategy ({_rel(config, target)}; parameters {chosen})"
    )


def rollback(config: LabConfig, name: str | None = None, version: str | None = None) -> str:
    """Restore an archived version (the newest archived one, or of `name`, or that `version`)."""
    with session_scope(config) as s:
        q = (
            select(StrategyDeployment)
            .where(StrategyDeployment.action == "archived")
            .order_by(StrategyDeployment.id.desc())
        )
        rows = [
            r
            for r in s.scalars(q)
            if (name is None or r.name == name) and (version is None or r.version == version)
        ]
        if not rows:
            raise LabError(
                f"no archived version{' ' + version if version else ''}{' of ' + name if name else ''} (lab strategy history)"
            )
        chosen = rows[0]
        earlier = s.scalars(
            select(StrategyDeployment)
            .where(
                StrategyDeployment.code_hash == chosen.code_hash,
                StrategyDeployment.action.in_(("deployed", "rolled_back")),
            )
            .order_by(StrategyDeployment.id.desc())
        ).first()
        path, params, sizing = (
            config.root / chosen.path,
            dict(earlier.params or {}) if earlier else {},
            earlier.sizing if earlier else None,
        )
    if not path.is_file():
        raise LabError(f"the archived file {chosen.path} is gone")
    message = deploy(config, str(path), params, sizing, f"rolled back to {chosen.version}")
    with session_scope(config) as s:
        row = s.scalars(select(StrategyDeployment).order_by(StrategyDeployment.id.desc())).first()
        row.action = "rolled_back"
    return message.replace("is the active strategy", "is active again")


def history(config: LabConfig) -> pd.DataFrame:
    with session_scope(config) as s:
        rows = s.scalars(select(StrategyDeployment).order_by(StrategyDeployment.id)).all()
        return pd.DataFrame(
            [
                {
                    "at": r.created_at,
                    "strategy": r.name,
                    "version": r.version,
                    "parent": r.parent_version or "",
                    "action": r.action,
                    "file": r.path,
                    "params": r.params,
                    "sizing": r.sizing or "",
                    "rollout": r.rollout_id,
                    "reason": r.reason,
                }
                for r in rows
            ]
        )


def _rename(s: Any, old: str, new: str) -> None:
    s.execute(update(Book).where(Book.key == old).values(key=new))
    for suffix in ("", ":backup"):
        s.execute(update(EngineState).where(EngineState.mode == old + suffix).values(mode=new + suffix))


def promote_completed_rollout(config: LabConfig) -> str | None:
    """At an engine's start: a completed rollout's candidate becomes the primary book and the active
    strategy (once; the rollout row remembers). Returns what happened, or None."""
    with session_scope(config) as s:
        row = s.scalars(select(Rollout).order_by(Rollout.id.desc())).first()
        if row is None or row.status != "completed" or (row.state or {}).get("deployed"):
            return None
        state = dict(row.state)
        if not state.get("primary"):
            retired = f"retired:{row.previous}:{row.id}"
            _rename(s, row.previous, retired)
            _rename(s, row.book, row.previous)
            old = s.scalar(select(Book).where(Book.key == retired))
            if old is not None:
                old.status, old.error = "retired", f"replaced by {row.candidate} (rollout #{row.id})"
            state["primary"] = True
            row.state = state
    message = deploy(
        config,
        state["strategy"],
        state.get("params"),
        state.get("sizing"),
        f"rollout #{row.id} of {row.candidate} completed",
        row.id,
    )
    with session_scope(config) as s:
        done = s.get(Rollout, row.id)
        done.state = dict(done.state) | {"deployed": True}
    return f"rollout #{row.id}: {row.candidate} now trades as {row.previous}; {message}"
