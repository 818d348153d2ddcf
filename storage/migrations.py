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

M002_REPORTS = """
CREATE TABLE reports (
    id INTEGER PRIMARY KEY,
    ref TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('hazard', 'grievance')),
    category TEXT NOT NULL,
    subcategory TEXT,
    description TEXT NOT NULL DEFAULT '',
    voice TEXT,
    latitude REAL,
    longitude REAL,
    address TEXT,
    location_source TEXT,
    anonymous INTEGER NOT NULL DEFAULT 0,
    reporter TEXT NOT NULL REFERENCES users(id),
    branch_id INTEGER,
    status TEXT NOT NULL,
    reopened INTEGER NOT NULL DEFAULT 0,
    rating INTEGER,
    rating_comment TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX reports_open_nearby ON reports(kind, category, status, latitude, longitude);
CREATE INDEX reports_reporter ON reports(reporter);

CREATE TABLE report_reporters (
    report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id),
    joined_at TEXT NOT NULL,
    PRIMARY KEY (report_id, user_id)
);
CREATE INDEX report_reporters_user ON report_reporters(user_id);

CREATE TABLE report_photos (
    report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (report_id, sha256)
);

CREATE TABLE report_history (
    id INTEGER PRIMARY KEY,
    report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX report_history_report ON report_history(report_id, id);

CREATE TABLE ref_counters (
    prefix TEXT NOT NULL,
    day TEXT NOT NULL,
    last INTEGER NOT NULL,
    PRIMARY KEY (prefix, day)
);
"""

M003_DELIVERY = """
ALTER TABLE outbox ADD COLUMN delivered_as TEXT;
ALTER TABLE users ADD COLUMN unreachable_at TEXT;
"""
"""The platform's own id of a sent message, so a later one can edit it in place; and when a
user blocked the bot, so broadcasts skip them until they write again."""

M004_BRANCHES = """
CREATE TABLE branches (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    district TEXT NOT NULL DEFAULT '',
    parent_id INTEGER REFERENCES branches(id),
    created_at TEXT NOT NULL
);
CREATE INDEX branches_parent ON branches(parent_id);

CREATE TABLE secretaries (
    branch_id INTEGER NOT NULL REFERENCES branches(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    appointed_by TEXT NOT NULL,
    appointed_at TEXT NOT NULL,
    PRIMARY KEY (branch_id, user_id)
);
CREATE INDEX secretaries_user ON secretaries(user_id);

CREATE TABLE admins (
    user_id TEXT PRIMARY KEY,
    appointed_by TEXT NOT NULL,
    appointed_at TEXT NOT NULL
);

CREATE TABLE memberships (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    branch_id INTEGER NOT NULL REFERENCES branches(id),
    joined_at TEXT NOT NULL
);
CREATE INDEX memberships_branch ON memberships(branch_id);

ALTER TABLE declarations ADD COLUMN reviewed_by TEXT;
ALTER TABLE declarations ADD COLUMN reviewed_at TEXT;
ALTER TABLE declarations ADD COLUMN review_note TEXT;
CREATE INDEX declarations_status ON declarations(status, created_at);

CREATE INDEX reports_branch ON reports(branch_id, status, created_at);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);

CREATE TABLE points (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    delta INTEGER NOT NULL,
    reason TEXT NOT NULL,
    report_id INTEGER REFERENCES reports(id),
    at TEXT NOT NULL,
    UNIQUE (user_id, reason, report_id)
);

CREATE TABLE broadcasts (
    id INTEGER PRIMARY KEY,
    author TEXT NOT NULL,
    audience TEXT NOT NULL,
    branch_id INTEGER REFERENCES branches(id),
    text TEXT NOT NULL,
    urgent INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL,
    progress_message INTEGER,
    finished_at TEXT,
    created_at TEXT NOT NULL
);

ALTER TABLE outbox ADD COLUMN broadcast_id INTEGER REFERENCES broadcasts(id);
ALTER TABLE outbox ADD COLUMN outcome TEXT;
CREATE INDEX outbox_broadcast ON outbox(broadcast_id, outcome);
"""
"""Branches and the organisation tree above them, who runs them, who belongs to them; the
review of declarations; an audit log; points; broadcasts and how each message of one fared."""

