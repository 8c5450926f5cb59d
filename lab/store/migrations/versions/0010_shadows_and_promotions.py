"""shadows and promotions: a shadow book's own settings, and every promoter evaluation

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("books") as batch:
        batch.add_column(sa.Column("settings", sa.JSON, nullable=True))
    op.create_table(
        "promotion_evaluations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shadow", sa.String(64), nullable=False),
        sa.Column("active", sa.String(64), nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("n_trials", sa.Integer, nullable=False),
        sa.Column("psr", sa.Float, nullable=True),
        sa.Column("dsr", sa.Float, nullable=True),
        sa.Column("paired_p", sa.Float, nullable=True),
        sa.Column("min_track_days", sa.Float, nullable=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("numbers", sa.JSON, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
    )
    op.create_index("ix_promotion_evaluations_created_at", "promotion_evaluations", ["created_at"])
    op.create_index("ix_promotion_evaluations_shadow", "promotion_evaluations", ["shadow"])


def downgrade() -> None:
    op.drop_table("promotion_evaluations")
    with op.batch_alter_table("books") as batch:
        batch.drop_column("settings")
