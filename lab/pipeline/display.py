"""Showing figures in notebooks so that the exported HTML works offline.

The first figure of a kernel session embeds plotly.js inline (~4.6 MB); later ones reuse it. This
does not depend on plotly's renderer configuration, which papermill/nbconvert handle inconsistently.
"""

from __future__ import annotations

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