M005_TIMERS = """
CREATE TABLE timers (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE,
    due_at TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    done_at TEXT,
    outcome TEXT
);
CREATE INDEX timers_due ON timers(done_at, due_at);

ALTER TABLE reports ADD COLUMN ack_due_at TEXT;
ALTER TABLE reports ADD COLUMN answer_due_at TEXT;
ALTER TABLE reports ADD COLUMN overdue_level INTEGER NOT NULL DEFAULT 0;
"""
"""Everything that must happen at a time — deadlines, reminders, digests, pushes held for the
quiet hours — is a row here; the scheduler's jobs are rebuilt from it at start-up."""

M006_ACTIVITIES = """
CREATE TABLE activities (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    latitude REAL,
    longitude REAL,
    link TEXT NOT NULL DEFAULT '',
    recurrence TEXT NOT NULL DEFAULT 'none' CHECK (recurrence IN ('none', 'weekly', 'monthly')),
    checkin_code TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE activity_branches (
    activity_id INTEGER NOT NULL REFERENCES activities(id) ON DELETE CASCADE,
    branch_id INTEGER NOT NULL REFERENCES branches(id),
    PRIMARY KEY (activity_id, branch_id)
);

CREATE TABLE rsvps (
    activity_id INTEGER NOT NULL REFERENCES activities(id) ON DELETE CASCADE,
    occurrence TEXT NOT NULL,
    user_id TEXT NOT NULL,
    answer TEXT NOT NULL CHECK (answer IN ('yes', 'no')),
    at TEXT NOT NULL,
    PRIMARY KEY (activity_id, occurrence, user_id)
);

CREATE TABLE checkins (
    activity_id INTEGER NOT NULL REFERENCES activities(id) ON DELETE CASCADE,
    occurrence TEXT NOT NULL,
    user_id TEXT NOT NULL,
    method TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (activity_id, occurrence, user_id)
);
"""
"""Branch activities (组织生活): each occurrence of a recurring one is named by its start."""

M007_STATIONS = """
CREATE TABLE stations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    latitude REAL NOT NULL,
    longitude REAL NOT NULL,
    hours TEXT NOT NULL,
    amenities TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    operator TEXT NOT NULL DEFAULT '',
    offer TEXT NOT NULL DEFAULT '',
    closed_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE VIRTUAL TABLE stations_index USING rtree(id, min_lat, max_lat, min_lon, max_lon);

CREATE TABLE station_feedback (
    id INTEGER PRIMARY KEY,
    station_id INTEGER REFERENCES stations(id),
    user_id TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""
"""Warm stations (暖新驿站 …) with an R*Tree over their coordinates (WGS-84), and what riders
tell us about them."""

M008_ROBOTS = """
ALTER TABLE branches ADD COLUMN robot_webhook TEXT NOT NULL DEFAULT '';
"""
"""A branch's WeCom group robot, which also gets the branch's alerts."""

M009_RECIPIENT_INDEX = """
CREATE INDEX outbox_recipient ON outbox(recipient, id);
"""
"""A user's messages newest first: the keyboard on their screen is the newest one sent."""

M010_BRANCH_GROUPS = """
UPDATE outbox SET recipient = 'group:' || substr(recipient, length('wecomrobot:') + 1)
WHERE recipient LIKE 'wecomrobot:%';
"""
"""A branch's group messages are addressed ``group:<branch id>``, not by WeCom's name: the core
knows a branch may have a group chat, a transport knows what carries it."""

M011_INBOX = """
CREATE TABLE inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    platform TEXT NOT NULL,
    chat TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX inbox_waiting ON inbox(platform, id);
CREATE INDEX processed_updates_at ON processed_updates(processed_at);

CREATE TABLE heartbeat (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    beat_at TEXT NOT NULL
);
"""
"""What platforms delivered, kept from the moment it is received until it is handled: a
platform is told "received" only once its update is here. Ids are never used again (rows come
and go), so a worker reading "the rows after the last one I took" misses none. The heartbeat
is the row a health check writes to learn that the database still takes writes."""

