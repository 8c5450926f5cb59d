"""strategy_deployments: versions made active, archived or restored

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "strategy_deployments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("parent_version", sa.String(32)),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("path", sa.String(400), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("sizing", sa.String(16)),
        sa.Column("rollout_id", sa.Integer),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_strategy_deployments_name", "strategy_deployments", ["name"])


def downgrade() -> None:
    op.drop_table("strategy_deployments")
