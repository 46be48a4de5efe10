-- Each record's brief (podtrace.Brief, encoded by internal/sqlstore): what
-- lists and summaries read, written by every save beside the body. For rows
-- saved before this migration, its Go step (fillBriefs) computes it from
-- the bodies, in the same transaction.
ALTER TABLE records ADD COLUMN brief BLOB NOT NULL DEFAULT x'';
-- Record.SpanTraceIDs, as a JSON array of strings.
ALTER TABLE records ADD COLUMN span_traces TEXT NOT NULL DEFAULT '[]';

-- The page index, widened with the filter columns and the brief: a summary
-- reads the briefs of 100k records from the index alone, never touching the
-- rows (a body larger than a page would make SQLite walk its overflow pages
-- to reach the columns stored after it).
DROP INDEX records_page;
CREATE INDEX records_page ON records (created DESC, cluster, uid, kind, seq,
    namespace, name, outcome, node, trace_id, codes, owners, brief);

-- Component trace ids → the records that link spans of them, kept by
-- triggers from records.span_traces, for the Jaeger-compatible API's
-- /api/traces/{id} with a component span's trace id.
CREATE TABLE component_traces (
    trace_id  TEXT NOT NULL,
    cluster   TEXT NOT NULL,
    uid       TEXT NOT NULL,
    kind      TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (trace_id, cluster, uid, kind, seq)
) WITHOUT ROWID;
CREATE INDEX component_traces_record ON component_traces (cluster, uid, kind, seq);

CREATE TRIGGER component_traces_insert AFTER INSERT ON records WHEN NEW.span_traces <> '[]' BEGIN
    INSERT OR IGNORE INTO component_traces (trace_id, cluster, uid, kind, seq)
        SELECT value, NEW.cluster, NEW.uid, NEW.kind, NEW.seq FROM json_each(NEW.span_traces);
END;
CREATE TRIGGER component_traces_update AFTER UPDATE OF span_traces ON records WHEN NEW.span_traces IS NOT OLD.span_traces BEGIN
    DELETE FROM component_traces WHERE cluster = OLD.cluster AND uid = OLD.uid AND kind = OLD.kind AND seq = OLD.seq;
    INSERT OR IGNORE INTO component_traces (trace_id, cluster, uid, kind, seq)
        SELECT value, NEW.cluster, NEW.uid, NEW.kind, NEW.seq FROM json_each(NEW.span_traces);
END;
CREATE TRIGGER component_traces_delete AFTER DELETE ON records WHEN OLD.span_traces <> '[]' BEGIN
    DELETE FROM component_traces WHERE cluster = OLD.cluster AND uid = OLD.uid AND kind = OLD.kind AND seq = OLD.seq;
END;
