"""The contract of analysis modules: files in statistics/active/ (loaded by path; the folder has no
__init__.py, a package named `statistics` would shadow the standard library) that read the trading
record and return what they found. The orchestrator may rewrite them, so they always run in the
sandbox (lab.sandbox), against a read-only snapshot of the database.

A module defines, as plain literals at the top level:
    NAME = "trade_performance"     # the file's stem
    VERSION = "1.0.0"
    PARENT_VERSION = None          # the version it was derived from, if any
and one function
    def analyze(db, schema) -> dict
where `db` answers `db.query(sql, params) -> list[dict]` and `db.frame(sql, params) -> DataFrame`
(writes fail at the database), and `schema` is lab.research.schema.describe_schema(). The result must
be a JSON object (no NaN: use None) of at most MAX_OUTPUT_CHARS characters.
"""

from __future__ import annotations

import math
from typing import Any

MAX_OUTPUT_CHARS = 256_000
ENTRY = "analyze"
REQUIRED_LITERALS = ("NAME", "VERSION", "PARENT_VERSION")


def json_safe(value: Any) -> Any:
    """A module's result made JSON-safe: numpy scalars to Python numbers, NaN and inf to None (modules
    import it: `from lab.core.analysis import json_safe`)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value
