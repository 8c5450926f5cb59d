"""Running a staged rollout inside the engine: the promoted candidate trades a book of real (paper or
live) capital beside the previous strategy's, and every capital move goes with the rollout's new state
and the two books' states in one transaction, so a crash at any moment leaves one consistent stage:
either the move happened for both books and the rollout, or for none.

Day by day (at each new UTC day) the rollout's checks (lab.trading.rollout.advance) see both books'
returns of the day before, net of the capital moved. A new stage moves its share of the capital the
previous strategy had when the rollout began (C) from the previous book's free cash to the
candidate's; a rollback (or the completion) closes every position of the book that gives up its
capital, and moves its cash once it is flat.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from lab.core.config import LabConfig
from lab.core.errors import LabError
from lab.store.db import session_scope
from lab.store.models import Book, Rollout, RolloutEvent
from lab.trading import ledger
from lab.trading.rollout import RolloutState, advance, share, start

if TYPE_CHECKING:
    from lab.trading.engine import Engine
    from lab.trading.trader import Trader

PREFIX = "rollout:"


def running_rollout(session: Any) -> Rollout | None:
    return session.scalars(
        select(Rollout).where(Rollout.status == "running").order_by(Rollout.id.desc())
    ).first()


def start_rollout(config: LabConfig, candidate: str, previous: str = "paper", sigma: float = 0.0) -> str:
    """Start the staged rollout of a promoted shadow (lab promote): its book of real capital joins the
    engine at its next start and receives the first stage's capital then."""
    with session_scope(config) as s:
        if running_rollout(s) is not None:
            raise LabError("a rollout is running already: one candidate at a time")
        book = s.scalar(select(Book).where(Book.key == candidate, Book.mode == "shadow"))
        if book is None:
            raise LabError(f"no shadow {candidate!r}")
        name = candidate.removeprefix("shadow:")
        state = start(
            candidate,
            previous,
            (book.settings or {}).get("strategy") or book.strategy,
            dict(book.params or {}),
            (book.settings or {}).get("sizing"),
            sigma,
            datetime.now(UTC).strftime("%Y-%m-%d"),
        )
        row = Rollout(
            candidate=candidate,
            previous=previous,
            book=PREFIX + name,
            status="running",
            state=state.model_dump(mode="json")
            | {"capital": None, "allocated": 0.0, "last": None, "flat_wait": None},
        )
        s.add(row)
        s.flush()
        s.add(
            RolloutEvent(
                rollout_id=row.id,
                day=state.stage_day,
                kind="started",
                share=0.0,
                detail=f"{candidate} promoted: rolls out in {PREFIX + name} against {previous}",
            )
        )
        return f"rollout #{row.id} of {candidate} started: the engine moves {config.promoter.stages[0]:.0%} of {previous}'s capital to {PREFIX + name} when it next runs"


