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

MAX_OUTPUT_CHARS = 256_000
ENTRY = "analyze"
REQUIRED_LITERALS = ("NAME", "VERSION", "PARENT_VERSION")
