"""The main job behind `make run`: prepare sample data, validate it, run the research notebooks."""

from __future__ import annotations

import pandas as pd
from rich.console import Console

from lab.core.config import LabConfig
from lab.core.errors import DataValidationError
from lab.core.timeframes import timeframe_ms
from lab.market import sample
from lab.market.repository import load, store_candles
from lab.market.validate import validate

console = Console()


def prepare_sample_data(config: LabConfig) -> None:
    """Generate (idempotently: stored candles are never rewritten) and validate the synthetic sample."""
    s = config.sample
    end = pd.Timestamp(s.end, tz="UTC")
    start = end - pd.Timedelta(days=s.days)
    for symbol in s.symbols:
        frame = sample.generate(symbol, s.timeframe, start, end, s.seed)
        store_candles(
            config,
            sample.SYNTHETIC_EXCHANGE,
            symbol,
            s.timeframe,
            frame,
            source=f"synthetic:seed={s.seed}",
            action="sample",
            synthetic=True,
        )
        report = validate(load(sample.SYNTHETIC_EXCHANGE, symbol, s.timeframe, config=config), s.timeframe)
        if not report.ok:
            raise DataValidationError(
                f"stored sample {symbol} failed validation:\n{report.summary()}", report
            )
        console.print(
            f"  sample {symbol} {s.timeframe}: {report.rows} candles valid, "
            f"{len(report.gaps)} gap(s) ({report.missing_candles} missing candles)"
        )


ENSEMBLE_BOOK = "shadow:ensemble"


def engine_report(config: LabConfig, strategy: str = "ema_rsi_volume") -> None:
    """Replay the sample through the paper engine (resuming where an earlier run stopped) with every
    shadow of lab.toml beside it, and print each book beside its own vectorbt backtest."""
    from rich.table import Table
    from sqlalchemy import func, select

    from lab.backtest.run import run_backtest
    from lab.core.metrics import trades_hash
    from lab.store.db import session_scope
    from lab.store.models import AgentVote, Book, VoteDecision
    from lab.trading.ledger import trades_frame
    from lab.trading.setup import replay_engine

    symbols = list(config.sample.symbols)
    engine = replay_engine(config, strategy, symbols, exchange=sample.SYNTHETIC_EXCHANGE, shadows=True)
    summary = engine.run()
    table = Table(title=f"the sample ({', '.join(symbols)}): backtest vs paper engine, book by book")
    for column in ("", "vectorbt backtest", "paper engine"):
        table.add_column(column, justify="right")
    table.add_row("bars replayed this run", "", f"{summary.steps}")
    notes = []
    for trader in engine.traders:
        book = trader.spec.key
        cfg = config
        if trader.spec.sizing is not None:
            cfg = config.model_copy(update={"sizing": trader.spec.sizing})
        backtest = run_backtest(
            cfg,
            str(trader.loaded.path),
            symbols,
            exchange=sample.SYNTHETIC_EXCHANGE,
            params=trader.params.model_dump(),
            record=False,
        )
        with session_scope(config) as session:
            trades = trades_frame(session, book)
        closed_bt = backtest.trades[backtest.trades["status"] == "closed"]
        closed_en = trades[trades["status"] == "closed"]
        table.add_row(f"[bold]{book}[/] ({trader.loaded.name})", "", "")
        table.add_row("  closed trades", f"{len(closed_bt)}", f"{len(closed_en)}")
        table.add_row(
            "  net P&L of closed trades", f"{closed_bt['pnl'].sum():,.2f}", f"{closed_en['pnl'].sum():,.2f}"
        )
        table.add_row("  final equity", f"{backtest.equity.iloc[-1]:,.2f}", f"{trader.equity():,.2f}")
        same = trades_hash(closed_bt) == trades_hash(closed_en)
        notes.append(
            f"{book}: "
            + ("identical trades" if same else "differ (lab.toml's risk limits bind in the engine)")
        )
    console.print(table)
    paused = f"; the paper book is paused: {engine.state.pause_reason}" if engine.state.paused else ""
    console.print(
        f"  engine vs backtest: {'; '.join(notes)}{paused}; {summary.rejected_orders} rejected orders, "
        f"{summary.bad_bars} bad bars"
    )
    with session_scope(config) as s:
        book_id = s.scalar(select(Book.id).where(Book.key == ENSEMBLE_BOOK))
        decisions = s.scalar(
            select(func.count()).select_from(VoteDecision).where(VoteDecision.book_id == book_id)
        )
        votes = s.scalar(
            select(func.count())
            .select_from(AgentVote)
            .join(VoteDecision)
            .where(VoteDecision.book_id == book_id)
        )
    console.print(f"  the ensemble's book recorded {decisions:,} decisions with {votes:,} agent votes")


