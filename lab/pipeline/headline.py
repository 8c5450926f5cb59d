"""A notebook run's headline: the few numbers the report index shows and compares (and, for
backtests, thinned equity curves), published by the notebook and stored with its run.

The runner tells the kernel where to write through LAB_NOTEBOOK_SUMMARY; run interactively (no
runner), publish() does nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from lab.core.analysis import json_safe

ENV = "LAB_NOTEBOOK_SUMMARY"


def curve_json(series: pd.Series) -> dict[str, list]:
    return {
        "t": [t.strftime("%Y-%m-%d %H:%M") for t in series.index],
        "v": [float(v) for v in series.to_numpy()],
    }


def publish(headline: dict[str, Any], curves: dict[str, pd.Series] | None = None) -> None:
    """Hand the runner this run's headline (JSON-safe; NaN becomes null) and curves."""
    path = os.environ.get(ENV)
    if not path:
        return
    data = {"headline": json_safe(headline), "curves": {k: curve_json(v) for k, v in (curves or {}).items()}}
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def read(path: Path) -> dict[str, Any] | None:
    """What the notebook published, or None (it published nothing, or it is not JSON)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