class RolloutDriver:
    """The engine's side of one running rollout."""

    def __init__(self, engine: Engine, rollout_id: int) -> None:
        self.engine, self.id = engine, rollout_id
        self.cfg = engine.config.promoter
        with session_scope(engine.config) as s:
            row = s.get(Rollout, rollout_id)
            self.book_key, self.previous_key = row.book, row.previous
            self.extra = {k: row.state.get(k) for k in ("capital", "allocated", "last", "flat_wait", "day")}
            self.state = RolloutState(
                **{k: v for k, v in row.state.items() if k in RolloutState.model_fields}
            )
        self.day: str | None = self.extra.get("day")  # the last day it judged (a restart goes on from there)

    @property
    def candidate(self) -> Trader:
        return self.engine.trader(self.book_key)

    @property
    def previous(self) -> Trader:
        return self.engine.trader(self.previous_key)

    def _commit(self, day: str, events: list[tuple[str, float, float, str]]) -> None:
        """The rollout's state, both books' states and the events, in one transaction."""
        with session_scope(self.engine.config) as s:
            row = s.get(Rollout, self.id)
            row.state = self.state.model_dump(mode="json") | self.extra
            row.status = self.state.status if self.extra.get("flat_wait") is None else "running"
            for kind, sh, amount, detail in events:
                s.add(
                    RolloutEvent(
                        rollout_id=self.id, day=day, kind=kind, share=sh, amount=amount, detail=detail
                    )
                )
            ledger.save_state(s, self.previous.book, self.previous.state)
            ledger.save_state(s, self.candidate.book, self.candidate.state)

    def _move(self, amount: float) -> float:
        """Move cash from the previous book to the candidate's (negative: back), at most the giver's
        free cash; returns what moved."""
        giver = self.previous.state if amount > 0 else self.candidate.state
        amount = max(-giver.cash, min(amount, giver.cash)) if amount < 0 else min(amount, giver.cash)
        self.previous.state.move_capital(-amount)
        self.candidate.state.move_capital(amount)
        self.extra["allocated"] = float(self.extra.get("allocated") or 0.0) + amount
        return amount

    def begin(self, day: str) -> None:
        """At engine start: the first stage's capital, unless it moved before (a restart)."""
        self.engine.flush()
        if self.extra.get("capital") is None:
            self.extra["capital"] = self.previous.equity()
            target = share(self.state, self.cfg) * self.extra["capital"]
            moved = self._move(target)
            self.extra["last"] = [self.candidate.equity(), self.previous.equity()]
            self._commit(
                day,
                [
                    (
                        "transfer",
                        share(self.state, self.cfg),
                        moved,
                        f"{moved:,.2f} of {self.extra['capital']:,.2f} moved from {self.previous_key} to {self.book_key}",
                    )
                ],
            )

    def on_day(self, day: str) -> None:
        """A new UTC day: yesterday's returns through the checks; then the capital the state asks for."""
        if self.day == day:
            return
        first = self.day is None  # the rollout's first day begins: nothing has been held a day yet
        self.day = self.extra["day"] = day
        self.engine.flush()
        if first:
            self.extra["last"] = [self.candidate.equity(), self.previous.equity()]
            self._commit(day, [])
            return
        events: list[tuple[str, float, float, str]] = []
        if self.extra.get("flat_wait"):
            self._finish_when_flat(day, events)
        elif self.state.status == "running" and self.extra.get("last"):
            last_c, last_p = self.extra["last"]
            now_c, now_p = self.candidate.equity(), self.previous.equity()
            r_c = now_c / last_c - 1 if last_c > 0 else 0.0
            r_p = now_p / last_p - 1 if last_p > 0 else 0.0
            before = self.state.stage
            self.state, happened = advance(self.state, day, r_c, r_p, self.cfg)
            events += [(e.kind, share(self.state, self.cfg), 0.0, e.detail) for e in happened]
            if self.state.status == "running" and self.state.stage != before:
                target = share(self.state, self.cfg) * self.extra["capital"]
                moved = self._move(target - float(self.extra["allocated"]))
                events.append(
                    ("transfer", share(self.state, self.cfg), moved, f"{moved:,.2f} moved to {self.book_key}")
                )
            elif self.state.status == "rolled_back":
                self._give_up(self.candidate, f"rolled back: {self.state.reason}")
                self._finish_when_flat(day, events)
            elif self.state.status == "completed":
                self._give_up(self.previous, f"replaced by {self.state.candidate}: {self.state.reason}")
                self._finish_when_flat(day, events)
        self.extra["last"] = [self.candidate.equity(), self.previous.equity()]
        self._commit(day, events)

    def _give_up(self, trader: Trader, reason: str) -> None:
        trader.state.liquidate = True
        trader.state.paused, trader.state.pause_reason = True, reason
        self.extra["flat_wait"] = trader.spec.key

    def _finish_when_flat(self, day: str, events: list) -> None:
        """Once the book giving up its capital is flat, all its cash moves to the other one."""
        giver = self.engine.trader(self.extra["flat_wait"])
        if giver.positions:
            return
        amount = giver.state.cash
        moved = self._move(-amount if giver is self.candidate else amount)
        giver.state.liquidate = False
        self.extra["flat_wait"] = None
        final = "rolled_back" if giver is self.candidate else "completed"
        events.append(
            (
                "transfer",
                0.0 if final == "rolled_back" else 1.0,
                moved,
                f"{abs(moved):,.2f} moved to {self.previous_key if final == 'rolled_back' else self.book_key}: {giver.spec.key} is flat",
            )
        )
