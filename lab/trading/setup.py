"""Building engines: replay (paper broker over stored candles) and live (ccxt feed and broker)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import select

from lab.core.clock import Clock
from lab.core.config import LabConfig
from lab.core.errors import LabError
from lab.market.grid import prepare_candles
from lab.market.repository import load_many
from lab.strategy.checks import require_no_lookahead
from lab.strategy.compute import strategy_signals
from lab.strategy.loader import load_configured
from lab.strategy.regime import regimes_for
from lab.trading.brokers import PaperBroker
from lab.trading.engine import BookSpec, Engine
from lab.trading.feeds import ReplayFeed
from lab.trading.signals import PrecomputedSignals, RollingSignals


@dataclass(frozen=True)
class ExtraBook:
    """Another book on the same bars: its key (e.g. "shadow:ultra"), strategy, parameters and mode."""

    key: str
    strategy: str
    params: dict[str, Any] | None = None
    mode: str = "shadow"  # shadow books trade virtually, never through a broker that reaches an exchange
    capital_share: float = 1.0
    sizing: str | None = None  # "fixed" or "kelly": this book's sizing method (None: [sizing])


def _signals_for(
    config: LabConfig,
    loaded: Any,
    chosen: Any,
    candles: dict[str, pd.DataFrame],
    symbols: list[str],
    signal_mode: str,
) -> Any:
    if signal_mode == "precomputed":
        return PrecomputedSignals(
            strategy_signals(loaded, chosen, candles),
            regimes_for(candles),
            recompute=lambda: strategy_signals(loaded, chosen, candles),
            strategy=loaded.cls(chosen),
        )
    if signal_mode == "rolling":
        first = next(iter(candles))
        require_no_lookahead(
            loaded.cls(chosen), loaded.code_hash, candles[first], f"{loaded.path.name} on {first}"
        )
        return RollingSignals(
            loaded.cls(chosen),
            symbols,
            config.engine.window_bars,
            loaded.path.name,
            history_until=lambda s, t, n: candles[s].loc[:t].tail(n),
        )
    raise ValueError(f"signal_mode must be 'precomputed' or 'rolling', got {signal_mode!r}")


def _own_sizing(config: LabConfig, method: str | None) -> Any:
    """A book's own [sizing] with another method (a shadow's "kelly"), or None: the config's."""
    return config.sizing.model_copy(update={"method": method}) if method else None


def _rollout_books(config: LabConfig, loaded: Any, signals_for: Any, broker: Any) -> list[BookSpec]:
    """The book a running rollout's candidate trades real capital in, through the engine's own broker
    (paper, or the exchange's with --live); it starts with no capital (the rollout moves it there).
    `signals_for(loaded, params)`: the book's signals as the engine computes them (precomputed, rolling)."""
    from sqlalchemy import select

    from lab.store.db import session_scope
    from lab.store.models import Rollout
    from lab.trading.rollout_engine import running_rollout

    with session_scope(config) as s:
        row = running_rollout(s)
        if row is None:  # a completed rollout's book holds the capital until it becomes the primary one
            row = s.scalars(select(Rollout).order_by(Rollout.id.desc())).first()
            if row is None or row.status != "completed" or (row.state or {}).get("primary"):
                return []
        book, state = row.book, dict(row.state)
    other = load_configured(config, state["strategy"])
    if other.cls.timeframe != loaded.cls.timeframe:
        raise LabError(
            f"rollout {book}: {other.path.name} runs on {other.cls.timeframe}, the engine on {loaded.cls.timeframe}"
        )
    their = other.create(state.get("params")).params
    sizing = state.get("sizing")
    return [
        BookSpec(
            book,
            broker.mode,
            other,
            their,
            broker,
            signals_for(other, their),
            capital_share=0.0,
            sizing=_own_sizing(config, sizing),
        )
    ]


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
    start_notebook: Any = None,
    books: list[ExtraBook] | None = None,
    shadows: bool = False,
) -> Engine:
    """The paper engine over stored candles, bar by bar, with the backtester's fill model.
    `start_notebook(name) -> message`: how the engine's run_notebook command starts a run; `books`:
    more books traded on the same bars, each with its own strategy and virtual paper broker; with
    `shadows`, every active shadow of the registry (lab.trading.shadows) as well."""
    if shadows:
        from lab.trading.shadows import active_shadow_books

        books = [*(books or []), *active_shadow_books(config)]
    loaded = load_configured(config, strategy)
    chosen = loaded.create(params).params
    candles = prepare_candles(
        load_many(config, exchange, symbols, loaded.cls.timeframe, start, end), loaded.cls.timeframe
    )
    fees = {s: config.fees.for_pair(s).taker for s in symbols}
    signals = _signals_for(config, loaded, chosen, candles, symbols, signal_mode)
    specs = []
    for extra in books or []:
        try:
            other = load_configured(config, extra.strategy)
            if other.cls.timeframe != loaded.cls.timeframe:
                raise LabError(
                    f"book {extra.key}: {other.path.name} runs on {other.cls.timeframe}, the engine on {loaded.cls.timeframe}"
                )
            their = other.create(extra.params).params
            book_signals = _signals_for(config, other, their, candles, symbols, signal_mode)
        except LabError as exc:
            if extra.mode != "shadow":
                raise
            _disable_shadow(config, extra.key, f"failed to start: {exc}")  # never stops the active book
            continue
        specs.append(
            BookSpec(
                extra.key,
                extra.mode,
                other,
                their,
                PaperBroker(fees, config.fees.slippage),
                book_signals,
                capital_share=extra.capital_share,
                sizing=_own_sizing(config, extra.sizing),
            )
        )
    broker = PaperBroker(fees, config.fees.slippage)
    specs += _rollout_books(
        config,
        loaded,
        lambda other, their: _signals_for(config, other, their, candles, symbols, signal_mode),
        broker,
    )
    feed = ReplayFeed(candles, pace=pace, clock=clock)
    return Engine(
        config,
        loaded,
        chosen,
        feed,
        broker,
        signals,
        clock=clock,
        check_staleness=check_staleness,
        start_notebook=start_notebook,
        books=specs,
    )


