"""Numbered schema migrations. Append; never edit a migration that has shipped.

``PRAGMA user_version`` records how many have been applied.
"""

MIGRATIONS: list[str] = [
    # 1: workflows saved by users, and the index of template trees.
    """
    CREATE TABLE workflows (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        filename    TEXT NOT NULL UNIQUE,
        developer   TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        created_at  REAL NOT NULL,
        updated_at  REAL NOT NULL
    );
    CREATE TABLE templates (
        id          TEXT PRIMARY KEY,
        path        TEXT NOT NULL UNIQUE,
        name        TEXT NOT NULL,
        category    TEXT,
        developer   TEXT NOT NULL DEFAULT '',
        source      TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        cover       TEXT,
        readme      TEXT,
        seen_at     REAL NOT NULL
    )
    """,
]
