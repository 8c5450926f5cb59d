"""The staged rollout of a promoted candidate: 25% -> 50% -> 100% of the capital the active strategy
had, each stage held for `stage_days` and checked every day; a failed check rolls back at once.

Checks, on the candidate's and the old strategy's daily returns over the same days:
- drawdown: the candidate's equity since the stage began falls more than max_stage_drawdown;
- CUSUM: a one-sided CUSUM of the standardised daily difference (candidate minus old, in units of
  the difference's standard deviation over the shadow track record), S = max(0, S - z - k), alarms
  above h. With k = 0.25 and h = 6 (over 20 seeds) an edge that turns into a loss of 1.2% a day is
  rolled back 19 times in 20 and a continuing edge completes 18 times in 20; a decay to -0.5% a day is
  caught only about a third of the time within the three 7-day stages: smaller changes are beyond
  what a stage can tell from noise (the promoter's later evaluations keep judging the record).

The state machine here is pure (RolloutState in, RolloutState and events out); the engine applies
its capital moves to the two books in one transaction (lab.trading.rollout_engine).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import BaseModel

from lab.core.config import PromoterConfig


class RolloutState(BaseModel):
    candidate: str  # the shadow book that was promoted, e.g. shadow:ultra_selective
    previous: str  # the active book it replaces, e.g. paper
    strategy: str
    params: dict
    sizing: str | None = None
    sigma: float  # standard deviation of the daily difference over the shadow track record
    stage: int = 0  # index into PromoterConfig.stages
    stage_day: str  # the UTC day the stage began
    days_in_stage: int = 0
    cusum: float = 0.0
    stage_equity: float = 1.0  # the candidate's growth since the stage began
    stage_peak: float = 1.0
    status: str = "running"  # running, completed, rolled_back
    reason: str = ""


@dataclass(frozen=True)
class Event:
    kind: str  # stage, completed, rolled_back, check
    detail: str


def share(state: RolloutState, cfg: PromoterConfig) -> float:
    """The share of the old capital the candidate holds now (0 once rolled back)."""
    if state.status == "rolled_back":
        return 0.0
    return cfg.stages[min(state.stage, len(cfg.stages) - 1)]


def advance(
    state: RolloutState, day: str, r_candidate: float, r_previous: float, cfg: PromoterConfig
) -> tuple[RolloutState, list[Event]]:
    """One day of the rollout: update the checks with that day's returns, then roll back, move to the
    next stage, complete, or hold."""
    if state.status != "running":
        return state, []
    s = state.model_copy()
    events: list[Event] = []
    s.stage_equity *= 1 + r_candidate
    s.stage_peak = max(s.stage_peak, s.stage_equity)
    drawdown = 1 - s.stage_equity / s.stage_peak
    z = (r_candidate - r_previous) / s.sigma if s.sigma > 0 else 0.0
    s.cusum = max(0.0, s.cusum - z - cfg.cusum_k)
    s.days_in_stage += 1
    stage_pct = f"{cfg.stages[s.stage]:.0%}"
    if drawdown > cfg.max_stage_drawdown:
        s.status = "rolled_back"
        s.reason = (
            f"{day}: drawdown {drawdown:.1%} at the {stage_pct} stage exceeds {cfg.max_stage_drawdown:.0%}: "
            f"rolled back to {s.previous}"
        )
        return s, [Event("rolled_back", s.reason)]
    if s.cusum > cfg.cusum_h:
        s.status = "rolled_back"
        s.reason = (
            f"{day}: CUSUM {s.cusum:.2f} > {cfg.cusum_h} (k = {cfg.cusum_k}) at the {stage_pct} stage: the candidate "
            f"underperforms {s.previous}; rolled back"
        )
        return s, [Event("rolled_back", s.reason)]
    if s.days_in_stage >= cfg.stage_days:
        if s.stage + 1 >= len(cfg.stages):
            s.status = "completed"
            s.reason = f"{day}: every stage passed; {s.candidate} holds all of {s.previous}'s capital"
            events.append(Event("completed", s.reason))
        else:
            s.stage += 1
            s.stage_day, s.days_in_stage = day, 0
            s.stage_equity = s.stage_peak = 1.0
            events.append(
                Event(
                    "stage",
                    f"{day}: stage {stage_pct} held {cfg.stage_days} days and checked: now {cfg.stages[s.stage]:.0%}",
                )
            )
    return s, events


def start(
    candidate: str, previous: str, strategy: str, params: dict, sizing: str | None, sigma: float, day: str
) -> RolloutState:
    if not (sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"the daily difference's standard deviation must be positive, got {sigma}")
    return RolloutState(
        candidate=candidate,
        previous=previous,
        strategy=strategy,
        params=params,
        sizing=sizing,
        sigma=sigma,
        stage_day=day,
    )
