"""Persistence: SQLAlchemy Core tables, Alembic migrations, and the writer of the append-only logs."""
