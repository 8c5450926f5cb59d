"""The lab's exceptions. Each names what is wrong so a person can fix it."""

from __future__ import annotations


class LabError(Exception):
    """Base class: an error the lab reports to the user without a stack trace."""


class ConfigError(LabError):
    """A configuration value is missing, unknown or out of range."""


class DataValidationError(LabError):
    """Candles failed validation; nothing was stored."""

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class DataNotFoundError(LabError):
    """No stored candles match the request."""


class StrategyError(LabError):
    """A strategy file cannot be loaded or produced invalid output."""


class NotebookError(LabError):
    """A notebook run was refused or failed."""
