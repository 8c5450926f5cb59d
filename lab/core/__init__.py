"""Core: the IO contract, configuration, timeframes and errors. Imports only stdlib, pydantic, pandas."""
