"""The decision step for one bar: the execution model of lab.backtest.simulate, as plain Python.

This is the one place the live engine reproduces what vectorbt does in the backtest (stops on the
bar's range from the bar after entry, signal orders at the open, symbols in a fixed order, a
max-open-positions count that includes decisions already taken this bar). Parity tests compare the
two trade by trade.
"""

from __future__ import annotations

from collections.abc import Callable

from lab.trading.types import Bar, Decisions, Intent, OpenPosition, Pending

# Risk hook: (symbol, proposed cash fraction) -> (allowed fraction or None to refuse, rule, detail)
EntryCheck = Callable[[str, float], tuple[float | None, str, str]]
# Sizing hook: symbol -> (cash fraction, or None to skip the entry; why it was skipped)
EntrySize = Callable[[str], tuple[float | None, str]]


def stop_exit(position: OpenPosition, bar: Bar) -> tuple[float, str] | None:
    """The stop price hit on this bar (the open when it gapped through), and which stop, or None.
    Also moves a trailing stop's peak up to the bar's high, after the check (as vectorbt does)."""
    hit: tuple[float, str] | None = None
    if position.stop_loss is not None:
        level = position.peak * (1 - position.stop_loss)
        if bar.open <= level:
            hit = (bar.open, "trailing_stop" if position.trailing else "stop_loss")
        elif bar.low <= level <= bar.high:
            hit = (level, "trailing_stop" if position.trailing else "stop_loss")
    if hit is None and position.take_profit is not None:
        level = position.entry_price * (1 + position.take_profit)
        if level <= bar.open:
            hit = (bar.open, "take_profit")
        elif bar.low <= level <= bar.high:
            hit = (level, "take_profit")
    if position.trailing and bar.high > position.peak:
        position.peak = bar.high
    return hit


def decide(
    symbols: list[str],
    bars: dict[str, Bar | None],
    positions: dict[str, OpenPosition],
    pending: dict[str, Pending],
    max_open: int,
    size_entry: EntrySize,
    entry_check: EntryCheck,
) -> Decisions:
    """Orders for this bar, in symbol order. An entry the sizer skips never takes a slot (the backtest
    drops it from the signals before simulating)."""
    out = Decisions()
    held = {s: s in positions for s in symbols}
    for symbol in symbols:
        bar = bars.get(symbol)
        if bar is None:
            continue
        sig = pending.get(symbol, Pending())
        position = positions.get(symbol)
        if position is not None:
            hit = stop_exit(position, bar)
            if hit is not None:
                out.intents.append(Intent(symbol, "sell", hit[1], hit[0], size=position.size))
                held[symbol] = False
            elif sig.exit:
                out.intents.append(Intent(symbol, "sell", "signal", bar.open, size=position.size))
                held[symbol] = False
        elif sig.entry:
            fraction, why = size_entry(symbol)
            if fraction is None:
                out.rejections.append((symbol, "sizing_skip", why))
                continue
            if sum(held.values()) >= max_open:
                out.rejections.append((symbol, "max_open_positions", f"{max_open} position(s) already held"))
                continue
            allowed, rule, detail = entry_check(symbol, fraction)
            if allowed is None:
                out.rejections.append((symbol, rule, detail))
                continue
            if rule:
                out.rejections.append((symbol, rule, detail))  # clamped, not refused
            out.intents.append(
                Intent(
                    symbol,
                    "buy",
                    "entry",
                    bar.open,
                    cash_fraction=allowed,
                    stop_loss=sig.stop_loss,
                    take_profit=sig.take_profit,
                    trailing=sig.trailing,
                )
            )
            held[symbol] = True
    return out
