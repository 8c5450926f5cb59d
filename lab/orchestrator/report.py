"""What notebooks/nightly_orchestration.ipynb shows: one night stage by stage (the labelled inputs, the
analysis, the decision, the candidate's diff and gates), the shadows and the promoter's latest numbers
(where candidates go), the budget, and the history of nights. All read from the spool and the DB."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, select

from lab.backtest.notebook_api import validated
from lab.core.config import LabConfig, load_config
from lab.orchestrator.budget import Budget
from lab.orchestrator.context import promoter_latest
from lab.orchestrator.cycle import CycleResult
from lab.orchestrator.nightly import database, make_client, run_nightly
from lab.store import spool
from lab.store.models_llm import AIUsage
from lab.trading.shadows import shadow_table


class NightlyParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    dry_run: bool = False
    replay: int | None = Field(None, ge=1)  # re-run this cycle's recorded responses
    tools: bool = True
    history: int = Field(60, ge=1, le=10_000)  # nights in the history plot


def validate_parameters(**values: Any) -> NightlyParams:
    return validated(NightlyParams, values)


@dataclass
class NightReport:
    config: LabConfig
    db: Engine
    result: CycleResult

    @property
    def cycle(self) -> dict[str, Any]:
        return spool.cycle(self.db, self.result.cycle_id) or {}

    @property
    def thoughts(self) -> pd.DataFrame:
        return spool.thoughts(self.db, self.result.cycle_id)

    @property
    def candidates(self) -> pd.DataFrame:
        return spool.candidates(self.db, self.result.cycle_id)

    def verdict(self) -> str:
        c = self.cycle
        head = (
            f"Night {self.result.cycle_id} ({c.get('provider')}{', dry run' if c.get('dry_run') else ''}): "
        )
        return (
            head
            + f"{self.result.decision}, {self.result.status} in {self.result.duration_s:.1f} s. {self.result.reason}"
        )

    def headline(self) -> dict[str, Any]:
        c = self.cycle
        return {
            "kind": "nightly orchestration",
            "strategy": c.get("provider"),
            "metrics": {
                "cycle": self.result.cycle_id,
                "decision": self.result.decision,
                "status": self.result.status,
                "cost": c.get("cost"),
                "tokens": (c.get("input_tokens") or 0) + (c.get("output_tokens") or 0),
                "candidates": len(self.candidates),
            },
        }

    def inputs(self) -> pd.DataFrame:
        items = (self.cycle.get("context") or {}).get("items", [])
        rows = []
        for i in items:
            value = i["value"]
            size = len(value) if isinstance(value, list | dict) else 1
            rows.append({"kind": i["kind"], "name": i["name"], "entries": size, "value": str(value)[:160]})
        return pd.DataFrame(rows)

    def stages_html(self) -> str:
        """Every response of the night in order, full text in a collapsible block."""
        parts = []
        for t in self.thoughts.to_dict("records"):
            title = (
                f"[{t['seq']}] {t['stage']} · {t['provider']} {t['model']} · attempt {t['attempt']} · "
                f"{t['input_tokens']}+{t['output_tokens']} tokens · ${t['cost']:.4f}"
            )
            error = f"<p style='color:#b00'>error: {html.escape(t['error'])}</p>" if t["error"] else ""
            parts.append(
                f"<details open><summary>{html.escape(title)}</summary>{error}"
                f"<pre style='white-space:pre-wrap;max-height:24rem;overflow:auto'>{html.escape(t['raw_text'])}</pre></details>"
            )
        return "\n".join(parts) or "<p>no responses recorded</p>"

    def observations(self) -> pd.DataFrame:
        return pd.DataFrame({"observation": spool.observations(self.db, self.result.cycle_id)})

    def candidate_table(self) -> pd.DataFrame:
        c = self.candidates
        if c.empty:
            return pd.DataFrame(columns=["name", "version", "parent", "status", "reason", "shadow"])
        return c[["name", "version", "parent", "kind", "status", "reason", "shadow_key"]].rename(
            columns={"shadow_key": "shadow"}
        )

    def gates_table(self) -> pd.DataFrame:
        rows = []
        for c in self.candidates.to_dict("records"):
            for g in c["gates"]:
                rows.append(
                    {"candidate": c["name"], "gate": g["gate"], "passed": g["passed"], "detail": g["detail"]}
                )
        return pd.DataFrame(rows, columns=["candidate", "gate", "passed", "detail"])

    def diffs_html(self) -> str:
        out = [
            f"<h4>{html.escape(c['name'])}</h4><pre style='white-space:pre-wrap'>{html.escape(c['diff'])}</pre>"
            for c in self.candidates.to_dict("records")
            if c["diff"]
        ]
        return "\n".join(out) or "<p>no code was generated tonight</p>"

    def shadows(self) -> pd.DataFrame:
        table = shadow_table(self.config)
        return table.drop(columns=[c for c in ("params",) if c in table.columns])

    def promoter(self) -> pd.DataFrame:
        return pd.DataFrame(promoter_latest(self.db))

    def budget_table(self) -> pd.DataFrame:
        spend = Budget(self.db, self.config.llm, "nightly").spend()
        return pd.DataFrame([s.__dict__ for s in spend])

    def usage_figure(self, days: int = 30) -> go.Figure:
        since = datetime.now(UTC) - timedelta(days=days)
        with self.db.connect() as c:
            rows = c.execute(
                select(AIUsage.created_at, AIUsage.cost, AIUsage.stage).where(AIUsage.created_at >= since)
            ).all()
        frame = pd.DataFrame(rows, columns=["time", "cost", "stage"])
        fig = go.Figure()
        limit = self.config.llm.budgets.get("nightly")
        if not frame.empty:
            frame["day"] = pd.to_datetime(frame["time"], utc=True).dt.floor("D")
            for stage, g in frame.groupby("stage"):
                daily = g.groupby("day")["cost"].sum()
                fig.add_bar(x=daily.index, y=daily.to_numpy(), name=str(stage))
        if limit is not None and limit.daily_dollars:
            fig.add_hline(y=limit.daily_dollars, line_dash="dash", annotation_text="daily limit")
        fig.update_layout(
            barmode="stack", title="Model spend per day (US$)", height=320, margin={"t": 40, "b": 30}
        )
        return fig

    def history_figure(self, limit: int = 60) -> go.Figure:
        frame = spool.cycles(self.db, limit).sort_values("id")
        fig = go.Figure()
        for decision, g in frame.groupby("decision", dropna=False):
            fig.add_scatter(
                x=g["started_at"],
                y=g["duration_s"],
                mode="markers",
                name=str(decision),
                text=g["reason"].str.slice(0, 80),
                marker={"size": 10},
            )
        fig.update_layout(title="Nights: duration (s) by decision", height=300, margin={"t": 40, "b": 30})
        return fig


def run(params: NightlyParams, config: LabConfig | None = None) -> NightReport:
    cfg = config or load_config()
    db = database(cfg)
    result = run_nightly(
        cfg,
        dry_run=params.dry_run,
        replay=params.replay,
        client=make_client(cfg, db, params.replay),
        tools=params.tools,
    )
    return NightReport(cfg, db, result)
