"""Showing figures in notebooks so that the exported HTML works offline.

The first figure of a kernel session embeds plotly.js inline (~4.6 MB); later ones reuse it. This
does not depend on plotly's renderer configuration, which papermill/nbconvert handle inconsistently.
"""

from __future__ import annotations

import html
from typing import Any

_state = {"plotly_embedded": False}


def show(fig: Any) -> None:
    """Display a plotly figure as self-contained HTML."""
    from IPython.display import HTML, display

    html = fig.to_html(full_html=False, include_plotlyjs=not _state["plotly_embedded"], default_width="100%")
    _state["plotly_embedded"] = True
    display(HTML(html))


def table(frame: Any, floatfmt: str = "{:,.4f}") -> None:
    """Display a DataFrame as a plain HTML table (readable in the exported report)."""
    from IPython.display import HTML, display

    display(HTML(frame.to_html(index=False, float_format=floatfmt.format, border=0, classes="lab-table")))


def verdict(text: str) -> None:
    """The report's verdict: one highlighted paragraph at the top."""
    from IPython.display import HTML, display

    display(
        HTML(
            "<div class='lab-verdict' style='border-left:4px solid #1f77b4;background:#f3f7fb;"
            f"padding:.6rem 1rem;margin:.5rem 0 1rem;font-size:1.02rem;line-height:1.45'>{html.escape(text)}</div>"
        )
    )


def _show_lab_errors_plainly() -> None:
    """In a notebook kernel, a LabError (bad parameters, a refused strategy, missing data) shows as its
    one-line message, as the CLI and the dashboard show it, instead of a traceback. Other errors keep
    their traceback: those are bugs to see."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or getattr(shell, "_lab_errors_plain", False):
        return
    from lab.core.errors import LabError

    def handler(
        self: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None
    ) -> list[str]:
        stb = [f"{etype.__name__}: {value}"]
        self._showtraceback(etype, value, stb)
        return stb

    shell.set_custom_exc((LabError,), handler)
    shell._lab_errors_plain = True


_show_lab_errors_plainly()
