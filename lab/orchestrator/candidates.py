"""From a decision to a shadow: the candidate's code (a targeted edit of its parent) or parameters, and
the gates it must pass, each recorded with its numbers (strategy_candidates.gates).

Code gates: the AST screen, loading in the sandbox (the file is marked generated, so it only ever runs
in a sandboxed worker), the look-ahead check, a backtest and walk-forward; then it is registered as a
shadow, never deployed. Parameter and agent-weight candidates skip the code gates. A dry run passes
through every gate but registers nothing and keeps no file."""

from __future__ import annotations

import difflib
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lab.backtest.run import backtest, execution_model
from lab.backtest.sweep import walk_forward
from lab.core import metrics as m
from lab.core.config import LabConfig
from lab.core.errors import LabError
from lab.core.timeframes import bars_per_day
from lab.market.repository import load_many
from lab.orchestrator.decision import CodeProposal
from lab.sandbox.screen import STRATEGY_LAB_MODULES, screen
from lab.strategy.checks import lookahead_check
from lab.strategy.loader import LoadedStrategy, load_configured
from lab.strategy.sandboxed import GENERATED_DIR, GENERATED_MARKER
from lab.trading.shadows import add_shadow


class CandidateError(LabError):
    pass


@dataclass
class Gate:
    gate: str
    passed: bool
    detail: str
    numbers: dict[str, Any] = field(default_factory=dict)


def apply_edits(parent: str, proposal: CodeProposal) -> str:
    """Each edit's `find` must occur exactly once in the source as edited so far."""
    out = parent
    for i, edit in enumerate(proposal.edits, 1):
        count = out.count(edit.find)
        if count != 1:
            where = "does not occur" if count == 0 else f"occurs {count} times"
            raise CandidateError(f"edit {i}: its find text {where} in the parent: {edit.find[:80]!r}")
        out = out.replace(edit.find, edit.replace, 1)
    return out


def _set_attr(source: str, attr: str, value: str) -> str:
    pattern = re.compile(rf"^(\s+){attr}\s*=\s*.+$", re.M)
    if not pattern.search(source):
        raise CandidateError(f"the candidate lost its class attribute {attr!r}")
    return pattern.sub(lambda mm: f"{mm.group(1)}{attr} = {value}", source, count=1)


def stamp(source: str, name: str, version: str, parent: str, cycle_id: int) -> str:
    """Mark the file generated (first line: the loader sandboxes it wherever it lies) and give it its
    own name, version and parent version."""
    out = _set_attr(source, "name", repr(name))
    out = _set_attr(out, "version", repr(version))
    out = _set_attr(out, "parent_version", repr(parent))
    return f"{GENERATED_MARKER} by the nightly orchestrator, cycle {cycle_id}; parent {parent}\n{out}"


def diff(parent: str, candidate: str, parent_name: str, name: str) -> str:
    return "".join(
        difflib.unified_diff(
            parent.splitlines(keepends=True),
            candidate.splitlines(keepends=True),
            f"{parent_name}.py",
            f"{name}.py",
        )
    )


def gate_candles(
    config: LabConfig, exchange: str, symbols: list[str], timeframe: str
) -> dict[str, pd.DataFrame]:
    frames = load_many(config, exchange, symbols, timeframe)
    days = config.llm.gates.backtest_days
    end = max(f.index[-1] for f in frames.values())
    start = end - pd.Timedelta(days=days)
    return {s: f.loc[f.index > start] for s, f in frames.items()}


def _trading_gates(
    config: LabConfig, loaded: LoadedStrategy, params: dict[str, Any], candles: dict[str, pd.DataFrame]
) -> list[Gate]:
    g = config.llm.gates
    chosen = loaded.create(params).params
    symbols = list(candles)
    model = execution_model(config, symbols)
    res = backtest(loaded, chosen, candles, model, days_per_year=config.backtest.annualization_days)
    trades = len(res.trades)
    numbers = {
        "trades": trades,
        "total_return": float(res.metrics.get("total_return", m.total_return(res.equity))),
        "sharpe": res.metrics.get("sharpe_daily"),
        "max_drawdown": res.metrics.get("max_drawdown"),
        "days": g.backtest_days,
    }
    gates = [Gate("backtest", trades >= g.min_trades, f"{trades} trades (at least {g.min_trades})", numbers)]
    if not gates[-1].passed or g.walk_forward_splits == 0:
        return gates
    symbol = symbols[0]
    per_day = bars_per_day(loaded.cls.timeframe)
    span_days = len(candles[symbol]) / per_day
    oos = max(1.0, span_days / (g.walk_forward_splits + 2))
    wf = walk_forward(
        loaded,
        candles[symbol],
        model,
        symbol,
        g.walk_forward_splits,
        oos * 2,
        oos,
        [chosen],
        config.backtest.annualization_days,
    )
    oos_return = m.total_return(wf.oos_equity)
    gates.append(
        Gate(
            "walk_forward",
            oos_return >= g.min_oos_return,
            f"chained out-of-sample return {oos_return:+.2%} on {symbol} (at least {g.min_oos_return:+.2%})",
            {
                "oos_return": oos_return,
                "splits": len(wf.table),
                "oos_trades": int(wf.table["oos_trades"].sum()),
            },
        )
    )
    return gates


