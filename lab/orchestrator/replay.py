"""The replay client: answers from a past cycle's spool entries, so any night can be run again (the same
responses through today's gates and code). A request is matched by its hash first (the same prompt),
then by its stage in order; each recorded response is used once. Failed entries are not replayed."""

from __future__ import annotations

from sqlalchemy import Engine

from lab.orchestrator.llm import LLMError, LLMRequest, LLMResponse
from lab.store.spool import thoughts


class ReplayClient:
    provider = "replay"

    def __init__(self, db: Engine, cycle_id: int) -> None:
        frame = thoughts(db, cycle_id)
        if frame.empty:
            raise LLMError("replay_missing", f"cycle {cycle_id} has no recorded responses")
        ok = frame[(frame["error"] == "") & (frame["stage"] != "tool")]
        self.cycle_id = cycle_id
        self.entries = ok.to_dict("records")
        self.used: set[int] = set()

    def complete(self, request: LLMRequest) -> LLMResponse:
        pick = next(
            (e for e in self.entries if e["id"] not in self.used and e["request_hash"] == request.hash), None
        ) or next((e for e in self.entries if e["id"] not in self.used and e["stage"] == request.stage), None)
        if pick is None:
            raise LLMError(
                "replay_missing", f"cycle {self.cycle_id} recorded no further {request.stage} response"
            )
        self.used.add(pick["id"])
        return LLMResponse(
            text=pick["raw_text"],
            model=pick["model"],
            provider=self.provider,
            stop_reason=pick["stop_reason"],
        )
