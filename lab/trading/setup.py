"""Building engines: replay (paper broker over stored candles) and live (ccxt feed and broker)."""

from __future__ import annotations

from typing import Any

from lab.backtest.run import load_candles, prepare_candles, strategy_signals
from lab.core.clock import Clock
from lab.core.config import LabConfig
from lab.strategy.loader import load_strategy
from lab.trading.brokers import PaperBroker
from lab.trading.engine import Engine
from lab.trading.feeds import ReplayFeed
from lab.trading.signals import PrecomputedSignals, RollingSignals


def replay_engine(
    config: LabConfig,
    strategy: str,
    symbols: list[str],
    *,
    exchange: str,
    start: Any = None,
    end: Any = None,
    params: dict[str, Any] | None = None,
    signal_mode: str = "precomputed",
    pace: float = 0.0,
    clock: Clock | None = None,
    check_staleness: bool = False,
) -> Engine:
    """The paper engine over stored candles, bar by bar, with the backtester's fill model."""
    loaded = load_strategy(strategy, config.strategies_dir)
    chosen = loaded.create(params).params
    candles = prepare_candles(
        load_candles(config, exchange, symbols, loaded.cls.timeframe, start, end), loaded.cls.timeframe
    )
    if signal_mode == "precomputed":
        signals: Any = PrecomputedSignals(strategy_signals(loaded, chosen, candles))
    elif signal_mode == "rolling":
        signals = RollingSignals(loaded.cls(chosen), symbols, config.engine.window_bars, loaded.path.name)
    else:
        raise ValueError(f"signal_mode must be 'precomputed' or 'rolling', got {signal_mode!r}")
    broker = PaperBroker({s: config.fees.for_pair(s).taker for s in symbols}, config.fees.slippage)
    feed = ReplayFeed(candles, pace=pace, clock=clock)
    return Engine(config, loaded, chosen, feed, broker, signals, clock=clock, check_staleness=check_staleness)
