-- Closed records whose once-per-close side effects (delivery metrics, trace
-- export) a replica has taken on: the first replica to claim a record wins,
-- the others leave it (see ClaimReports). finished is the record's, for
-- retention.
CREATE TABLE reports (
    cluster    text COLLATE "C" NOT NULL,
    uid        text COLLATE "C" NOT NULL,
    kind       text COLLATE "C" NOT NULL,
    seq        integer NOT NULL,
    finished   bigint NOT NULL,
    PRIMARY KEY (cluster, uid, kind, seq)
);
CREATE INDEX reports_age ON reports (cluster, finished);
