"""The schema description analysis modules (and the orchestrator) read: every table, column, type and
meaning, generated from the SQLAlchemy models each time, never maintained by hand. A meaning comes
from the column's `doc`, else the comment that follows its definition in lab/store/models.py; a
table's from its model's docstring."""

from __future__ import annotations

import inspect
import io
import tokenize
from functools import cache
from typing import Any

from lab.store import models


@cache
def _column_comments() -> dict[tuple[str, str], str]:
    """(class name, attribute) -> the trailing comment on its line in the models' source."""
    source = inspect.getsource(models)
    comments: dict[tuple[str, str], str] = {}
    current_class = ""
    line_tokens: list[tokenize.TokenInfo] = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.NEWLINE, tokenize.NL):
            names = [t.string for t in line_tokens if t.type == tokenize.NAME]
            comment = next((t.string for t in line_tokens if t.type == tokenize.COMMENT), "")
            if names[:1] == ["class"] and len(names) > 1 and line_tokens[0].start[1] == 0:
                current_class = names[1]
            elif current_class and names and comment and "mapped_column" in names:
                comments[(current_class, names[0])] = comment.lstrip("# ").strip()
            line_tokens = []
        else:
            line_tokens.append(tok)
    return comments


def describe_schema() -> dict[str, Any]:
    """{table: {"meaning": …, "columns": {name: {"type", "nullable", "meaning"}}}} for every table."""
    comments = _column_comments()
    out: dict[str, Any] = {}
    classes = {m.class_.__tablename__: m.class_ for m in models.Base.registry.mappers}
    for name, table in sorted(models.Base.metadata.tables.items()):
        cls = classes.get(name)
        doc = inspect.getdoc(cls) if cls is not None and cls.__doc__ else ""
        columns = {}
        for col in table.columns:
            meaning = col.doc or comments.get((cls.__name__ if cls else "", col.key), "")
            columns[col.name] = {"type": str(col.type), "nullable": bool(col.nullable), "meaning": meaning}
        out[name] = {"meaning": doc, "columns": columns}
    return out


def schema_text(schema: dict[str, Any] | None = None) -> str:
    """The description as plain text (for prompts and `lab stats schema`)."""
    schema = schema or describe_schema()
    lines = []
    for table, info in schema.items():
        lines.append(f"{table}: {info['meaning']}".rstrip(": "))
        for col, c in info["columns"].items():
            null = " null" if c["nullable"] else ""
            lines.append(f"  {col} {c['type']}{null}" + (f" — {c['meaning']}" if c["meaning"] else ""))
    return "\n".join(lines)
