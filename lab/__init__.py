"""Trading Lab: a Jupyter-centric research and trading lab for crypto spot markets."""

import os as _os
import sys as _sys

# vectorbt compiles with numba; its on-disk cache must live somewhere writable and shared by the CLI,
# papermill kernels and tests, so that JIT compilation is paid once per install (`lab warmup`).
_os.environ.setdefault("NUMBA_CACHE_DIR", _os.path.join(_sys.prefix, "numba-cache"))

__version__ = "0.1.0"
