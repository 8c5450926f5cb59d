"""`lab run`, `lab status`, `lab pause`, `lab resume`, `lab stop`, `lab errors`: the engine and its
operator commands (written to the DB command queue, the same path the dashboard uses)."""

from __future__ import annotations

import functools
import time

import pandas as pd
import typer
from sqlalchemy import func, select

from lab.cli.common import config, console, one_of, print_frame, reports_errors, utc_time
from lab.core.errors import LabError


@reports_errors
def run_cmd(
    strategy: str = typer.Option(
        None, help="Strategy name or file (default: the one in strategies/active/, as deployed)"
    ),
    replay: bool = typer.Option(False, "--replay", help="Replay stored candles through the paper engine"),
    symbols: list[str] = typer.Option(None, "--symbols", "-s"),
    exchange: str = typer.Option("synthetic", help="Exchange the replayed candles are stored under"),
    start: str = typer.Option(None, callback=utc_time),
    end: str = typer.Option(None, callback=utc_time),
    signals: str = typer.Option(
        "precomputed",
        help="precomputed (fast replay) or rolling (as live)",
        callback=one_of("precomputed", "rolling"),
    ),
    pace: float = typer.Option(
        0.0, min=0, max=3600, help="Seconds between replayed bars (0: as fast as possible)"
    ),
    live: bool = typer.Option(False, "--live", help="Send real orders (needs keys and live.confirm = true)"),
    shadows: bool = typer.Option(
        True, help="Trade every active shadow (lab shadows list) in virtual books beside it"
    ),
) -> None:
    """Run the trading engine (paper by default)."""
    from lab.trading.setup import live_engine, replay_engine

    cfg = config()
    symbols = symbols or list(cfg.sample.symbols if replay else cfg.market.symbols)
    if live and replay:
        raise LabError("--live and --replay exclude each other: a replay never sends real orders")
    from lab.trading.deployment import active_strategy, promote_completed_rollout

    promoted = promote_completed_rollout(cfg)  # a completed rollout's candidate is primary from now on
    if promoted:
        console.print(promoted, highlight=False)
    params = None
    if strategy is None:
        active = active_strategy(cfg)
        strategy, params = str(active.path), active.params or None
        if active.sizing and active.sizing != cfg.sizing.method:
            cfg = cfg.model_copy(update={"sizing": cfg.sizing.model_copy(update={"method": active.sizing})})
    from lab.pipeline.launch import start_notebook

    launcher = functools.partial(start_notebook, cfg)
    if replay:
        engine = replay_engine(
            cfg,
            strategy,
            symbols,
            exchange=exchange,
            start=start,
            end=end,
            params=params,
            signal_mode=signals,
            pace=pace,
            start_notebook=launcher,
            shadows=shadows,
        )
    else:
        engine = live_engine(
            cfg, strategy, symbols, live=live, start_notebook=launcher, shadows=shadows, params=params
        )
    console.print(
        f"engine ({engine.mode}) started: {engine.loaded.name} on {', '.join(symbols)}; "
        f"`lab status`, `lab pause --reason ...`, `lab stop` from another shell"
    )
    summary = engine.run()
    console.print(
        f"engine stopped ({summary.stopped_by}): {summary.steps} bars, {summary.fills} fills, "
        f"{summary.rejected_orders} rejected, {summary.bad_bars} bad bars, {summary.stale_steps} stale"
    )


# What a queued command does when the next engine starts (it runs the queue before its first bar).
WHEN_STARTED = {
    "pause": "the next engine to start will begin paused",
    "resume": "the next engine to start will clear a saved pause",
    "stop": "the next engine to start would stop at once",
}


