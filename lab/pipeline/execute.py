"""Child process of the runner: `python -m lab.pipeline.execute IN OUT PARAMS.json KERNEL CWD CELL_TIMEOUT`.
Runs papermill; exit status 1 when the notebook failed (its output notebook is still written)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import papermill


def main(argv: list[str]) -> int:
    src, dst, params_file, kernel, cwd, cell_timeout = argv
    parameters = json.loads(Path(params_file).read_text())
    try:
        papermill.execute_notebook(
            src,
            dst,
            parameters=parameters,
            kernel_name=kernel,
            cwd=cwd,
            execution_timeout=int(cell_timeout),
            progress_bar=False,
            request_save_on_cell_execute=True,
        )
    except papermill.PapermillExecutionError as exc:
        print(f"{exc.ename}: {exc.evalue}", file=sys.stderr)
        return 1
    except Exception as exc:  # kernel died, timeout, missing kernel: still a failed run, not a crash
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
