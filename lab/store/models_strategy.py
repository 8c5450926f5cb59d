"""The deployment record of strategies: every version made active, archived or restored, with its
parent, parameters, sizing and where its file went (the lineage `lab strategy history` shows)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lab.store.models import Base, utcnow


class StrategyDeployment(Base):
    __tablename__ = "strategy_deployments"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    name: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[str] = mapped_column(String(32))
    parent_version: Mapped[str | None] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # deployed, archived, rolled_back
    path: Mapped[str] = mapped_column(String(400))  # the file after the action (relative to the root)
    params: Mapped[dict] = mapped_column(JSON, default=dict)  # the parameters the active book trades
    sizing: Mapped[str | None] = mapped_column(String(16))  # fixed, kelly, or None: [sizing] method
    rollout_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")
