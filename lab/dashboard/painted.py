"""A widget through which a page tells its kernel that it has painted.

Voila reveals a dashboard only when every widget in it has rendered, and plotly.js alone takes ~0.6 s
of a 2-core machine's main thread to evaluate, ~0.3 s more to draw a week of equity. A chart that is
part of the first render therefore holds back the whole page (~2.9 s instead of ~1.6 s here). The
status app draws its chart only once this widget reports that the page has painted: the page shows
at once and the chart follows. anywidget carries the few lines of front-end code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget

# Voila keeps the page in a display:none container until every widget has rendered, so "painted" is:
# laid out (it has client rects), then one more frame drawn; only then is the kernel told.
ESM = """
export default {
  render({ model, el }) {
    const check = () => {
      if (!el.isConnected || el.getClientRects().length === 0) return requestAnimationFrame(check);
      requestAnimationFrame(() => setTimeout(() => model.send({ event: "painted" }), 0));
    };
    requestAnimationFrame(check);
  },
};
"""


class PagePainted(anywidget.AnyWidget):
    """An invisible widget that calls `on_painted` each time a page showing it has painted."""

    _esm = ESM

    def __init__(self, on_painted: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_painted = on_painted
        self.on_msg(self._received)

    def _received(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("event") == "painted":
            self.on_painted()
