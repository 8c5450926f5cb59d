"""`lab dashboard`: the Voila app on 127.0.0.1, behind a token."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sys
from pathlib import Path

import typer

from lab.cli.common import config, console, reports_errors
from lab.core.config import LabConfig
from lab.core.errors import LabError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(port: int, timeout: float = 60.0) -> bool:
    """True once something answers HTTP on 127.0.0.1:port (Voila takes a few seconds to start)."""
    import http.client
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/")
            conn.getresponse()
            return True
        except OSError:
            time.sleep(0.3)
    return False


def voila_command(cfg: LabConfig, port: int, token: str, notebook: str = "status") -> list[str]:
    """The Voila command line: localhost only, token required, idle kernels culled, cells time-limited,
    tracebacks never sent to the browser."""
    path = cfg.notebooks_dir / "dashboards" / f"{notebook}.ipynb"
    if not path.is_file():
        raise LabError(f"no dashboard {notebook!r} ({path} does not exist)")
    voila = shutil.which("voila", path=str(Path(sys.executable).parent)) or "voila"
    return [
        voila,
        str(path),
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        f"--token={token}",
        "--show_tracebacks=False",
        "--VoilaExecutor.timeout=60",
        "--MappingKernelManager.cull_idle_timeout=900",
        "--MappingKernelManager.cull_interval=60",
        "--Voila.port_retries=0",
        # A kernel runs the dashboard before anyone asks, so a page renders without waiting for imports.
        "--preheat_kernel=True",
        # The next kernel starts (imports, runs the notebook: seconds of CPU) 5 s after a page took one,
        # not 1 s, so it does not compete with that page's first render on a 2-core machine.
        "--VoilaKernelManager.fill_delay=5",
        # Extensions a dashboard page never uses, each a few more scripts to load before it renders.
        "--VoilaConfiguration.extension_denylist=jupyterlab-jupytext",
        "--VoilaConfiguration.extension_denylist=@voila-dashboards/jupyterlab-preview",
    ]


@reports_errors
def dashboard_cmd(
    port: int = typer.Option(8866, help="Port on 127.0.0.1 (0: any free port)"),
    notebook: str = typer.Option("status", help="Dashboard in notebooks/dashboards/"),
) -> None:
    """Serve the status dashboard with Voila (token from LAB_DASHBOARD_TOKEN, else generated)."""
    cfg = config()
    token = os.environ.get("LAB_DASHBOARD_TOKEN") or secrets.token_urlsafe(24)
    port = port or free_port()
    cmd = voila_command(cfg, port, token, notebook)
    shown = (
        "(from LAB_DASHBOARD_TOKEN)" if os.environ.get("LAB_DASHBOARD_TOKEN") else "(generated for this run)"
    )
    console.print(f"dashboard: http://127.0.0.1:{port}/?token={token} {shown}")
    os.execve(cmd[0], cmd, os.environ | {"LAB_ROOT": str(cfg.root)})
