-- The journal: every audit event podtrace acknowledged, redacted.
CREATE TABLE journal (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cluster    text COLLATE "C" NOT NULL,
    key        text COLLATE "C" NOT NULL,
    uid        text COLLATE "C" NOT NULL DEFAULT '',
    namespace  text COLLATE "C" NOT NULL DEFAULT '',
    name       text COLLATE "C" NOT NULL DEFAULT '',
    time       bigint NOT NULL, -- unix ns
    body       bytea NOT NULL,
    UNIQUE (cluster, key)
);
CREATE INDEX journal_seq ON journal (cluster, seq);
CREATE INDEX journal_uid ON journal (cluster, uid);
CREATE INDEX journal_name ON journal (cluster, namespace, name);
CREATE INDEX journal_time ON journal (cluster, time);

-- Pod lifecycle states, so pods can leave memory and survive restarts.
-- applied: the journal position the state reflects (saves never go back).
CREATE TABLE pods (
    cluster    text COLLATE "C" NOT NULL,
    uid        text COLLATE "C" NOT NULL,
    namespace  text COLLATE "C" NOT NULL,
    name       text COLLATE "C" NOT NULL,
    created    bigint NOT NULL,
    last_seen  bigint NOT NULL,
    applied    bigint NOT NULL DEFAULT 0,
    state      bytea NOT NULL,
    PRIMARY KEY (cluster, uid)
);
CREATE INDEX pods_name ON pods (cluster, namespace, name);
CREATE INDEX pods_last_seen ON pods (cluster, last_seen);

-- Delivery records; body is the record's JSON.
CREATE TABLE records (
    cluster    text COLLATE "C" NOT NULL,
    uid        text COLLATE "C" NOT NULL,
    kind       text COLLATE "C" NOT NULL,
    seq        integer NOT NULL,
    namespace  text COLLATE "C" NOT NULL,
    name       text COLLATE "C" NOT NULL,
    outcome    text COLLATE "C" NOT NULL,
    node       text COLLATE "C" NOT NULL DEFAULT '',
    created    bigint NOT NULL,
    finished   bigint,
    codes      text[] NOT NULL DEFAULT '{}',
    owners     text[] NOT NULL DEFAULT '{}',
    trace_id   text COLLATE "C" NOT NULL DEFAULT '',
    applied    bigint NOT NULL DEFAULT 0,
    body       bytea NOT NULL,
    PRIMARY KEY (cluster, uid, kind, seq)
);
CREATE INDEX records_created ON records (created DESC);
CREATE INDEX records_cluster ON records (cluster, created DESC);
CREATE INDEX records_ns ON records (namespace, created DESC);
CREATE INDEX records_trace ON records (trace_id);
CREATE INDEX records_codes ON records USING gin (codes);
CREATE INDEX records_age ON records (cluster, (coalesce(finished, created)));

-- How far each cluster's journal was applied, and source offsets.
CREATE TABLE progress (
    name   text COLLATE "C" PRIMARY KEY,
    value  bigint NOT NULL
);