M012_ANSWERS_FIRST = """
ALTER TABLE outbox ADD COLUMN bulk INTEGER NOT NULL DEFAULT 0;
UPDATE outbox SET bulk = 1 WHERE broadcast_id IS NOT NULL;
CREATE INDEX outbox_unsent_by_kind ON outbox(sent_at, bulk, id);

ALTER TABLE broadcasts ADD COLUMN sent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE broadcasts ADD COLUMN failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE broadcasts ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;
UPDATE broadcasts SET
    sent = (SELECT count(*) FROM outbox o WHERE o.broadcast_id = broadcasts.id
            AND o.outcome = 'sent'),
    failed = (SELECT count(*) FROM outbox o WHERE o.broadcast_id = broadcasts.id
              AND o.outcome = 'failed'),
    blocked = (SELECT count(*) FROM outbox o WHERE o.broadcast_id = broadcasts.id
               AND o.outcome = 'blocked');
"""
"""Bulk messages (broadcast copies, what timers send) wait while answers go: the outbox says
which is which. A broadcast counts its copies as they are done, instead of counting its
outbox rows again after each one (and losing the count when old rows are pruned)."""

M013_WECHAT = """
ALTER TABLE outbox ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN about TEXT;
CREATE INDEX outbox_held ON outbox(recipient) WHERE held = 1;
CREATE INDEX outbox_unsent_about ON outbox(about) WHERE sent_at IS NULL AND about IS NOT NULL;
ALTER TABLE broadcasts ADD COLUMN held INTEGER NOT NULL DEFAULT 0;

CREATE TABLE send_windows (
    recipient TEXT PRIMARY KEY,
    closes_at TEXT NOT NULL,
    sends_left INTEGER NOT NULL,
    via TEXT NOT NULL DEFAULT '',
    welcome_code TEXT NOT NULL DEFAULT '',
    welcome_until TEXT
);

CREATE TABLE kf_accounts (
    open_kfid TEXT PRIMARY KEY,
    cursor TEXT NOT NULL DEFAULT '',
    token TEXT NOT NULL DEFAULT '',
    token_until TEXT,
    asked INTEGER NOT NULL DEFAULT 0,
    pulled INTEGER NOT NULL DEFAULT 0,
    contact_url TEXT NOT NULL DEFAULT ''
);
"""
"""A platform that lets the bot write only for a while after the user wrote (WeChat's 48 hours
and five messages) keeps its window per recipient; what may not go out yet is held in the
outbox, not lost, and a status update's item is named so a secretary can see it waits. The
WeChat customer-service accounts keep where their message pull stands (the cursor survives a
restart) and whether a callback asked for a pull that has not finished."""

M014_CHECKIN_TRIES = """
CREATE TABLE checkin_tries (
    activity_id INTEGER NOT NULL,
    occurrence TEXT NOT NULL,
    user_id TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_at TEXT NOT NULL,
    PRIMARY KEY (activity_id, occurrence, user_id)
);
"""
"""Wrong check-in codes per rider and activity: a few tries, then a wait, so a four-digit
code cannot be guessed by trying them all."""

M015_CARDS = """
ALTER TABLE outbox ADD COLUMN card_of TEXT;
CREATE INDEX outbox_cards ON outbox(card_of) WHERE card_of IS NOT NULL;
"""
"""A handler's card names its item, so that when one handler acts every other card of the
item can be edited to say so."""

M016_PERSONAL_DATA = """
ALTER TABLE users ADD COLUMN withdrawn_at TEXT;
ALTER TABLE outbox ADD COLUMN subject TEXT;
CREATE INDEX outbox_subject ON outbox(subject) WHERE subject IS NOT NULL;
CREATE TABLE erasures (
    user_id TEXT PRIMARY KEY,
    asked_at TEXT NOT NULL,
    asked_by TEXT NOT NULL
);
CREATE INDEX report_photos_file ON report_photos(sha256);
CREATE INDEX reports_voice ON reports(voice) WHERE voice IS NOT NULL;
"""
"""What deletion needs to find: a rider who withdrew (their items say so), the messages that
carry a person's declaration (``subject``), erasures that wait for open items to close, and
whether an item still holds a stored file."""

