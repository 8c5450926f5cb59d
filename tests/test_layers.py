"""Imports inside lab/ point downward only, as DESIGN.md lays the layers out."""

import ast
from pathlib import Path

LAB = Path(__file__).resolve().parents[1] / "lab"
ALLOWED = {
    "core": set(),
    "store": {"core"},
    "market": {"core", "store"},
    "strategy": {"core", "market", "sandbox"},
    "backtest": {"core", "store", "strategy", "market"},
    "trading": {"core", "store", "market", "strategy"},
    "pipeline": {"core", "store"},
    "sandbox": {"core"},
    "research": {"core", "store", "sandbox"},
    "dashboard": {"core", "store", "research", "pipeline"},
    "orchestrator": {
        "core",
        "store",
        "market",
        "strategy",
        "backtest",
        "trading",
        "research",
        "sandbox",
        "pipeline",
    },
}


def test_imports_point_downward():
    wrong = []
    for layer, allowed in ALLOWED.items():
        for path in (LAB / layer).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = (
                    [node.module]
                    if isinstance(node, ast.ImportFrom) and node.module
                    else ([a.name for a in node.names] if isinstance(node, ast.Import) else [])
                )
                for name in names:
                    parts = name.split(".")
                    if parts[0] == "lab" and len(parts) > 1 and parts[1] not in (layer, *allowed):
                        wrong.append(f"{path.relative_to(LAB.parent)} imports {name}")
    assert wrong == []
