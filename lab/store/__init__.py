"""Store: SQLAlchemy models, Alembic migrations, sessions and the Parquet candle store."""
