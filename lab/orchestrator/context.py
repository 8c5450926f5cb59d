"""What a night is given: the verified record and everything computed about it, labelled by kind.

truth_benchmark: trade figures per book, drawdowns, scan and signal activity (the signal drought);
analysis_output: the analysis modules' newest outputs; observation: what earlier nights wrote down;
constraint: the lab's rules and the strategies (with parameter ranges) a decision may target. Shadows,
the promoter's latest numbers and the agents' leaderboard are benchmarks too: deterministic, not the
model's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scipy import stats
from sqlalchemy import Engine, func, select

from lab.core.config import LabConfig
from lab.core.errors import LabError
from lab.research.modules import latest_outputs
from lab.research.truth import truth_benchmarks
from lab.store.models import AgentPerformance, Book, EngineTrade, PromotionEvaluation
from lab.store.spool import recent_observations
from lab.strategy.loader import load_configured
from lab.trading.shadows import shadow_table

MAX_ITEM_CHARS = 6000


def _item(kind: str, name: str, value: Any) -> dict[str, Any]:
    text = json.dumps(value, default=str)
    if len(text) > MAX_ITEM_CHARS:  # keep the prompt bounded; the full value stays in the DB
        value = {"truncated": True, "head": text[:MAX_ITEM_CHARS]}
    return {"kind": kind, "name": name, "value": json.loads(json.dumps(value, default=str))}


def strategy_catalogue(config: LabConfig) -> list[dict[str, Any]]:
    """The trusted strategies a decision may target, with their parameters (default, range, step)."""
    out = []
    for folder in ("active", "candidates"):
        for path in sorted((config.strategies_dir / folder).glob("*.py")):
            try:
                loaded = load_configured(config, str(path))
            except LabError:
                continue
            params = {}
            for name, field in loaded.cls.Params.model_fields.items():
                extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
                params[name] = {
                    "default": field.default,
                    **{k: extra[k] for k in ("low", "high", "step") if k in extra},
                }
            out.append(
                {
                    "name": loaded.name,
                    "version": loaded.version,
                    "stage": folder,
                    "file": str(Path(folder) / path.name),
                    "voting": hasattr(loaded.cls, "panel"),
                    "params": params,
                }
            )
    return out


def agent_leaderboard(db: Engine) -> list[dict[str, Any]]:
    with db.connect() as c:
        day = c.execute(select(func.max(AgentPerformance.day))).scalar()
        if day is None:
            return []
        rows = (
            c.execute(select(AgentPerformance.__table__).where(AgentPerformance.day == day)).mappings().all()
        )
    keep = (
        "day",
        "strategy",
        "agent",
        "votes",
        "hit_rate",
        "ic",
        "ic_low",
        "ic_high",
        "p_adjusted",
        "flagged",
    )
    return [{k: r[k] for k in keep} for r in rows]


def promoter_latest(db: Engine) -> list[dict[str, Any]]:
    with db.connect() as c:
        newest = select(func.max(PromotionEvaluation.id)).group_by(PromotionEvaluation.shadow)
        rows = (
            c.execute(select(PromotionEvaluation.__table__).where(PromotionEvaluation.id.in_(newest)))
            .mappings()
            .all()
        )
    keep = (
        "shadow",
        "active",
        "days",
        "n_trials",
        "psr",
        "dsr",
        "paired_p",
        "min_track_days",
        "decision",
        "reason",
    )
    return [{k: r[k] for k in keep} for r in rows]


def expectancy_tests(db: Engine) -> list[dict[str, Any]]:
    """Per book: closed trades' mean return and a one-sided t-test of "loses on average" (and of "wins")."""
    with db.connect() as c:
        rows = c.execute(
            select(
                func.coalesce(Book.key, EngineTrade.mode),
                EngineTrade.strategy,
                # net return on the money committed (price x size + entry fees)
                EngineTrade.pnl / (EngineTrade.entry_price * EngineTrade.size + EngineTrade.entry_fees),
            )
            .outerjoin(Book, Book.id == EngineTrade.book_id)
            .where(EngineTrade.status == "closed")
        ).all()
    by: dict[tuple[str, str], list[float]] = {}
    for book, strategy, r in rows:
        if r is not None:
            by.setdefault((str(book), str(strategy)), []).append(float(r))
    out = []
    for (book, strategy), returns in sorted(by.items()):
        n = len(returns)
        mean = sum(returns) / n
        p_loss = p_win = None
        if n >= 3 and len(set(returns)) > 1:
            p_loss = float(stats.ttest_1samp(returns, 0.0, alternative="less").pvalue)
            p_win = float(stats.ttest_1samp(returns, 0.0, alternative="greater").pvalue)
        out.append(
            {
                "book": book,
                "strategy": strategy,
                "trades": n,
                "mean_return": mean,
                "p_loss": p_loss,
                "p_win": p_win,
            }
        )
    return out


def gather(config: LabConfig, db: Engine) -> list[dict[str, Any]]:
    bench = truth_benchmarks(db)
    items = [
        _item("truth_benchmark", "per_book", bench["per_strategy"]),
        _item("truth_benchmark", "expectancy_test", expectancy_tests(db)),
        _item("truth_benchmark", "activity", bench["activity"]),
        _item("truth_benchmark", "shadows", shadow_table(config).to_dict("records")),
        _item("truth_benchmark", "promoter", promoter_latest(db)),
        _item("truth_benchmark", "agent_leaderboard", agent_leaderboard(db)),
    ]
    for name, out in sorted(latest_outputs(config).items()):
        items.append(
            _item(
                "analysis_output", name, out.get("output") if out.get("ok") else {"error": out.get("error")}
            )
        )
    for text in recent_observations(db, limit=20):
        items.append(_item("observation", "earlier", text))
    items.append(
        _item(
            "constraint",
            "lab",
            {
                "long_only": True,
                "symbols": list(config.market.symbols),
                "fees": {
                    "maker": config.fees.maker,
                    "taker": config.fees.taker,
                    "slippage": config.fees.slippage,
                },
                "risk": config.risk.model_dump(),
                "min_shadow_days_before_promotion": config.promoter.min_days,
            },
        )
    )
    items.append(_item("constraint", "strategies", strategy_catalogue(config)))
    return items


def by_name(items: list[dict[str, Any]], kind: str, name: str) -> Any:
    return next((i["value"] for i in items if i["kind"] == kind and i["name"] == name), None)
