"""analysis modules and their outputs

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 08:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analysis_modules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("parent_version", sa.String(length=32), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_analysis_modules_name", "analysis_modules", ["name"])
    op.create_table(
        "analysis_outputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("isolation", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_analysis_outputs_name", "analysis_outputs", ["name"])
    op.create_index("ix_analysis_outputs_run_at", "analysis_outputs", ["run_at"])


def downgrade() -> None:
    op.drop_index("ix_analysis_outputs_run_at", table_name="analysis_outputs")
    op.drop_index("ix_analysis_outputs_name", table_name="analysis_outputs")
    op.drop_table("analysis_outputs")
    op.drop_index("ix_analysis_modules_name", table_name="analysis_modules")
    op.drop_table("analysis_modules")