@dataclass
class Outcome:
    gates: list[Gate]
    status: str  # shadow, rejected, dry_run
    reason: str
    path: str = ""
    code_hash: str = ""
    shadow_key: str | None = None


def code_candidate(
    config: LabConfig,
    source: str,
    name: str,
    params: dict[str, Any],
    candles: dict[str, pd.DataFrame],
    dry_run: bool,
) -> Outcome:
    findings = screen(source, f"{name}.py", lab_modules=STRATEGY_LAB_MODULES)
    gates = [
        Gate(
            "screen", not findings, str(findings[0]) if findings else "no forbidden import, name or attribute"
        )
    ]
    if findings:
        return Outcome(gates, "rejected", f"screen: {findings[0]}")
    folder = (
        config.strategies_dir / GENERATED_DIR if not dry_run else Path(tempfile.mkdtemp(prefix="lab-dry-"))
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(source)
    try:
        loaded = load_configured(config, str(path))
        strategy = loaded.create(params)
    except LabError as exc:
        gates.append(Gate("sandbox", False, str(exc)))
        path.unlink(missing_ok=True)
        return Outcome(gates, "rejected", f"sandbox: {exc}")
    worker = getattr(loaded.cls, "worker", None)
    gates.append(
        Gate(
            "sandbox",
            True,
            f"loaded in a sandboxed worker ({getattr(worker, 'isolation', '?')})",
            {"warmup": strategy.warmup()},
        )
    )
    symbol = next(iter(candles))
    try:
        look = lookahead_check(
            strategy,
            candles[symbol].dropna(subset=["close"]).tail(3000),
            f"{name} on {symbol}",
            config.llm.gates.lookahead_cuts,
        )
        gates.append(
            Gate("lookahead", look.ok, look.detail or f"{look.checked_cuts} cuts, no past signal changed")
        )
        if look.ok:
            gates += _trading_gates(config, loaded, params, candles)
    except LabError as exc:
        gates.append(Gate("run", False, str(exc)))  # the strategy failed in the sandbox while being tested
    return _finish(config, gates, name, name, params, dry_run, path, loaded.code_hash)


def params_candidate(
    config: LabConfig,
    target: str,
    name: str,
    params: dict[str, Any],
    candles: dict[str, pd.DataFrame],
    dry_run: bool,
) -> Outcome:
    try:
        loaded = load_configured(config, target)
        loaded.create(params)
        gates = [Gate("parameters", True, f"valid for {loaded.name} {loaded.version}")]
        gates += _trading_gates(config, loaded, params, candles)
    except LabError as exc:
        return Outcome([Gate("parameters", False, str(exc))], "rejected", str(exc))
    return _finish(config, gates, name, target, params, dry_run, None, loaded.code_hash)


def _finish(
    config: LabConfig,
    gates: list[Gate],
    name: str,
    strategy: str,
    params: dict[str, Any],
    dry_run: bool,
    path: Path | None,
    code_hash: str,
) -> Outcome:
    failed = next((x for x in gates if not x.passed), None)
    where = (
        str(path.relative_to(config.root)) if path is not None and path.is_relative_to(config.root) else ""
    )
    if failed is not None:
        if path is not None and not dry_run:
            path.rename(path.with_suffix(".rejected"))  # kept for the lineage, never loadable as a strategy
        return Outcome(gates, "rejected", f"{failed.gate}: {failed.detail}", where, code_hash)
    if dry_run:
        if path is not None:
            path.unlink(missing_ok=True)
        return Outcome(gates, "dry_run", "passed every gate; a dry run registers no shadow", "", code_hash)
    message = add_shadow(config, name, strategy, params)
    key = message.split()[1]
    gates.append(Gate("shadow", True, message))
    return Outcome(gates, "shadow", "registered as a shadow; the promoter decides", where, code_hash, key)
