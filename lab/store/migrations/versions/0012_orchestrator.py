"""orchestrator: cycles, thought spool (with SQLite FTS5), observations, ai usage, budget alerts,
strategy candidates

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 13:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# External-content FTS5 over the spool's text; triggers keep it in step (thoughts are append-only, but
# a delete trigger keeps pruning honest). PostgreSQL searches with ILIKE instead (lab.store.spool).
FTS = [
    "CREATE VIRTUAL TABLE thoughts_fts USING fts5(raw_text, error, stage, content='thoughts', content_rowid='id')",
    "CREATE TRIGGER thoughts_fts_ai AFTER INSERT ON thoughts BEGIN "
    "INSERT INTO thoughts_fts(rowid, raw_text, error, stage) VALUES (new.id, new.raw_text, new.error, new.stage); END",
    "CREATE TRIGGER thoughts_fts_ad AFTER DELETE ON thoughts BEGIN "
    "INSERT INTO thoughts_fts(thoughts_fts, rowid, raw_text, error, stage) "
    "VALUES ('delete', old.id, old.raw_text, old.error, old.stage); END",
]


def _fts5_available(bind: sa.engine.Connection) -> bool:
    try:
        bind.exec_driver_sql("CREATE VIRTUAL TABLE temp._fts5_probe USING fts5(x)")
        bind.exec_driver_sql("DROP TABLE temp._fts5_probe")
        return True
    except sa.exc.OperationalError:
        return False


def _tokens() -> list[sa.Column]:
    return [
        sa.Column("input_tokens", sa.Integer, nullable=False),
        sa.Column("output_tokens", sa.Integer, nullable=False),
        sa.Column("cache_write_tokens", sa.Integer, nullable=False),
        sa.Column("cache_read_tokens", sa.Integer, nullable=False),
        sa.Column("cost", sa.Float, nullable=False),
    ]


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "llm_cycles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("started_at", ts, nullable=False),
        sa.Column("finished_at", ts),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("replay_of", sa.Integer),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decision", sa.String(24)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("input_tokens", sa.Integer, nullable=False),
        sa.Column("output_tokens", sa.Integer, nullable=False),
        sa.Column("cost", sa.Float, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("context", sa.JSON, nullable=False),
    )
    op.create_index("ix_llm_cycles_started_at", "llm_cycles", ["started_at"])
    op.create_index("ix_llm_cycles_status", "llm_cycles", ["status"])
    op.create_table(
        "thoughts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cycle_id", sa.Integer, sa.ForeignKey("llm_cycles.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("stage", sa.String(24), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("request_text", sa.Text, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        *_tokens(),
        sa.Column("latency_s", sa.Float, nullable=False),
        sa.Column("stop_reason", sa.String(32), nullable=False),
        sa.Column("raw_text", sa.Text, nullable=False),
        sa.Column("parsed", sa.JSON),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("created_at", ts, nullable=False),
    )
    op.create_index("ix_thoughts_cycle_id", "thoughts", ["cycle_id"])
    op.create_index("ix_thoughts_request_hash", "thoughts", ["request_hash"])
    op.create_table(
        "observations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cycle_id", sa.Integer, sa.ForeignKey("llm_cycles.id"), nullable=False),
        sa.Column("text", sa.String(1000), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.UniqueConstraint("cycle_id", "text", name="uq_observations_cycle_text"),
    )
    op.create_index("ix_observations_cycle_id", "observations", ["cycle_id"])
    op.create_index("ix_observations_created_at", "observations", ["created_at"])
    op.create_table(
        "ai_usage",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("cycle_id", sa.Integer, sa.ForeignKey("llm_cycles.id")),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(24), nullable=False),
        *_tokens(),
    )
    op.create_index("ix_ai_usage_created_at", "ai_usage", ["created_at"])
    op.create_index("ix_ai_usage_service", "ai_usage", ["service"])
    op.create_table(
        "budget_alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("period_start", sa.String(10), nullable=False),
        sa.Column("measure", sa.String(8), nullable=False),
        sa.Column("level", sa.Float, nullable=False),
        sa.Column("spent", sa.Float, nullable=False),
        sa.Column("limit", sa.Float, nullable=False),
        sa.UniqueConstraint("service", "period", "period_start", "measure", "level", name="uq_budget_alerts"),
    )
    op.create_table(
        "strategy_candidates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("cycle_id", sa.Integer, sa.ForeignKey("llm_cycles.id"), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("parent", sa.String(160), nullable=False),
        sa.Column("path", sa.String(400), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("diff", sa.Text, nullable=False),
        sa.Column("gates", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("shadow_key", sa.String(64)),
    )
    op.create_index("ix_strategy_candidates_cycle_id", "strategy_candidates", ["cycle_id"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and _fts5_available(bind):
        for statement in FTS:
            op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("thoughts_fts_ai", "thoughts_fts_ad"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS thoughts_fts")
    for table in (
        "strategy_candidates",
        "budget_alerts",
        "ai_usage",
        "observations",
        "thoughts",
        "llm_cycles",
    ):
        op.drop_table(table)