M017_OPEN_ITEMS = """
CREATE INDEX reports_open_by_age ON reports(created_at, id)
    WHERE status IN ('submitted', 'acknowledged', 'in_progress', 'forwarded');
CREATE INDEX conversations_idle ON conversations(updated_at);
CREATE INDEX declarations_waiting ON declarations(status, updated_at);
"""
"""An admin's queue (every open item, and every declaration to verify, oldest first) read from
the front of indexes in that order, and forms left alone found without reading every form."""

M018_HANDLING_HOURS = """
ALTER TABLE reports ADD COLUMN hours_to_ack REAL;
ALTER TABLE reports ADD COLUMN hours_to_resolve REAL;
UPDATE reports SET
    hours_to_ack = (
        SELECT (julianday(MIN(h.at)) - julianday(reports.created_at)) * 24
        FROM report_history h WHERE h.report_id = reports.id
        AND h.from_status = 'submitted' AND h.actor != reports.reporter
    ),
    hours_to_resolve = (
        SELECT (julianday(MIN(h.at)) - julianday(reports.created_at)) * 24
        FROM report_history h WHERE h.report_id = reports.id AND h.to_status = 'resolved'
    );
CREATE INDEX reports_ack_hours ON reports(hours_to_ack) WHERE hours_to_ack IS NOT NULL;
CREATE INDEX reports_resolve_hours ON reports(hours_to_resolve)
    WHERE hours_to_resolve IS NOT NULL;
CREATE INDEX reports_figures
    ON reports(kind, status, category, overdue_level, rating, hours_to_ack);
"""
"""How long each item waited to be acted on and to be resolved, kept on the item when its
status changes, so the medians are read from an index instead of the whole history; and an
index holding every column the statistics count, so they are one pass over it, in order,
without reading the items themselves."""

M019_WEB_CONSOLE = """
CREATE TABLE web_links (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    used_at TEXT
);
CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    csrf TEXT NOT NULL,
    lang TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions(user_id);
CREATE INDEX web_links_age ON web_links(created_at);
CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);
CREATE INDEX reports_by_age ON reports(created_at, id);
CREATE INDEX reports_open_due ON reports(
    branch_id,
    (CASE WHEN status IN ('submitted', 'forwarded') THEN ack_due_at ELSE answer_due_at END)
) WHERE status IN ('submitted', 'acknowledged', 'in_progress', 'forwarded');
CREATE INDEX reports_due_open ON reports(
    (CASE WHEN status IN ('submitted', 'forwarded') THEN ack_due_at ELSE answer_due_at END),
    branch_id
) WHERE status IN ('submitted', 'acknowledged', 'in_progress', 'forwarded');
CREATE INDEX reports_branch_figures ON reports(
    branch_id, kind, status, category, overdue_level, rating, hours_to_ack, hours_to_resolve
);
CREATE INDEX audit_log_actor ON audit_log(actor, id);
CREATE INDEX declarations_political ON declarations(political_status);
CREATE INDEX declarations_platform ON declarations(platform);
CREATE INDEX declarations_district ON declarations(district);
"""
"""The web console's one-time sign-in links and its sessions, kept by the hash of their
tokens (a copy of the database signs nobody in); the orders its pages read items in; open
items by when their next step is due (the deadline board), written out as
``storage.item_lists.DUE`` and ``storage.reports.IS_OPEN`` are, so SQLite matches them; an
organisation's figures in one index; and indexes that members are counted from."""

M020_OWED_WORK = """
CREATE TABLE owed_work (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    tries INTEGER NOT NULL DEFAULT 0
);
"""
"""What events left for after their transaction, until its answer is queued."""

MIGRATIONS: tuple[str, ...] = (
    M001_INITIAL,
    M002_REPORTS,
    M003_DELIVERY,
    M004_BRANCHES,
    M005_TIMERS,
    M006_ACTIVITIES,
    M007_STATIONS,
    M008_ROBOTS,
    M009_RECIPIENT_INDEX,
    M010_BRANCH_GROUPS,
    M011_INBOX,
    M012_ANSWERS_FIRST,
    M013_WECHAT,
    M014_CHECKIN_TRIES,
    M015_CARDS,
    M016_PERSONAL_DATA,
    M017_OPEN_ITEMS,
    M018_HANDLING_HOURS,
    M019_WEB_CONSOLE,
    M020_OWED_WORK,
)
