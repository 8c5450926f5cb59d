"""agent votes: decisions of voting strategies with every agent's vote, agent states and daily
performance snapshots; the market regime on scans and trades

Votes are stored per decision bar (a bar where a voting strategy signalled), not per bar: a year of 5m
bars on 3 symbols is ~315k bars, and with 10 agents a row per bar would be 3M rows per run where the
decisions are a small share of that. They stay in the DB (not Parquet beside it) so the statistics
shell's read-only connection, PostgreSQL and one transaction with the trades see them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("scan_results", "engine_trades", "backtest_trades"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("regime", sa.String(16), nullable=True))
    op.create_table(
        "vote_decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "experiment_id", sa.Integer, sa.ForeignKey("experiments.id", ondelete="CASCADE"), nullable=True
        ),
        sa.Column("book_id", sa.Integer, sa.ForeignKey("books.id"), nullable=True),
        sa.Column("strategy", sa.String(128), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("bar_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("voters", sa.Integer, nullable=False),
        sa.Column("regime", sa.String(16), nullable=True),
    )
    for column in ("experiment_id", "book_id", "strategy", "bar_time"):
        op.create_index(f"ix_vote_decisions_{column}", "vote_decisions", [column])
    op.create_table(
        "agent_votes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "decision_id", sa.Integer, sa.ForeignKey("vote_decisions.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("vote", sa.Float, nullable=True),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("abstain", sa.String(200), nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
    )
    op.create_index("ix_agent_votes_decision_id", "agent_votes", ["decision_id"])
    op.create_index("ix_agent_votes_agent", "agent_votes", ["agent"])
    op.create_table(
        "agent_states",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_agent_states_agent", "agent_states", ["agent"])
    op.create_table(
        "agent_performance",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("strategy", sa.String(128), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("decisions", sa.Integer, nullable=False),
        sa.Column("votes", sa.Integer, nullable=False),
        sa.Column("abstention_rate", sa.Float, nullable=False),
        sa.Column("hit_rate", sa.Float, nullable=True),
        sa.Column("hit_low", sa.Float, nullable=True),
        sa.Column("hit_high", sa.Float, nullable=True),
        sa.Column("ic", sa.Float, nullable=True),
        sa.Column("ic_low", sa.Float, nullable=True),
        sa.Column("ic_high", sa.Float, nullable=True),
        sa.Column("p_value", sa.Float, nullable=True),
        sa.Column("p_adjusted", sa.Float, nullable=True),
        sa.Column("flagged", sa.Boolean, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("day", "strategy", "agent", name="uq_agent_performance_day"),
    )
    op.create_index("ix_agent_performance_day", "agent_performance", ["day"])


def downgrade() -> None:
    op.drop_table("agent_performance")
    op.drop_table("agent_states")
    op.drop_table("agent_votes")
    op.drop_table("vote_decisions")
    for table in ("backtest_trades", "engine_trades", "scan_results"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("regime")
