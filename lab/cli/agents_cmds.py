"""`lab agents`: the signal agents (list), their record (report: the leaderboard with intervals and
flags, saved as today's agent_performance snapshot), and switching one off or on in the running
engine through the command queue (disable / enable)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import typer

from lab.cli.common import config, console, print_frame, reports_errors, utc_time
from lab.core.errors import LabError

app = typer.Typer(help="Signal agents: list, report, enable, disable.", no_args_is_help=True)


@app.command("list")
@reports_errors
def list_cmd() -> None:
    """The agents in strategies/agents, whether lab.toml enables them, their run-time state and flag."""
    from sqlalchemy import select

    from lab.store.db import readonly_engine
    from lab.store.models import AgentPerformance
    from lab.store.votes import agent_states
    from lab.strategy.agents import load_agent

    cfg = config()
    rows = []
    engine = readonly_engine(cfg.db_url)
    with engine.connect() as conn:
        states = agent_states(conn)
        t = AgentPerformance
        flags = {
            a: (day, f) for a, day, f in conn.execute(select(t.agent, t.day, t.flagged).order_by(t.day, t.id))
        }
    for path in sorted(cfg.agents_dir.glob("*.py")):
        try:
            la = load_agent(str(path), cfg.agents_dir)
            name, version, problem = la.name, la.cls.version, ""
        except LabError as exc:
            name, version, problem = path.stem, "", str(exc)
        state = states.get(name)
        flag = flags.get(name)
        rows.append(
            {
                "agent": name,
                "version": version,
                "in lab.toml": name in cfg.agents.enabled,
                "run time": ("enabled" if state[0] else "disabled") + f" ({state[2]})" if state else "",
                "flagged": (f"yes ({flag[0]})" if flag[1] else f"no ({flag[0]})") if flag else "",
                "problem": problem,
            }
        )
    print_frame(pd.DataFrame(rows), title=f"agents in {cfg.agents_dir}")


def stored_closes(cfg, symbols: list[str], timeframe: str, exchanges: list[str]) -> dict[str, pd.Series]:
    """Closes per symbol from the first of `exchanges` that has them stored."""
    from lab.market.repository import load

    out = {}
    for symbol in symbols:
        for exchange in exchanges:
            try:
                out[symbol] = load(exchange, symbol, timeframe, config=cfg)["close"]
                break
            except LabError:
                continue
    return out


def build(
    cfg,
    strategy: str = "ensemble",
    experiment: int | None = None,
    book: str | None = None,
    since: str | None = None,
):
    """The agent report of a scope, with the closes of its decisions' symbols from the candle store."""
    from sqlalchemy import select

    from lab.research.agent_records import agent_performance, resolve_scope
    from lab.research.agent_report import AgentReport
    from lab.store.db import readonly_engine
    from lab.store.models import Experiment, VoteDecision

    engine = readonly_engine(cfg.db_url)
    with engine.connect() as conn:
        scope = resolve_scope(conn, strategy, experiment, book)
        exchanges = [cfg.market.exchange, "synthetic"]
        if scope.experiment_id is not None:
            exchange = conn.execute(
                select(Experiment.exchange).where(Experiment.id == scope.experiment_id)
            ).scalar()
            if exchange is None:
                raise LabError(f"no experiment #{scope.experiment_id}")
            exchanges.insert(0, exchange)
        symbols = sorted(
            set(conn.execute(select(VoteDecision.symbol).where(VoteDecision.strategy == strategy)).scalars())
        )
        closes = stored_closes(cfg, symbols, "5m", exchanges)
        table, votes = agent_performance(
            conn,
            cfg.agents,
            scope,
            closes,
            pd.Timedelta("5min"),
            datetime.fromisoformat(since) if since else None,
        )
    return AgentReport(cfg, scope, table, votes)


def snapshot_task(cfg) -> str:
    """`task = "agents"` in a [schedule.*] entry: today's agent_performance snapshot of the ensemble."""
    report = build(cfg)
    n = report.save_snapshot() if not report.table.empty else 0
    flagged = report.table[report.table["flagged"]]["agent"].tolist() if n else []
    return f"{n} agent_performance rows for {report.scope.label}; flagged: {', '.join(flagged) or 'none'}"


@app.command("report")
@reports_errors
def report_cmd(
    strategy: str = typer.Option("ensemble", help="The voting strategy whose decisions are judged"),
    since: str = typer.Option(None, help="Only decisions from this UTC time on", callback=utc_time),
    book: str = typer.Option(
        None,
        help="An engine book's record (default: the first book trading the strategy, else the newest backtest)",
    ),
    experiment: int = typer.Option(None, help="A backtest's record (experiment id)"),
    snapshot: bool = typer.Option(True, help="Save today's agent_performance snapshot"),
) -> None:
    """Per agent: votes, abstentions, hit rate (Wilson CI), IC (Fisher-z CI), the flag and its evidence."""
    report = build(config(), strategy, experiment, book, since)
    print_frame(
        report.leaderboard(),
        title=f"{strategy}: agents on {report.decisions:,} decisions ({report.scope.label})",
    )
    console.print("[bold]flags and their evidence[/]")
    for row in report.flags().itertuples(index=False):
        colour = "red" if row.flagged else "green"
        console.print(f"  [{colour}]{row.agent}[/]: {row.reason}")
    if snapshot and not report.table.empty:
        n = report.save_snapshot()
        console.print(f"  {n} agent_performance rows saved for today")
    console.print(report.verdict())


def _toggle(name: str, on: bool, reason: str | None) -> None:
    from lab.dashboard.queries import engine_running
    from lab.store import commands

    cfg = config()
    known = sorted(p.stem for p in cfg.agents_dir.glob("*.py"))
    if name not in known:
        raise LabError(f"no agent {name!r} in {cfg.agents_dir} (agents: {', '.join(known) or 'none'})")
    command = "agent_enable" if on else "agent_disable"
    cid = commands.enqueue(cfg, command, agent=name, **({"reason": reason} if reason else {}))
    running = engine_running(cfg, "paper") or engine_running(cfg, "live")
    console.print(
        f"{command} {name} queued (#{cid}); "
        + (
            "the running engine applies it on its next bar"
            if running
            else "no engine is running: the next one to start applies it"
        )
    )


@app.command("disable")
@reports_errors
def disable_cmd(
    name: str = typer.Argument(..., help="The agent's name"),
    reason: str = typer.Option(None, help="Why (kept in agent_states)"),
) -> None:
    """Stop an agent weighing in the running engine's blend (it keeps voting, so its record grows)."""
    _toggle(name, False, reason)


@app.command("enable")
@reports_errors
def enable_cmd(
    name: str = typer.Argument(..., help="The agent's name"), reason: str = typer.Option(None)
) -> None:
    """Let a disabled agent weigh in the running engine's blend again."""
    _toggle(name, True, reason)
