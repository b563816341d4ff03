"""SQLite persistence: one connection, one thread, versioned schema."""

from .database import Database, transaction

__all__ = ["Database", "transaction"]
