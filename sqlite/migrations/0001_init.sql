-- The journal: every audit event podtrace acknowledged, redacted.
CREATE TABLE journal (
    seq        INTEGER PRIMARY KEY,
    cluster    TEXT NOT NULL,
    key        TEXT NOT NULL,
    uid        TEXT NOT NULL DEFAULT '',
    namespace  TEXT NOT NULL DEFAULT '',
    name       TEXT NOT NULL DEFAULT '',
    time       INTEGER NOT NULL,
    body       BLOB NOT NULL,
    UNIQUE (cluster, key)
);
CREATE INDEX journal_uid ON journal (cluster, uid);
CREATE INDEX journal_name ON journal (cluster, namespace, name);

-- Pod lifecycle states, so pods can leave memory and survive restarts.
CREATE TABLE pods (
    cluster    TEXT NOT NULL,
    uid        TEXT NOT NULL,
    namespace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    created    INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    state      BLOB NOT NULL,
    PRIMARY KEY (cluster, uid)
);
CREATE INDEX pods_name ON pods (cluster, namespace, name);

-- Delivery records; body is the record's JSON.
CREATE TABLE records (
    cluster    TEXT NOT NULL,
    uid        TEXT NOT NULL,
    kind       TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    namespace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    node       TEXT NOT NULL DEFAULT '',
    created    INTEGER NOT NULL,
    finished   INTEGER,
    codes      TEXT NOT NULL DEFAULT '',
    owners     TEXT NOT NULL DEFAULT '',
    body       BLOB NOT NULL,
    PRIMARY KEY (cluster, uid, kind, seq)
);
CREATE INDEX records_created ON records (created DESC);
CREATE INDEX records_ns ON records (namespace, created DESC);

-- How far each cluster's journal was applied, and source offsets.
CREATE TABLE progress (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
);
