-- Each record's trace id (podtrace.Record.TraceHex), so the Jaeger-compatible
-- query API finds a trace by id. Rows saved before this migration keep ''
-- until they are saved again.
ALTER TABLE records ADD COLUMN trace_id TEXT NOT NULL DEFAULT '';
CREATE INDEX records_trace ON records (trace_id);
