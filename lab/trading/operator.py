"""Operator commands (from the CLI and the dashboard, through the DB command queue) and what each
does to a running engine's state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lab.core.errors import LabError
from lab.store import commands as cmdq
from lab.store.models import Command
from lab.trading.health import FaultInjector
from lab.trading.ledger import RuntimeState


@dataclass
class Operated:
    status: str  # done, failed
    result: str


def dispatch(
    cmd: Command,
    state: RuntimeState,
    faults: FaultInjector,
    describe: Callable[[], str],
    start_notebook: Callable[[str], str],
    set_agent: Callable[[str, bool, str], str] | None = None,
    handlers: dict[str, Callable[[dict], str]] | None = None,
) -> Operated:
    """Apply one command to the state; `describe` answers `status`, `start_notebook` runs a notebook,
    `set_agent(name, enabled, reason)` enables or disables a voting strategy's agent."""
    if cmd.command == "pause":
        state.paused, state.pause_reason = True, cmd.args.get("reason") or "paused by the operator"
        return Operated("done", f"paused: {state.pause_reason}")
    if cmd.command == "resume":
        state.paused, state.pause_reason = False, None
        state.consecutive_losses = 0
        return Operated("done", "resumed")
    if cmd.command == "stop":
        state.stopped = True
        return Operated("done", "stopping after the current bar")
    if cmd.command == "status":
        return Operated("done", describe())
    if cmd.command == "run_notebook":
        try:
            return Operated("done", start_notebook(str(cmd.args.get("notebook", ""))))
        except LabError as exc:
            return Operated("failed", str(exc))
    if cmd.command in ("agent_enable", "agent_disable"):
        name = str(cmd.args.get("agent", "")).strip()
        if not name or set_agent is None:
            return Operated("failed", f"{cmd.command} needs an agent name (args: {{'agent': NAME}})")
        on = cmd.command == "agent_enable"
        reason = str(cmd.args.get("reason") or f"{'enabled' if on else 'disabled'} by the operator")
        try:
            return Operated("done", set_agent(name, on, reason))
        except LabError as exc:
            return Operated("failed", str(exc))
    if handlers and cmd.command in handlers:  # the engine's own (shadow_retire, promote_now)
        try:
            return Operated("done", handlers[cmd.command](dict(cmd.args or {})))
        except LabError as exc:
            return Operated("failed", str(exc))
    if cmd.command in ("faults_on", "faults_off"):
        faults.enabled = state.faults_enabled = cmd.command == "faults_on"
        return Operated("done", f"fault injection {'on' if faults.enabled else 'off'}")
    return Operated("failed", f"unknown command {cmd.command!r}; known: {', '.join(sorted(cmdq.KNOWN))}")
