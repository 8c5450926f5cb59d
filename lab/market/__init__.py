"""Market data: fetch, import, validate, resample, synthetic samples and the `load` API."""

from lab.market.repository import list_series, load

__all__ = ["list_series", "load"]
