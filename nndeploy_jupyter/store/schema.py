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
    # 2: the durable task queue. ``seq`` is the submission order; JSON columns hold dicts/lists as text.
    """
    CREATE TABLE tasks (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        id            TEXT NOT NULL UNIQUE,
        state         TEXT NOT NULL,
        priority      INTEGER NOT NULL,
        name          TEXT NOT NULL DEFAULT '',
        graph         TEXT NOT NULL,
        source        TEXT,
        params        TEXT,
        submitted_at  REAL NOT NULL,
        dispatched_at REAL,
        started_at    REAL,
        finished_at   REAL,
        worker_pid    INTEGER,
        error         TEXT,
        time_profile  TEXT,
        result_values TEXT,
        outputs       TEXT
    );
    CREATE INDEX tasks_queue_order ON tasks (state, priority, seq);
    CREATE INDEX tasks_finished ON tasks (finished_at)
    """,
    # 3: tasks that fetch their graph's *_url_ resources before they queue (POST queue with "download": true).
    """
    ALTER TABLE tasks ADD COLUMN download INTEGER NOT NULL DEFAULT 0
    """,
    # 4: a cancel asked for while the task was on the executor; its end follows (POST queue/cancel answers at once).
    """
    ALTER TABLE tasks ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0
    """,
    # 5: batches (POST queue/batch): one id grouping the tasks of one request, each at its entry's index.
    """
    CREATE TABLE batches (
        id           TEXT PRIMARY KEY,
        name         TEXT NOT NULL DEFAULT '',
        source       TEXT,
        submitted_at REAL NOT NULL,
        total        INTEGER NOT NULL
    );
    ALTER TABLE tasks ADD COLUMN batch_id TEXT REFERENCES batches (id);
    ALTER TABLE tasks ADD COLUMN batch_index INTEGER;
    CREATE INDEX tasks_batch ON tasks (batch_id, batch_index)
    """,
]
