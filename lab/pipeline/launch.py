"""Starting a notebook run in a process of its own (the caller never waits for it): what the
dashboard's "Run now" and the engine's `run_notebook` command use, so a run starts whether or not an
engine is running."""

from __future__ import annotations

import subprocess
import sys

from lab.core.config import LabConfig
from lab.core.errors import NotebookError


def start_notebook(config: LabConfig, name: str) -> str:
    """Start `lab notebook run NAME` detached; returns what was done. Raises NotebookError for an
    unknown notebook."""
    if not name or not (config.notebooks_dir / f"{name}.ipynb").is_file():
        available = ", ".join(sorted(p.stem for p in config.notebooks_dir.glob("*.ipynb")))
        raise NotebookError(
            f"cannot run notebook {name!r}: not in {config.notebooks_dir} (available: {available})"
        )
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab.cli.main", "notebook", "run", name],
        cwd=config.root,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return f"notebook {name} started (pid {proc.pid}); its report appears in reports/index.html"
