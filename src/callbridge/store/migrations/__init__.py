"""Alembic migrations of the callbridge schema."""
