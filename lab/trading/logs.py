"""Structured JSON logs (structlog) to data/logs/engine.jsonl, with correlation ids bound per bar and order."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import structlog


def configure(log_dir: Path, level: int = logging.INFO) -> Any:
    """JSON lines to data/logs/engine.jsonl; returns a bound logger."""
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_dir / "engine.jsonl")
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("lab.engine")
    root.handlers = [handler]
    root.setLevel(level)
    root.propagate = False
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    return structlog.get_logger("lab.engine")
