-- Pages of records are read newest first with a total order (created DESC,
-- then the key): an index in exactly that order lets SQLite walk it and
-- stop after one page, instead of sorting every record for each page
-- (≈1 s per page at 100k records without it; <1 ms with it).
CREATE INDEX records_page ON records (created DESC, cluster, uid, kind, seq);
