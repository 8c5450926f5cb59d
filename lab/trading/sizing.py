"""Position sizing behind a small interface; Kelly sizing arrives with the shadows issue."""

from __future__ import annotations

from typing import Protocol


class Sizer(Protocol):
    def fraction(self) -> float:
        """Share of free cash an entry spends (fees included)."""
        ...


class FixedFraction:
    def __init__(self, fraction: float) -> None:
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        self._fraction = fraction

    def fraction(self) -> float:
        return self._fraction
