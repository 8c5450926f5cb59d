"""Run history of notebooks in the DB: rows written at start and finish, and summary statistics."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from lab.core.config import LabConfig
from lab.store.db import session_scope
from lab.store.models import NotebookRun


def _rel(config: LabConfig, path: Path) -> str:
    return str(path.relative_to(config.reports_dir)) if path.is_relative_to(config.reports_dir) else str(path)


def start_run(
    config: LabConfig,
    run_id: str,
    notebook: str,
    parameters: dict[str, Any],
    code_hash: str,
    trigger: str,
    ipynb: Path,
    html: Path,
) -> None:
    with session_scope(config) as session:
        session.add(
            NotebookRun(
                run_id=run_id,
                notebook=notebook,
                parameters=parameters,
                code_hash=code_hash,
                trigger=trigger,
                status="running",
                output_ipynb=_rel(config, ipynb),
                output_html=_rel(config, html),
            )
        )


def finish_run(
    config: LabConfig,
    run_id: str,
    status: str,
    duration_s: float,
    error: str | None,
    summary: dict[str, Any] | None = None,
) -> None:
    with session_scope(config) as session:
        row = session.scalar(select(NotebookRun).where(NotebookRun.run_id == run_id))
        row.status, row.duration_s, row.error = status, duration_s, error
        row.summary = summary
        row.finished_at = datetime.now(UTC)


def runs(config: LabConfig, notebook: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """Runs, newest first."""
    with session_scope(config) as session:
        query = select(NotebookRun).order_by(NotebookRun.started_at.desc(), NotebookRun.id.desc())
        if notebook:
            query = query.where(NotebookRun.notebook == notebook)
        if limit:
            query = query.limit(limit)
        rows = session.scalars(query).all()
        return pd.DataFrame(
            [
                {
                    "run_id": r.run_id,
                    "notebook": r.notebook,
                    "status": r.status,
                    "started": r.started_at,
                    "duration_s": r.duration_s,
                    "trigger": r.trigger,
                    "error": r.error,
                    "html": r.output_html,
                    "parameters": r.parameters,
                    "summary": r.summary,
                }
                for r in rows
            ],
            columns=[
                "run_id",
                "notebook",
                "status",
                "started",
                "duration_s",
                "trigger",
                "error",
                "html",
                "parameters",
                "summary",
            ],
        )


def summary(config: LabConfig) -> pd.DataFrame:
    """Per notebook: runs, success rate, mean duration, last run and last error."""
    all_runs = runs(config)
    if all_runs.empty:
        return pd.DataFrame(
            columns=["notebook", "runs", "success_rate", "mean_duration_s", "last_run", "last_error"]
        )
    finished = all_runs[all_runs["status"] != "running"]
    out = []
    for name, group in finished.groupby("notebook"):
        failed = group[group["status"] == "failed"]
        out.append(
            {
                "notebook": name,
                "runs": len(group),
                "success_rate": float((group["status"] == "succeeded").mean()),
                "mean_duration_s": float(group["duration_s"].mean()),
                "last_run": group["started"].iloc[0],
                "last_error": failed["error"].iloc[0] if len(failed) else None,
            }
        )
    return pd.DataFrame(out)