def _send(command: str, wait: float, **args: object) -> None:
    from lab.dashboard.queries import engine_running
    from lab.store import commands

    cfg = config()
    if not engine_running(cfg, "paper") and not engine_running(cfg, "live"):
        if command == "stop":
            console.print("no engine is running: nothing to stop (nothing was queued)")
            return
        cid = commands.enqueue(cfg, command, **args)
        console.print(
            f"no engine is running: {command} queued (#{cid}); {WHEN_STARTED.get(command, 'it runs when one starts')}"
        )
        return
    cid = commands.enqueue(cfg, command, **args)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        row = commands.outcome(cfg, cid)
        if row and row.status != "pending":
            colour = "green" if row.status == "done" else "red"
            console.print(f"[{colour}]{command}: {row.status}[/] {row.result}")
            if row.status != "done":
                raise typer.Exit(1)
            return
        time.sleep(0.2)
    console.print(f"{command}: queued (#{cid}); the running engine executes it on its next bar")


@reports_errors
def pause_cmd(
    reason: str = typer.Option(..., "--reason", help="Why (shown in status and the dashboard)"),
    wait: float = typer.Option(5.0, help="Seconds to wait for the engine's answer"),
) -> None:
    """Pause new entries (exits and stops still run)."""
    _send("pause", wait, reason=reason)


@reports_errors
def resume_cmd(wait: float = typer.Option(5.0)) -> None:
    """Resume entries (also clears a consecutive-loss or drawdown pause)."""
    _send("resume", wait)


@reports_errors
def stop_cmd(wait: float = typer.Option(5.0)) -> None:
    """Stop the engine after the current bar."""
    _send("stop", wait)


@reports_errors
def status_cmd(mode: str = typer.Option("paper")) -> None:
    """Engine state from the DB: running or not, last bar, equity, positions, breakers, health."""
    from lab.dashboard.queries import engine_running
    from lab.store.db import session_scope
    from lab.store.models import CircuitBreakerState, EngineState, HealthRecord, Position
    from lab.trading.ledger import load_state

    cfg = config()
    running = engine_running(cfg, mode)
    with session_scope(cfg) as s:
        if (
            s.scalar(select(func.count()).select_from(EngineState).where(EngineState.mode.like(f"{mode}%")))
            == 0
        ):
            console.print(f"no {mode} engine has run yet: `lab run --replay` (paper) to start one")
            return
        state, problems = load_state(s, mode, cfg.trading_capital.initial_cash)
        for problem in problems:
            console.print(f"[yellow]note:[/] {problem}")
        positions = pd.DataFrame(
            [
                {"symbol": p.symbol, "size": p.size, "entry": p.entry_price, "since": p.entry_time}
                for p in s.scalars(select(Position).where(Position.mode == mode))
            ]
        )
        breakers = [(b.name, b.state, b.failures) for b in s.scalars(select(CircuitBreakerState))]
        latest = s.scalars(select(HealthRecord).order_by(HealthRecord.id.desc()).limit(6)).all()
    from lab.core.locks import engine_status

    status = engine_status(running, state.paused)
    console.print(
        f"{mode} engine: [bold]{status}[/]"
        + (f" ({state.pause_reason})" if state.paused else "")
        + f"; last bar {state.last_bar}; cash {state.cash:,.2f}; peak equity {state.peak_equity:,.2f}"
    )
    if not positions.empty:
        print_frame(positions, title="open positions")
    if breakers:
        console.print("circuit breakers: " + ", ".join(f"{n} {st} ({f} failures)" for n, st, f in breakers))
    if latest:
        console.print("health: " + ", ".join(f"{h.component} {h.status}" for h in reversed(latest)))


@reports_errors
def errors_cmd(limit: int = typer.Option(20, min=1, max=10_000)) -> None:
    """Recent engine errors (feed, broker, strategy, commands, DB)."""
    from lab.store.db import session_scope
    from lab.store.models import EngineError

    with session_scope(config()) as s:
        rows = s.scalars(select(EngineError).order_by(EngineError.id.desc()).limit(limit)).all()
        frame = pd.DataFrame(
            [{"time": r.created_at, "component": r.component, "message": r.message} for r in rows]
        )
    if frame.empty:
        console.print("no engine errors recorded")
    else:
        print_frame(frame, title="recent engine errors")