def promoter_report(config: LabConfig) -> None:
    """The promoter's dry run: every active shadow against the paper book (recorded, nothing changed)."""
    from lab.research.promotions import evaluate_shadows

    for e in evaluate_shadows(config, "paper", dry_run=True):
        console.print(f"  {e.shadow}: {e.decision} — {e.reason}")


def agents_report(config: LabConfig) -> None:
    """The leaderboard of the ensemble's engine record (its shadow book), saved as today's snapshot."""
    from lab.cli.agents_cmds import stored_closes
    from lab.research.agent_report import build_report

    report = build_report(
        config,
        stored_closes(
            config, list(config.sample.symbols), config.sample.timeframe, [sample.SYNTHETIC_EXCHANGE]
        ),
        pd.Timedelta(timeframe_ms(config.sample.timeframe), "ms"),
        book=ENSEMBLE_BOOK,
    )
    report.save_snapshot()
    board = report.leaderboard().dropna(subset=["ic"])
    for row in board.itertuples(index=False):
        mark = "[red]flagged[/]" if row.flagged else "ok"
        console.print(
            f"  {row.agent:13s} IC {row.ic:+.3f} [{row.ic_low:+.3f}, {row.ic_high:+.3f}]  hit rate {row.hit_rate:.1%}  "
            f"{row.votes:,} votes  {mark}"
        )
    console.print(f"  {report.verdict()}")


def statistics_report(config: LabConfig) -> bool:
    """The truth benchmarks of the record the engine just left, and every active analysis module run in
    the sandbox on a snapshot of it (outputs stored in analysis_outputs)."""
    from lab.research.modules import run_active
    from lab.research.truth import truth_benchmarks
    from lab.store.db import readonly_engine

    bench = truth_benchmarks(readonly_engine(config.db_url))
    for row in bench["per_strategy"]:
        console.print(
            f"  {row['strategy']} ({row['book']}): {row['trades']} closed trades, win rate {row['win_rate']:.1%}, "
            f"net P&L {row['net_pnl']:,.2f} after {row['fees']:,.2f} fees, max drawdown {row['max_drawdown']:.1%}, "
            f"{row['consecutive_losses']} losses in a row now"
        )
    ok = True
    for name, result in run_active(config).items():
        colour = "green" if result.ok else "red"
        detail = f"{len(result.value or {})} sections" if result.ok else result.reason
        console.print(f"  [{colour}]{name}[/]: {detail} ({result.isolation}, {result.seconds:.1f} s)")
        ok = ok and result.ok
    console.print("  (`lab stats` prints them in full)")
    return ok


def run_main_job(config: LabConfig) -> bool:
    """Sample data, then every notebook in pipeline.main_notebooks; True when all succeeded."""
    from lab.pipeline.index import write_index
    from lab.pipeline.runner import run_notebook

    console.rule("[bold]Trading Lab: main job")
    console.print("1. sample data (synthetic, offline)")
    prepare_sample_data(config)
    console.print(f"2. research notebooks ({', '.join(config.pipeline.main_notebooks)})")
    ok = True
    for name in config.pipeline.main_notebooks:
        outcome = run_notebook(config, name, trigger="main")
        colour = "green" if outcome.status == "succeeded" else "red"
        console.print(
            f"  [{colour}]{name}: {outcome.status}[/] in {outcome.duration_s:.1f} s → {outcome.output_html}"
        )
        if outcome.error:
            console.print(f"    error: {outcome.error}")
            ok = False
    console.print("3. paper engine: the sample replayed bar by bar, lab.toml's shadows beside it")
    engine_report(config)
    console.print("4. statistics shell: truth benchmarks, then each analysis module in the sandbox")
    ok = statistics_report(config) and ok
    console.print("5. signal agents: the leaderboard of the ensemble's engine record (lab agents report)")
    agents_report(config)
    console.print("6. promoter (dry run): each shadow against the paper book (lab promote --dry-run)")
    promoter_report(config)
    console.print(
        "7. nightly orchestration: one night of the orchestrator (the offline policy without ANTHROPIC_API_KEY)"
    )
    outcome = run_notebook(config, "nightly_orchestration", trigger="main")
    colour = "green" if outcome.status == "succeeded" else "red"
    console.print(
        f"  [{colour}]nightly_orchestration: {outcome.status}[/] in {outcome.duration_s:.1f} s → {outcome.output_html}"
    )
    if outcome.error:
        console.print(f"    error: {outcome.error}")
        ok = False
    index = write_index(config)
    console.rule()
    console.print(f"Reports: open [bold]{index}[/] (every run, newest first; each report works offline)")
    return ok
