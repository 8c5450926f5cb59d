"""A long-lived sandbox child for one untrusted (generated) strategy: it loads the file, then answers
requests line by line on stdin/stdout: its metadata, and the signals for the candles it is sent.

Started by lab.sandbox.worker exactly like lab.sandbox.child (namespaces, empty environment, `python -I`),
with the same privilege drop and limits; the lab's process never imports the strategy's code. Only JSON
crosses the boundary (never pickle: the parent must not execute anything the child sends)."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import math
import os
import socket
import sys
import traceback
from typing import Any

from lab.sandbox.child import BoundedText, _drop, _limits, _no_network


def _fractions(value: Any) -> Any:
    import pandas as pd

    if value is None or isinstance(value, (int, float)):
        return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
    if isinstance(value, pd.Series):
        return [None if (v is None or math.isnan(v)) else float(v) for v in value.astype(float).tolist()]
    raise TypeError(f"stop_loss/take_profit must be a float, a Series or None, got {type(value).__name__}")


def _bools(value: Any, n: int, what: str) -> list[bool]:
    import pandas as pd

    if not isinstance(value, pd.Series) or len(value) != n:
        raise TypeError(f"{what} must be a boolean Series as long as the candles ({n})")
    return [bool(v) for v in value.fillna(False).astype(bool).tolist()]


def _find_class(module: Any) -> type:
    from lab.core.contract import Strategy

    found = [
        v
        for v in vars(module).values()
        if isinstance(v, type)
        and issubclass(v, Strategy)
        and v is not Strategy
        and v.__module__ == module.__name__
    ]
    if len(found) != 1:
        raise TypeError(f"expected exactly one Strategy subclass, found {len(found)}")
    return found[0]


def _answer(req: dict[str, Any], cls: type) -> dict[str, Any]:
    import pandas as pd

    strategy = cls(req.get("params") or {})
    if req["op"] == "meta":
        return {
            "name": cls.name,
            "version": cls.version,
            "parent_version": cls.parent_version,
            "timeframe": cls.timeframe,
            "params": strategy.params.model_dump(mode="json"),
            "param_fields": list(type(strategy.params).model_fields),
            "warmup": int(strategy.warmup()),
        }
    if req["op"] == "signals":
        index = pd.to_datetime(req["index"], unit="ns", utc=True)
        frame = pd.DataFrame(
            {k: req[k] for k in ("open", "high", "low", "close", "volume")}, index=index, dtype=float
        )
        out = strategy.signals(frame)
        n = len(frame)
        return {
            "entries": _bools(out.entries, n, "entries"),
            "exits": _bools(out.exits, n, "exits"),
            "stop_loss": _fractions(out.stop_loss),
            "take_profit": _fractions(out.take_profit),
            "trailing": bool(out.trailing),
        }
    raise ValueError(f"unknown request {req['op']!r}")


def main() -> None:
    real_stdout, real_stdin = sys.stdout, sys.stdin
    job = json.loads(real_stdin.readline())

    def send(payload: dict[str, Any]) -> None:
        real_stdout.write(json.dumps(payload, allow_nan=False) + "\n")
        real_stdout.flush()

    try:
        import numpy  # noqa: F401
        import pandas  # noqa: F401

        from lab.sandbox.screen import ALLOWED_IMPORTS, STRATEGY_LAB_MODULES

        for name in sorted((ALLOWED_IMPORTS | STRATEGY_LAB_MODULES) - {"__future__"}):
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
        spec = importlib.util.spec_from_file_location(job["module_name"], job["source"])
        assert spec is not None and spec.loader is not None
        os.chdir(job["workdir"])
        _drop(job)
        _limits(job)
        socket.socket = _no_network  # type: ignore[assignment,misc]  # extra layer; the namespace is the boundary
        socket.create_connection = _no_network  # type: ignore[assignment]
        sys.stdout = sys.stderr = BoundedText(job["limits"]["max_output"])
        module = importlib.util.module_from_spec(spec)
        sys.modules[job["module_name"]] = module
        spec.loader.exec_module(module)
        cls = _find_class(module)
        send({"ok": True, "ready": True})
    except BaseException as exc:
        send({"ok": False, "kind": "load", "error": f"{type(exc).__name__}: {exc}"})
        return
    for line in real_stdin:
        try:
            send({"ok": True, "result": _answer(json.loads(line), cls)})
        except BaseException as exc:  # the strategy's failure; the worker stays up for the next request
            tb = traceback.extract_tb(exc.__traceback__)
            where = next((f"line {f.lineno}" for f in reversed(tb) if f.filename == job["source"]), "")
            kind = "memory" if isinstance(exc, MemoryError) else "error"
            send(
                {
                    "ok": False,
                    "kind": kind,
                    "error": f"{type(exc).__name__}: {exc}" + (f" (at {where})" if where else ""),
                }
            )


if __name__ == "__main__":
    main()