def _disable_shadow(config: LabConfig, key: str, reason: str) -> None:
    from lab.store.db import session_scope
    from lab.store.models import Book

    with session_scope(config) as s:
        book = s.scalar(select(Book).where(Book.key == key))
        if book is not None:
            book.status, book.error = "disabled", reason[:2000]


def live_engine(
    config: LabConfig,
    strategy: str,
    symbols: list[str],
    *,
    live: bool = False,
    clock: Clock | None = None,
    exchange: Any = None,
    start_notebook: Any = None,
    shadows: bool = False,
    params: dict[str, Any] | None = None,
) -> Engine:
    """The engine on live ccxt data: paper orders by default; real orders only with --live, keys in the
    environment and live.confirm = true. With `shadows`, every active shadow trades a virtual book on
    the same closed bars (never through the exchange)."""
    import os

    from lab.market.fetch import make_exchange
    from lab.market.repository import load
    from lab.trading.brokers import CcxtBroker
    from lab.trading.feeds import CcxtFeed
    from lab.trading.health import CircuitBreaker, FaultInjector

    if live:
        missing = [k for k in ("LAB_EXCHANGE_API_KEY", "LAB_EXCHANGE_API_SECRET") if not os.environ.get(k)]
        if missing:
            raise LabError(f"--live needs {' and '.join(missing)} in the environment (never in lab.toml)")
        if not config.live.confirm:
            raise LabError("--live refused: set live.confirm = true in lab.toml to allow real orders")
    from lab.trading.deployment import promote_completed_rollout

    promote_completed_rollout(config)
    loaded = load_configured(config, strategy)
    chosen = loaded.create(params).params
    exchange = exchange or make_exchange(config.market.exchange)
    if live:
        exchange.apiKey, exchange.secret = (
            os.environ["LAB_EXCHANGE_API_KEY"],
            os.environ["LAB_EXCHANGE_API_SECRET"],
        )
    faults = FaultInjector(config.faults)
    feed_breaker = CircuitBreaker(
        config, f"{exchange.id}-feed", config.engine.breaker_failures, config.engine.breaker_recovery_s
    )
    feed_call = _exchange_call(config, feed_breaker, faults.wrap("feed", lambda fn: fn()))
    history = {}
    for s in symbols:  # warm the indicators from stored candles when there are any
        with contextlib.suppress(LabError):
            history[s] = load(exchange.id, s, loaded.cls.timeframe, config=config).tail(
                config.engine.window_bars
            )
    for s, frame in history.items():  # the look-ahead gate, on stored history where there is some
        require_no_lookahead(loaded.cls(chosen), loaded.code_hash, frame, f"{loaded.path.name} on {s}")
        break
    panel = getattr(loaded.cls, "panel", None)
    if panel is not None:  # the order-book and funding-rate agents get the live feed's inputs
        from lab.market.live_inputs import CcxtLiveInputs

        panel.live_inputs = CcxtLiveInputs(exchange, feed_call)
    signals = RollingSignals(
        loaded.cls(chosen),
        symbols,
        config.engine.window_bars,
        loaded.path.name,
        history,
        history_until=lambda s, t, n: _stored_until(config, exchange.id, s, loaded.cls.timeframe, t, n),
    )
    feed = CcxtFeed(
        exchange,
        symbols,
        loaded.cls.timeframe,
        config.engine.poll_seconds,
        config.engine.stale_after_bars,
        feed_call,
        clock=clock,
        page_limit=config.market.page_limit,
    )
    fees = {s: config.fees.for_pair(s).taker for s in symbols}
    specs = []
    if shadows:
        from lab.trading.shadows import active_shadow_books

        for extra in active_shadow_books(config):
            try:
                other = load_configured(config, extra.strategy)
                their = other.create(extra.params).params
                if other.cls.timeframe != loaded.cls.timeframe:
                    raise LabError(
                        f"shadow {extra.key}: {other.path.name} runs on {other.cls.timeframe}, the engine on {loaded.cls.timeframe}"
                    )
                for s, frame in history.items():
                    require_no_lookahead(
                        other.cls(their), other.code_hash, frame, f"{other.path.name} on {s}"
                    )
                    break
            except LabError as exc:
                _disable_shadow(config, extra.key, f"failed to start: {exc}")  # never stops the active book
                continue
            specs.append(
                BookSpec(
                    extra.key,
                    "shadow",
                    other,
                    their,
                    PaperBroker(fees, config.fees.slippage),
                    RollingSignals(
                        other.cls(their),
                        symbols,
                        config.engine.window_bars,
                        other.path.name,
                        history,
                        history_until=lambda s, t, n: _stored_until(
                            config, exchange.id, s, loaded.cls.timeframe, t, n
                        ),
                    ),
                    capital_share=extra.capital_share,
                    sizing=_own_sizing(config, extra.sizing),
                )
            )
    if live:
        broker: Any = CcxtBroker(exchange, fees, _exchange_call(config, None, lambda fn: fn()))
    else:
        broker = PaperBroker(fees, config.fees.slippage)

    def rolling(other: Any, their: Any) -> RollingSignals:
        return RollingSignals(
            other.cls(their),
            symbols,
            config.engine.window_bars,
            other.path.name,
            history,
            history_until=lambda s, t, n: _stored_until(config, exchange.id, s, loaded.cls.timeframe, t, n),
        )

    specs += _rollout_books(config, loaded, rolling, broker)
    return Engine(
        config,
        loaded,
        chosen,
        feed,
        broker,
        signals,
        clock=clock,
        check_staleness=True,
        faults=faults,
        start_notebook=start_notebook,
        books=specs,
    )


def _stored_until(
    config: LabConfig, exchange: str, symbol: str, timeframe: str, t: Any, n: int
) -> pd.DataFrame:
    """The last n stored candles up to and including t (none stored: an empty frame)."""
    from lab.market.repository import load

    try:
        return load(
            exchange, symbol, timeframe, end=pd.Timestamp(t) + pd.Timedelta(seconds=1), config=config
        ).tail(n)
    except LabError:
        return pd.DataFrame(columns=["open", "high", "low", "close", "volume"])


def _exchange_call(config: LabConfig, breaker: Any, inject: Any) -> Any:
    """Exchange calls: ccxt network errors become TransientError, retried with backoff, behind a breaker."""
    import ccxt
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

    from lab.trading.health import TransientError

    def once(fn: Any) -> Any:
        try:
            return inject(fn)
        except ccxt.NetworkError as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc

    def call(fn: Any) -> Any:
        retry = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(config.engine.max_retries + 1),
            wait=wait_exponential(multiplier=0.5, max=30),
            reraise=True,
        )
        return retry(lambda: breaker.call(lambda: once(fn)) if breaker else once(fn))

    return call
