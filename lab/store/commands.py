"""The operator command queue: the CLI and the dashboard insert rows; the engine executes them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from lab.core.config import LabConfig
from lab.store.db import session_scope
from lab.store.models import Command

KNOWN = {
    "pause",
    "resume",
    "stop",
    "status",
    "run_notebook",
    "faults_on",
    "faults_off",
    "agent_enable",
    "agent_disable",
    "shadow_retire",
    "promote_now",
}


def enqueue(config: LabConfig, command: str, source: str = "cli", **args: Any) -> int:
    """Queue a command; unknown ones are queued too and answered with an error by the engine."""
    with session_scope(config) as session:
        row = Command(command=command, args=args, source=source)
        session.add(row)
        session.flush()
        return row.id


def pending(config: LabConfig) -> list[Command]:
    with session_scope(config) as session:
        return list(session.scalars(select(Command).where(Command.status == "pending").order_by(Command.id)))


def finish(config: LabConfig, command_id: int, status: str, result: str) -> None:
    with session_scope(config) as session:
        row = session.get(Command, command_id)
        row.status, row.result, row.processed_at = status, result[:2000], datetime.now(UTC)


def outcome(config: LabConfig, command_id: int) -> Command | None:
    with session_scope(config) as session:
        return session.get(Command, command_id)
