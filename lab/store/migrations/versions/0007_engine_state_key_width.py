"""engine_state.mode wide enough for its backup key ("paper:backup"): SQLite never enforced the
8 characters, PostgreSQL does

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("engine_state") as batch:
        batch.alter_column("mode", existing_type=sa.String(length=8), type_=sa.String(length=32))


def downgrade() -> None:
    with op.batch_alter_table("engine_state") as batch:
        batch.alter_column("mode", existing_type=sa.String(length=32), type_=sa.String(length=8))
