"""The promoter over the record: each active shadow book's daily returns against the active book's on
the same days (lab.research.promoter decides), N for the deflated Sharpe counted from everything the
DB has seen, every evaluation recorded with its numbers, decision and reason."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select

from lab.core.config import LabConfig
from lab.core.errors import LabError
from lab.research.promoter import Evaluation, evaluate
from lab.store.db import session_scope
from lab.store.equity import daily_returns
from lab.store.models import Book, Experiment, PromotionEvaluation
from lab.store.spool import candidates_generated


def trials_evaluated(conn: Any) -> int:
    """N of the deflated Sharpe: every backtest's trials (a sweep records all its combinations) and
    every shadow the lab has ever run (retired and disabled ones too), and every candidate the nightly
    orchestrator generated that never became a shadow (rejected ones too: they were tried)."""
    experiments = conn.execute(select(func.coalesce(func.sum(Experiment.n_trials), 0))).scalar() or 0
    shadows = conn.execute(select(func.count()).select_from(Book).where(Book.mode == "shadow")).scalar() or 0
    return int(experiments) + int(shadows) + candidates_generated(conn)


def evaluate_shadows(config: LabConfig, active: str = "paper", dry_run: bool = False) -> list[Evaluation]:
    cfg = config.promoter
    with session_scope(config) as s:
        active_id = s.scalar(select(Book.id).where(Book.key == active))
        if active_id is None:
            raise LabError(f"no book {active!r}: the active strategy has not traded yet (lab run)")
        base = daily_returns(s, active_id)
        n_trials = trials_evaluated(s)
        shadows = s.execute(
            select(Book.id, Book.key).where(Book.mode == "shadow", Book.status == "active").order_by(Book.id)
        ).all()
        out = [evaluate(key, daily_returns(s, bid), base, n_trials, cfg) for bid, key in shadows]
        if out:
            s.execute(
                insert(PromotionEvaluation),
                [
                    {
                        "shadow": e.shadow,
                        "active": active,
                        "days": e.days,
                        "n_trials": e.n_trials,
                        "psr": _num(e.psr),
                        "dsr": _num(e.dsr),
                        "paired_p": _num(e.paired_p),
                        "min_track_days": _num(e.min_track_days),
                        "decision": e.decision,
                        "reason": e.reason,
                        "numbers": e.as_dict() | {"thresholds": cfg.model_dump(mode="json")},
                        "dry_run": dry_run,
                    }
                    for e in out
                ],
            )
    return out


def _num(x: float) -> float | None:
    return None if x != x or x in (float("inf"), float("-inf")) else float(x)
