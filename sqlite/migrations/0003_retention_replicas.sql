-- applied: the journal position a saved pod state (and its records)
-- reflects. A save never replaces a row with one from an earlier position,
-- so replicas that apply the same journal at different speeds converge on
-- the newest state (see postgres/doc.go, "Replicas").
ALTER TABLE pods ADD COLUMN applied INTEGER NOT NULL DEFAULT 0;
ALTER TABLE records ADD COLUMN applied INTEGER NOT NULL DEFAULT 0;

-- Retention deletes the oldest rows of a cluster in bounded batches.
CREATE INDEX journal_time ON journal (cluster, time);
CREATE INDEX pods_last_seen ON pods (cluster, last_seen);
CREATE INDEX records_age ON records (cluster, coalesce(finished, created));
