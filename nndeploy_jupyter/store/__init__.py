"""SQLite persistence: one connection, one thread, versioned schema."""

from .database import Database

__all__ = ["Database"]
