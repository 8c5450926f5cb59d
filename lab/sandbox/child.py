"""The sandbox's child process: it reads its job from stdin, imports what untrusted code may use,
opens the database snapshot read-only, drops privileges, sets its limits, and only then runs the code.

Started by lab.sandbox.runner inside fresh network, PID and mount namespaces (no network, no view of
other processes, world-writable directories read-only), as `python -I` with an empty environment.
What it prints on its real stdout is one JSON line: the result or the error.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import sys
import time
import traceback
from typing import Any


class BoundedText(io.TextIOBase):
    """A stdout/stderr stand-in that keeps the first `limit` characters and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit, self.parts, self.size = limit, [], 0

    def write(self, s: str) -> int:
        if self.size < self.limit:
            self.parts.append(s[: self.limit - self.size])
        self.size += len(s)
        return len(s)

    def text(self) -> str:
        out = "".join(self.parts)
        return out + (
            f"\n… {self.size - self.limit} more characters dropped" if self.size > self.limit else ""
        )


def _no_network(*_a: Any, **_k: Any) -> Any:
    raise PermissionError("network access is not allowed in the sandbox")


def _drop(job: dict[str, Any]) -> None:
    uid_gid = job.get("drop_to")
    if uid_gid:
        uid, gid = uid_gid
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        if os.getuid() != uid or os.geteuid() != uid:
            raise RuntimeError("could not drop privileges")


def _limits(job: dict[str, Any]) -> None:
    lim = job["limits"]
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (lim["cpu_seconds"], lim["cpu_seconds"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (lim["file_mb"] * mb, lim["file_mb"] * mb))
    resource.setrlimit(resource.RLIMIT_NOFILE, (lim["open_files"], lim["open_files"]))
    resource.setrlimit(resource.RLIMIT_AS, (lim["memory_mb"] * mb, lim["memory_mb"] * mb))
    # No new processes or threads (threads count too): a fork bomb stops at its first fork.
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))


def main() -> None:
    real_stdout = sys.stdout
    job = json.loads(sys.stdin.read())
    started = time.perf_counter()

    def answer(payload: dict[str, Any]) -> None:
        payload["child_seconds"] = time.perf_counter() - started
        real_stdout.write(json.dumps(payload, default=str) + "\n")
        real_stdout.flush()

    try:
        # Everything untrusted code may import, imported now while the interpreter's files are readable.
        import importlib.util
        import socket

        import numpy  # noqa: F401
        import pandas  # noqa: F401

        from lab.sandbox import readonly
        from lab.sandbox.screen import ALLOWED_IMPORTS, ALLOWED_LAB_MODULES

        for name in sorted((ALLOWED_IMPORTS | ALLOWED_LAB_MODULES) - {"__future__"}):
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
        import scipy.stats  # noqa: F401

        db = readonly.ReadOnlyDB(job["db"]) if job.get("db") else None
        source = job["source"]
        spec = importlib.util.spec_from_file_location(job.get("module_name", "untrusted"), source)
        assert spec is not None and spec.loader is not None
        os.chdir(job["workdir"])
        _drop(job)
        _limits(job)
        socket.socket = _no_network  # type: ignore[assignment,misc]  # extra layer; the namespace is the boundary
        socket.create_connection = _no_network  # type: ignore[assignment]
        sys.stdout = sys.stderr = BoundedText(job["limits"]["max_output"])
        phase = "import"
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        phase = "run"
        entry = getattr(module, job["entry"], None)
        if not callable(entry):
            answer(
                {"ok": False, "kind": "contract", "error": f"the module defines no function {job['entry']}()"}
            )
            return
        value = entry(db, job.get("schema", {}))
        printed = sys.stdout.text()
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            answer(
                {
                    "ok": False,
                    "kind": "contract",
                    "error": f"{job['entry']}() returned a value that is not JSON: {exc}",
                }
            )
            return
        if not isinstance(value, dict):
            answer(
                {
                    "ok": False,
                    "kind": "contract",
                    "error": f"{job['entry']}() must return a dict, got {type(value).__name__}",
                }
            )
            return
        if len(text) > job["limits"]["max_output"]:
            answer(
                {
                    "ok": False,
                    "kind": "output_too_large",
                    "error": f"{job['entry']}() returned {len(text):,} characters of JSON (limit {job['limits']['max_output']:,})",
                }
            )
            return
        answer({"ok": True, "result": value, "printed": printed})
    except BaseException as exc:  # the untrusted code's failure, SystemExit and KeyboardInterrupt included
        tb = traceback.extract_tb(exc.__traceback__)
        where = next(
            (f"{f.filename}:{f.lineno}" for f in reversed(tb) if f.filename == job.get("source")), ""
        )
        kind = "memory" if isinstance(exc, MemoryError) else "error"
        answer(
            {
                "ok": False,
                "kind": kind,
                "phase": locals().get("phase", "setup"),
                "error": f"{type(exc).__name__}: {exc}" + (f" (at {where})" if where else ""),
            }
        )


if __name__ == "__main__":
    main()
