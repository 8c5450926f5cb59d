"""The parent side of a long-lived sandboxed strategy (lab.sandbox.strategy_child): start it inside the
sandbox, send it closed candles, get its signals back as JSON, and kill it when it dies, stalls or lies.

Generated strategies run here for as long as they trade in the shadows: passing the gates once does not
make code trusted (a time bomb waits), so it is never imported into the engine's or the backtester's
process. A worker that fails raises WorkerError; the caller (the shadow's book) is disabled with it."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lab.core.errors import StrategyError
from lab.sandbox.runner import ENV, Limits, _own_workdir, child_command, isolation_mode, limits_payload
from lab.sandbox.screen import STRATEGY_LAB_MODULES, screen


class WorkerError(StrategyError):
    pass


class SandboxWorker:
    """One sandboxed process for one strategy file. `call_seconds` bounds every answer (a stall kills it);
    `cpu_seconds` is the worker's whole CPU allowance (RLIMIT_CPU counts over its life)."""

    def __init__(self, source: str, name: str, limits: Limits, call_seconds: float, cpu_seconds: int) -> None:
        findings = screen(source, name, lab_modules=STRATEGY_LAB_MODULES | {"lab.core.contract"})
        if findings:
            raise WorkerError(f"{name}: refused by the screen: {findings[0]}")
        self.name, self.limits, self.call_seconds = name, limits, call_seconds
        self.isolation = isolation_mode()
        self.calls, self.seconds = 0, 0.0
        self._work = Path(tempfile.mkdtemp(prefix="lab-worker-"))
        (self._work / "module.py").write_text(source)
        inside, drop = _own_workdir(self._work, self.isolation)
        job = {
            "source": str(inside / "module.py"),
            "module_name": "generated_strategy",
            "workdir": str(inside),
            "drop_to": drop,
            "limits": limits_payload(limits, cpu_seconds),
        }
        self._proc = subprocess.Popen(
            child_command(self._work, self.isolation, "lab.sandbox.strategy_child"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=ENV,
            cwd="/",
            start_new_session=True,
        )
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._send(job)
        self._receive(max(call_seconds, 30.0), "start")

    def _read(self) -> None:
        assert self._proc.stdout is not None
        cap = self.limits.max_output * 8 + (64 << 20)  # signals for a long frame are large but bounded
        for line in iter(lambda: self._proc.stdout.readline(cap), b""):  # type: ignore[union-attr]
            self._lines.put(line)
        self._lines.put(None)

    def _send(self, payload: dict[str, Any]) -> None:
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps(payload).encode() + b"\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died("it no longer reads requests") from None

    def _died(self, what: str) -> WorkerError:
        code = self._proc.poll()
        self.close()
        how = f"exit code {code}" if code is not None and code >= 0 else f"signal {-(code or 0)}"
        return WorkerError(f"{self.name}: the sandboxed worker died ({how}; {what})")

    def _receive(self, timeout: float, what: str) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self.close()
            raise WorkerError(
                f"{self.name}: the sandboxed worker stalled: no answer to {what} in {timeout:g} s; killed"
            ) from None
        if line is None:
            raise self._died(f"during {what}")
        try:
            payload = json.loads(line)
        except json.JSONDecodeError:
            self.close()
            raise WorkerError(
                f"{self.name}: the sandboxed worker's answer to {what} is not JSON; killed"
            ) from None
        if not isinstance(payload, dict) or not payload.get("ok"):
            error = payload.get("error", "no reason given") if isinstance(payload, dict) else "not an object"
            raise WorkerError(f"{self.name}: {what} failed in the sandbox: {error}")
        return payload

    def request(self, payload: dict[str, Any], what: str) -> dict[str, Any]:
        if self._proc.poll() is not None:
            raise self._died(f"before {what}")
        started = time.perf_counter()
        self._send(payload)
        out = self._receive(self.call_seconds, what).get("result")
        self.calls, self.seconds = self.calls + 1, self.seconds + time.perf_counter() - started
        if not isinstance(out, dict):
            raise WorkerError(f"{self.name}: {what}: the sandbox answered without a result")
        return out

    def meta(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.request({"op": "meta", "params": params}, "meta")

    def signals(self, params: dict[str, Any], candles: pd.DataFrame) -> dict[str, Any]:
        index = (
            candles.index.as_unit("ns").asi8
            if isinstance(candles.index, pd.DatetimeIndex)
            else np.asarray(candles.index)
        )
        payload: dict[str, Any] = {"op": "signals", "params": params, "index": index.tolist()}
        for col in ("open", "high", "low", "close", "volume"):
            payload[col] = np.nan_to_num(candles[col].to_numpy(dtype=float), nan=0.0).tolist()
        return self.request(payload, "signals")

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def close(self) -> None:
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=10)
        shutil.rmtree(self._work, ignore_errors=True)
