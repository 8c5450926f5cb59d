"""Single-instance lock (used by the engine, read by the dashboard and the CLI): an OS file lock (flock, through filelock), which the kernel releases when
its process dies, so a stale lock cannot exist and two processes can never both hold it. The PID
beside it (`<lock>.pid`) is information only: who holds it, and whether an earlier holder died."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from filelock import FileLock, Timeout

from lab.core.errors import LabError


class AlreadyRunning(LabError):
    pass


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class InstanceLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.pid_path = path.with_name(path.name + ".pid")
        self.recovered_stale = False  # an earlier holder died without releasing (the OS freed its lock)
        self._lock = FileLock(str(path), timeout=0)

    def holder(self) -> int | None:
        try:
            return int(self.pid_path.read_text().strip() or "0") or None
        except (OSError, ValueError):
            return None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout:
            pid = self.holder()
            raise AlreadyRunning(
                f"the engine is already running ({f'pid {pid}, ' if pid else ''}lock {self.path})"
            ) from None
        previous = self.holder()
        self.recovered_stale = previous is not None and previous != os.getpid()
        tmp = self.pid_path.with_suffix(".tmp")
        tmp.write_text(str(os.getpid()))
        tmp.replace(self.pid_path)

    def release(self) -> None:
        if not self._lock.is_locked:
            return
        with contextlib.suppress(OSError):
            if self.holder() == os.getpid():
                self.pid_path.unlink()
        self._lock.release()

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_held(path: Path) -> bool:
    """Whether a live process holds the lock at `path` (asked of the OS, not of the PID file)."""
    if not path.exists():
        return False
    probe = FileLock(str(path), timeout=0)
    try:
        probe.acquire()
    except Timeout:
        return True
    except OSError:  # cannot open it (read-only directory): fall back to the PID beside it
        pid = InstanceLock(path).holder()
        return bool(pid and pid_alive(pid))
    probe.release()
    return False


def engine_status(running: bool, paused: bool) -> str:
    """The one rule for what an engine is: stopped (no live process holds its lock), paused, or running."""
    if not running:
        return "stopped"
    return "paused" if paused else "running"
