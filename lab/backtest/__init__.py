"""Backtest: the vectorbt runner, metrics, sweeps, walk-forward and experiment records."""
