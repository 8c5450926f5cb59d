"""The first gate for untrusted code: an AST screen that refuses forbidden imports, names and
attribute access before anything runs, with the line and the reason.

Not the security boundary: in-process allow-lists are known to be escapable (generator frames to
f_builtins, format-string attribute walks, …). It exists to give a clear, early refusal for the
obvious cases; the separate, unprivileged, network-less process (lab.sandbox.runner) is the boundary.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

# What untrusted analysis and strategy code may import (the top-level package).
ALLOWED_IMPORTS = frozenset(
    {
        "__future__",
        "bisect",
        "collections",
        "dataclasses",
        "datetime",
        "decimal",
        "enum",
        "fractions",
        "functools",
        "heapq",
        "itertools",
        "json",
        "math",
        "numpy",
        "operator",
        "pandas",
        "re",
        "scipy",
        "statistics",
        "talib",
        "typing",
    }
)
# Lab modules untrusted code may import by their full name (the metrics every report uses).
ALLOWED_LAB_MODULES = frozenset({"lab.core.metrics", "lab.core.analysis"})
# What a generated strategy may import besides: the contract it implements and the indicator helpers.
STRATEGY_LAB_MODULES = frozenset({"lab.core.contract", "lab.strategy.indicators"})
FORBIDDEN_NAMES = frozenset(
    {
        "__build_class__",
        "__builtins__",
        "__import__",
        "__loader__",
        "__spec__",
        "breakpoint",
        "compile",
        "delattr",
        "dir",
        "eval",
        "exec",
        "exit",
        "getattr",
        "globals",
        "help",
        "input",
        "locals",
        "memoryview",
        "open",
        "quit",
        "setattr",
        "vars",
    }
)
# Attributes that lead from an object to frames, code or the interpreter.
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "ag_frame",
        "cr_frame",
        "f_back",
        "f_builtins",
        "f_code",
        "f_globals",
        "f_locals",
        "gi_code",
        "gi_frame",
        "gi_yieldfrom",
        "tb_frame",
        "tb_next",
    }
)


@dataclass(frozen=True)
class Finding:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def screen(
    source: str, filename: str = "<module>", lab_modules: frozenset[str] = ALLOWED_LAB_MODULES
) -> list[Finding]:
    """Every reason to refuse this source (empty: it passes the screen)."""

    def _allowed(name: str) -> bool:
        return name.split(".")[0] in ALLOWED_IMPORTS or name in lab_modules

    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        return [Finding(exc.lineno or 0, f"syntax error: {exc.msg}")]
    found: list[Finding] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not _allowed(alias.name):
                    found.append(Finding(line, f"import of {alias.name!r} is not allowed"))
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names_ok = all(_allowed(f"{module}.{a.name}") for a in node.names)
            if node.level or not (_allowed(module) or names_ok):
                found.append(Finding(line, f"import from {'.' * node.level}{module!r} is not allowed"))
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            found.append(Finding(line, f"use of {node.id!r} is not allowed"))
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("__") or node.attr in FORBIDDEN_ATTRIBUTES:
                found.append(Finding(line, f"access to attribute {node.attr!r} is not allowed"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "__" in node.value:
            # format strings and getattr-like lookups by name reach dunders through strings
            found.append(Finding(line, "a string containing '__' is not allowed (attribute lookups by name)"))
        elif isinstance(node, ast.Global | ast.Nonlocal):
            found.append(Finding(line, f"{type(node).__name__.lower()} statements are not allowed"))
    return sorted(set(found), key=lambda f: (f.line, f.reason))
