-- Each record's brief (podtrace.Brief, encoded by internal/sqlstore): what
-- lists and summaries read, written by every save beside the body. For rows
-- saved before this migration, its Go step (fillBriefs) computes it from
-- the bodies, in the same transaction.
ALTER TABLE records
    ADD COLUMN brief bytea NOT NULL DEFAULT '\x',
    ADD COLUMN span_traces text[] NOT NULL DEFAULT '{}'; -- Record.SpanTraceIDs

-- Pages of records are read newest first in a total order (created DESC,
-- then the key): an index in exactly that order lets PostgreSQL walk it
-- from the cursor and stop after one page, instead of sorting the ties of
-- records_created and filtering its way to the cursor. It replaces
-- records_created, its first column.
DROP INDEX records_created;
CREATE INDEX records_page ON records (created DESC, cluster, uid, kind, seq);

-- Component trace ids → the records that link spans of them, for the
-- Jaeger-compatible API's /api/traces/{id} with a component span's trace id.
CREATE INDEX records_span_traces ON records USING gin (span_traces);
