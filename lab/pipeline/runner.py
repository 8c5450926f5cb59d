"""Running a notebook headlessly: parameters checked before any kernel starts, papermill in its own
process group (so a wall-clock timeout can kill it and its kernel), an HTML report written whether
the run passed or failed, and a row in the run history."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import papermill
from nbconvert import HTMLExporter

from lab.core.config import LabConfig
from lab.core.errors import NotebookError
from lab.pipeline import headline
from lab.pipeline.history import finish_run, start_run
from lab.pipeline.index import write_index

TEMPLATES = Path(__file__).parent / "templates"
JSON_TYPES = (str, int, float, bool, list, dict, type(None))


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    notebook: str
    status: str  # succeeded, failed
    duration_s: float
    output_ipynb: Path
    output_html: Path
    error: str | None


def notebook_path(config: LabConfig, name: str) -> Path:
    path = config.notebooks_dir / (name if name.endswith(".ipynb") else f"{name}.ipynb")
    if not path.is_file():
        available = sorted(p.stem for p in config.notebooks_dir.glob("*.ipynb"))
        raise NotebookError(
            f"no notebook {name!r} in {config.notebooks_dir} (available: {', '.join(available)})"
        )
    return path


def declared_parameters(path: Path) -> dict[str, Any]:
    """The names and defaults of the notebook's `parameters` cell (papermill's own parser)."""
    return {name: info["default"] for name, info in papermill.inspect_notebook(str(path)).items()}


def check_parameters(path: Path, parameters: dict[str, Any]) -> None:
    """Refuse unknown names and non-JSON values before a kernel starts."""
    declared = declared_parameters(path)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise NotebookError(
            f"{path.name}: unknown parameter(s) {unknown}; the parameters cell declares {sorted(declared)}"
        )
    for name, value in parameters.items():
        try:
            json.dumps(value)
        except TypeError:
            raise NotebookError(
                f"{path.name}: parameter {name} = {value!r} is not a JSON value "
                f"(use strings, numbers, booleans, lists, dicts or null)"
            ) from None
        if not isinstance(value, JSON_TYPES):
            raise NotebookError(
                f"{path.name}: parameter {name} has type {type(value).__name__}; use JSON types"
            )


def export_html(ipynb: Path, html: Path) -> None:
    """HTML with code hidden; outputs (including inline plotly.js) kept, so it works offline."""
    exporter = HTMLExporter(
        extra_template_basedirs=[str(TEMPLATES)],
        template_name="offline",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(nbformat.read(ipynb, as_version=4))
    html.write_text(body, encoding="utf-8")


def _error_summary(ipynb: Path, fallback: str) -> str:
    try:
        nb = nbformat.read(ipynb, as_version=4)
    except Exception:
        return fallback
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return f"{out.get('ename')}: {out.get('evalue')}"[:2000]
    return fallback


def run_notebook(
    config: LabConfig, name: str, parameters: dict[str, Any] | None = None, trigger: str = "manual"
) -> RunOutcome:
    """Execute one notebook with papermill and export it; never raises for a failing notebook."""
    path = notebook_path(config, name)
    parameters = parameters or {}
    check_parameters(path, parameters)
    started = datetime.now(UTC)
    run_id = f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    out_dir = config.reports_dir / "runs" / f"{started:%Y-%m-%d}"
    out_dir.mkdir(parents=True, exist_ok=True)
    out_ipynb, out_html = out_dir / f"{path.stem}-{run_id}.ipynb", out_dir / f"{path.stem}-{run_id}.html"
    code_hash = hashlib.sha256(path.read_bytes()).hexdigest()
    start_run(config, run_id, path.stem, parameters, code_hash, trigger, out_ipynb, out_html)

    params_file = out_dir / f".{path.stem}-{run_id}.params.json"
    params_file.write_text(json.dumps(parameters))
    cmd = [
        sys.executable,
        "-m",
        "lab.pipeline.execute",
        str(path),
        str(out_ipynb),
        str(params_file),
        config.pipeline.kernel_name,
        str(path.parent),
        str(config.pipeline.cell_timeout),
    ]
    # The kernel must read this project's configuration, whatever its working directory; it publishes
    # its headline numbers to the summary file (lab.pipeline.headline).
    summary_file = out_dir / f".{path.stem}-{run_id}.summary.json"
    env = os.environ | {"LAB_ROOT": str(config.root), headline.ENV: str(summary_file)}
    t0 = time.perf_counter()
    error = None
    proc = subprocess.Popen(
        cmd, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        output, _ = proc.communicate(timeout=config.pipeline.wall_timeout)
        if proc.returncode != 0:
            error = _error_summary(out_ipynb, output.strip().splitlines()[-1] if output.strip() else "failed")
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # papermill and its kernel
        proc.communicate()
        error = f"wall-clock timeout after {config.pipeline.wall_timeout} s"
    finally:
        params_file.unlink(missing_ok=True)
    summary = headline.read(summary_file)
    summary_file.unlink(missing_ok=True)
    duration = time.perf_counter() - t0
    if not out_ipynb.exists():  # e.g. the kernel could not start: leave a readable report anyway
        nb = nbformat.read(path, as_version=4)
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"**Run failed before execution:** {error}"))
        nbformat.write(nb, out_ipynb)
    try:
        export_html(out_ipynb, out_html)
    except Exception as exc:  # the run's status must still be recorded
        error = error or f"HTML export failed: {exc}"
    status = "failed" if error else "succeeded"
    finish_run(config, run_id, status, duration, error, summary)
    write_index(config)
    return RunOutcome(run_id, path.stem, status, duration, out_ipynb, out_html, error)
