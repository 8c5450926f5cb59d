"""Running untrusted code (analysis modules now, generated strategies later) outside the lab's process.

The boundary is the process, not the AST screen (lab.sandbox.screen):
- `python -I` (no user site, no PYTHON* variables) with an empty environment: no API keys to read;
- new network, PID and mount namespaces (`unshare`): no network interface but loopback-less `lo`,
  no view of the lab's processes (so no /proc/PID/environ of a parent), and `/tmp`, `/var/tmp`,
  `/run/lock`, `/dev/shm` re-mounted read-only, the run's own directory bound at /mnt read-write;
  when the PID namespace's first process dies the kernel kills every process in it, so a child that
  `setsid`s away still dies with the run;
- when the lab runs as root (CI and many containers do), the child drops to the unprivileged `nobody`
  uid/gid before untrusted code runs (root ignores RLIMIT_NPROC and can read any file); as a normal
  user, a user namespace (`--map-root-user`) gives the same namespaces without privileges;
- rlimits on CPU seconds, address space, file size, open files, processes/threads (none) and core
  dumps; a wall-clock timeout that kills the whole process group; output read up to a cap.
Where `unshare` is missing or refused, the run still happens in a plain child process with the same
limits, environment and privilege drop, and the result says `isolation = "process only"`; callers that
need the namespaces check `isolated`.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from lab.sandbox.screen import screen

UNSHARE = ["unshare", "--net", "--pid", "--fork", "--mount", "--mount-proc", "--kill-child"]
WORLD_WRITABLE = ["/tmp", "/var/tmp", "/run/lock", "/dev/shm"]
WORK_MOUNT = "/mnt"
# Before the child starts: make world-writable places read-only and bind the run's directory.
_MOUNTS = (
    'set -e; work="$1"; shift; mount --bind "$work" '
    + WORK_MOUNT
    + "; "
    + " ".join(
        f"if [ -d {d} ]; then mount --bind {d} {d}; mount -o remount,ro,bind {d}; fi;" for d in WORLD_WRITABLE
    )
    + ' exec "$@"'
)
ENV = {
    "PATH": "/usr/bin:/bin",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_DISABLE_JIT": "1",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "HOME": WORK_MOUNT,
}


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 20
    wall_seconds: float = 60.0
    memory_mb: int = 3072
    file_mb: int = 16
    open_files: int = 256
    max_output: int = 512 * 1024  # characters of JSON result, and of printed text kept


@dataclass
class SandboxResult:
    ok: bool
    value: dict[str, Any] | None = None
    kind: str = ""  # screen, timeout, killed, memory, error, contract, output_too_large, bad_output
    error: str = ""
    printed: str = ""
    isolation: str = ""
    seconds: float = 0.0
    child_seconds: float = 0.0
    findings: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return "ok" if self.ok else f"{self.kind}: {self.error}"


@cache
def isolation_mode() -> str:
    """What this machine allows: "namespaces, uid nobody" (root), "user namespaces" (non-root), or
    "process only" (no unshare, or the kernel refuses it)."""
    if not shutil.which("unshare"):
        return "process only"
    root = os.geteuid() == 0
    probe = [
        *UNSHARE,
        *([] if root else ["--user", "--map-root-user"]),
        "sh",
        "-c",
        _MOUNTS,
        "sh",
        "/",
        "true",
    ]
    try:
        ok = subprocess.run(probe, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok:
        return "process only"
    return "namespaces, uid nobody" if root else "user namespaces"


def _nobody() -> tuple[int, int]:
    try:
        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        return 65534, 65534


def _read_capped(stream: Any, cap: int, out: list[bytes], over: threading.Event) -> None:
    total = 0
    while chunk := stream.read(65536):
        total += len(chunk)
        if total > cap:
            over.set()
            return
        out.append(chunk)


def limits_payload(limits: Limits, cpu_seconds: int | None = None) -> dict[str, int]:
    return {
        "cpu_seconds": cpu_seconds or limits.cpu_seconds,
        "memory_mb": limits.memory_mb,
        "file_mb": limits.file_mb,
        "open_files": limits.open_files,
        "max_output": limits.max_output,
    }


def _own_workdir(work: Path, mode: str) -> tuple[Path, tuple[int, int] | None]:
    """Hand the run's directory to the uid the child drops to; return its path as the child sees it."""
    drop = _nobody() if os.geteuid() == 0 else None
    if drop:
        for p in (work, *work.iterdir()):
            os.chown(p, *drop)
    work.chmod(0o700)
    return (Path(WORK_MOUNT) if mode != "process only" else work), drop


