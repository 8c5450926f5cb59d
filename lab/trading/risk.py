"""Risk manager: limits on entries (exits are never blocked). Every refusal or clamp is recorded."""

from __future__ import annotations

from lab.core.config import RiskConfig
from lab.trading.ledger import RuntimeState


class RiskManager:
    def __init__(self, config: RiskConfig) -> None:
        self.config = config

    def update_after_close(self, state: RuntimeState, equity: float, day: str) -> list[tuple[str, str]]:
        """Track peak equity and the day's start; trip the drawdown kill switch. Returns (rule, detail) events."""
        events = []
        if state.day != day:
            state.day, state.day_start_equity = day, equity
        state.peak_equity = max(state.peak_equity, equity)
        dd = 1 - equity / state.peak_equity if state.peak_equity > 0 else 0.0  # a book with no capital yet
        if self.config.max_drawdown and dd >= self.config.max_drawdown and not state.paused:
            state.paused, state.pause_reason = (
                True,
                f"max drawdown kill switch: {dd:.1%} below peak {state.peak_equity:,.2f}",
            )
            events.append(("max_drawdown", state.pause_reason))
        return events

    def record_trade(self, state: RuntimeState, pnl: float) -> list[tuple[str, str]]:
        state.consecutive_losses = state.consecutive_losses + 1 if pnl < 0 else 0
        limit = self.config.max_consecutive_losses
        if limit and state.consecutive_losses >= limit and not state.paused:
            state.paused = True
            state.pause_reason = f"{state.consecutive_losses} consecutive losing trades (limit {limit}); `lab resume` to continue"
            return [("consecutive_losses", state.pause_reason)]
        return []

    def check_entry(
        self, state: RuntimeState, equity: float, fraction: float
    ) -> tuple[float | None, str, str]:
        """(allowed cash fraction or None to refuse, rule, detail); rule is empty when nothing applied."""
        if state.stopped:
            return None, "stopped", "the engine is stopping"
        if state.paused:
            return None, "paused", state.pause_reason or "paused by the operator"
        limit = self.config.daily_loss_limit
        if limit and equity <= state.day_start_equity * (1 - limit):
            loss = 1 - equity / state.day_start_equity
            return (
                None,
                "daily_loss_limit",
                f"down {loss:.1%} today (limit {limit:.0%}); entries resume tomorrow (UTC)",
            )
        cap = self.config.max_position_fraction * equity
        spend = fraction * state.cash
        if spend > cap > 0:
            return cap / state.cash, "position_size_clamped", f"entry of {spend:,.2f} clamped to {cap:,.2f}"
        return fraction, "", ""
