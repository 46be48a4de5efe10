// Package sqlstore holds what podtrace's two SQL stores (sqlite, postgres)
// share: the query that selects records, in either's dialect; the reading
// of the rows they keep alike — journal events, pod states, records' JSON
// bodies, record briefs — into podtrace's types; and the encoding of the
// brief column they both write.
package sqlstore
