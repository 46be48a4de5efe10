-- Only the events that name their pod by namespace/name alone (uid '')
-- are looked up by name (PodEvents); the others are found by uid. A partial
-- index spares every journal append one index insert.
DROP INDEX journal_name;
CREATE INDEX journal_name ON journal (cluster, namespace, name) WHERE uid = '';
