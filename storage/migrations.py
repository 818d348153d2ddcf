"""Numbered schema migrations. Append only: a released migration is never edited.

``PRAGMA user_version`` records how many have been applied; :meth:`Database.migrate`
runs each with its version bump in one transaction.
"""

M001_INITIAL = """
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    lang TEXT NOT NULL DEFAULT 'zh',
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);

CREATE TABLE conversations (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    flow TEXT NOT NULL,
    step TEXT NOT NULL,
    draft TEXT NOT NULL,
    token TEXT NOT NULL,
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE processed_updates (
    key TEXT PRIMARY KEY,
    processed_at TEXT NOT NULL
);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    recipient TEXT NOT NULL,
    payload TEXT NOT NULL,
    has_buttons INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX outbox_unsent ON outbox(sent_at, id);
CREATE INDEX outbox_buttons ON outbox(recipient, has_buttons, id);

CREATE TABLE declarations (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    phone TEXT NOT NULL,
    platform TEXT NOT NULL,
    station TEXT NOT NULL,
    city TEXT NOT NULL,
    district TEXT NOT NULL,
    political_status TEXT NOT NULL,
    party_registration TEXT,
    wants_branch INTEGER,
    duty TEXT NOT NULL,
    pledge TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    consent_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX declarations_phone ON declarations(phone);
"""

MIGRATIONS: tuple[str, ...] = (M001_INITIAL,)
