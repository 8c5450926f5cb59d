"""books: every ledger row keyed by the account (book) it belongs to

Existing rows are assigned to a book per mode found in the ledger (paper, live), named like the mode
so the engine's state row and lock keep their names. Fills follow their order's book. Scan results and
risk events carried no mode before: they go to the paper book when there is one (the only engine that
ran in practice), else to the only book there is.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

KEYED = (
    "orders",
    "fills",
    "positions",
    "engine_trades",
    "equity_snapshots",
    "scan_results",
    "risk_events",
    "sizing_decisions",
)
WITH_MODE = ("orders", "positions", "engine_trades", "equity_snapshots", "sizing_decisions")
NAMING = {
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
}


def upgrade() -> None:
    op.create_table(
        "books",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("strategy", sa.String(length=128), nullable=False),
        sa.Column("strategy_version", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("capital_share", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    for table in KEYED:
        with op.batch_alter_table(table, naming_convention=NAMING) as batch:
            batch.add_column(sa.Column("book_id", sa.Integer(), nullable=True))
            batch.create_index(f"ix_{table}_book_id", ["book_id"])
            batch.create_foreign_key(f"fk_{table}_book_id_books", "books", ["book_id"], ["id"])
    conn = op.get_bind()
    modes = set()
    for table in WITH_MODE:
        modes |= {m for (m,) in conn.execute(sa.text(f"SELECT DISTINCT mode FROM {table}"))}
    modes |= {k.split(":")[0] for (k,) in conn.execute(sa.text("SELECT mode FROM engine_state"))}
    for mode in sorted(m for m in modes if m):
        latest = conn.execute(
            sa.text(
                "SELECT strategy, strategy_version FROM engine_trades WHERE mode = :m ORDER BY id DESC LIMIT 1"
            ),
            {"m": mode},
        ).first()
        conn.execute(
            sa.text(
                "INSERT INTO books (key, strategy, strategy_version, params, mode, capital_share, status, created_at) "
                "VALUES (:k, :s, :v, '{}', :m, 1.0, 'active', CURRENT_TIMESTAMP)"
            ),
            {"k": mode, "s": latest[0] if latest else "unknown", "v": latest[1] if latest else "", "m": mode},
        )
    books = dict(conn.execute(sa.text("SELECT mode, id FROM books")).all())
    for table in WITH_MODE:
        for mode, book in books.items():
            conn.execute(sa.text(f"UPDATE {table} SET book_id = :b WHERE mode = :m"), {"b": book, "m": mode})
    conn.execute(
        sa.text("UPDATE fills SET book_id = (SELECT book_id FROM orders WHERE orders.id = fills.order_id)")
    )
    fallback = books.get("paper") or (next(iter(books.values())) if len(books) == 1 else None)
    if fallback is not None:
        for table in ("scan_results", "risk_events"):
            conn.execute(sa.text(f"UPDATE {table} SET book_id = :b WHERE book_id IS NULL"), {"b": fallback})
    # one open position per book and symbol (was: per mode and symbol)
    if conn.dialect.name == "postgresql":
        op.drop_constraint("positions_mode_symbol_key", "positions", type_="unique")
        op.create_unique_constraint("uq_positions_book_symbol", "positions", ["book_id", "symbol"])
    else:
        with op.batch_alter_table("positions", naming_convention=NAMING, recreate="always") as batch:
            batch.drop_constraint("uq_positions_mode", type_="unique")
            batch.create_unique_constraint("uq_positions_book_symbol", ["book_id", "symbol"])


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.drop_constraint("uq_positions_book_symbol", "positions", type_="unique")
        op.create_unique_constraint("positions_mode_symbol_key", "positions", ["mode", "symbol"])
    else:
        with op.batch_alter_table("positions", naming_convention=NAMING, recreate="always") as batch:
            batch.drop_constraint("uq_positions_book_symbol", type_="unique")
            batch.create_unique_constraint("uq_positions_mode", ["mode", "symbol"])
    for table in KEYED:
        with op.batch_alter_table(table, naming_convention=NAMING) as batch:
            batch.drop_constraint(f"fk_{table}_book_id_books", type_="foreignkey")
            batch.drop_index(f"ix_{table}_book_id")
            batch.drop_column("book_id")
    op.drop_table("books")