def child_command(work: Path, mode: str, module: str) -> list[str]:
    """The command that starts `python -I -m module` inside the namespaces (where this machine allows)."""
    python = [sys.executable, "-I", "-m", module]
    if mode == "process only":
        return python
    root = os.geteuid() == 0
    return [
        *UNSHARE,
        *([] if root else ["--user", "--map-root-user"]),
        "sh",
        "-c",
        _MOUNTS,
        "sh",
        str(work),
        *python,
    ]


def run_untrusted(
    source: str,
    *,
    entry: str,
    db_path: Path | None = None,
    schema: dict[str, Any] | None = None,
    limits: Limits | None = None,
    screen_first: bool = True,
    module_name: str = "untrusted",
) -> SandboxResult:
    """Screen, then run `entry(db, schema)` of the source in the sandbox; never raises for the code's
    own failures. `screen_first=False` only for tests of the process boundary itself."""
    limits = limits or Limits()
    started = time.perf_counter()
    if screen_first:
        findings = screen(source, module_name)
        if findings:
            return SandboxResult(
                False,
                kind="screen",
                error=str(findings[0]),
                findings=[str(f) for f in findings],
                seconds=time.perf_counter() - started,
            )
    mode = isolation_mode()
    work = Path(tempfile.mkdtemp(prefix="lab-sandbox-"))
    try:
        (work / "module.py").write_text(source)
        if db_path is not None:
            shutil.copyfile(db_path, work / "snapshot.db")
        inside, drop = _own_workdir(work, mode)
        job = {
            "source": str(inside / "module.py"),
            "module_name": module_name,
            "entry": entry,
            "db": str(inside / "snapshot.db") if db_path is not None else None,
            "schema": schema or {},
            "workdir": str(inside),
            "drop_to": drop,
            "limits": limits_payload(limits),
        }
        cmd = child_command(work, mode, "lab.sandbox.child")
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=ENV,
            cwd="/",
            start_new_session=True,
        )
        out: list[bytes] = []
        err: list[bytes] = []
        over = threading.Event()
        readers = [
            threading.Thread(
                target=_read_capped, args=(proc.stdout, limits.max_output * 4 + 4096, out, over)
            ),
            threading.Thread(target=_read_capped, args=(proc.stderr, 64 * 1024, err, threading.Event())),
        ]
        for t in readers:
            t.start()
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(job).encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        deadline = started + limits.wall_seconds
        while proc.poll() is None and time.perf_counter() < deadline and not over.is_set():
            time.sleep(0.01)
        timed_out = proc.poll() is None and not over.is_set()
        if proc.poll() is None:
            _kill_group(proc)
        for t in readers:
            t.join(timeout=5)
        seconds = time.perf_counter() - started
        base = {"isolation": mode, "seconds": seconds}
        if over.is_set():
            return SandboxResult(
                False,
                kind="output_too_large",
                error="the child wrote more than the output cap; killed",
                **base,
            )
        if timed_out:
            return SandboxResult(
                False,
                kind="timeout",
                error=f"no result after {limits.wall_seconds:g} s wall clock; the process group was killed",
                **base,
            )
        return _parse(proc.returncode, b"".join(out), b"".join(err), base)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def _parse(code: int, out: bytes, err: bytes, base: dict[str, Any]) -> SandboxResult:
    lines = out.decode(errors="replace").strip().splitlines()
    if code < 0 or (not lines and code != 0):
        sig = -code if code < 0 else None
        why = {signal.SIGXCPU: "CPU time limit", signal.SIGKILL: "killed", signal.SIGSEGV: "crashed"}.get(
            sig, ""
        )
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
        kind = "cpu" if sig == signal.SIGXCPU else "killed"
        return SandboxResult(
            False,
            kind=kind,
            error=f"the child ended with {why or f'exit code {code}'} {tail[0]}".strip(),
            **base,
        )
    try:
        payload = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        return SandboxResult(
            False, kind="bad_output", error="the child's answer is not one JSON line", **base
        )
    if not isinstance(payload, dict):
        return SandboxResult(
            False, kind="bad_output", error="the child's answer is not a JSON object", **base
        )
    child = float(payload.get("child_seconds", 0.0))
    if payload.get("ok") is True and isinstance(payload.get("result"), dict):
        return SandboxResult(
            True,
            value=payload["result"],
            printed=str(payload.get("printed", "")),
            child_seconds=child,
            **base,
        )
    return SandboxResult(
        False,
        kind=str(payload.get("kind", "error")),
        error=str(payload.get("error", "")),
        child_seconds=child,
        **base,
    )
