package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/podtrace/podtrace"
)

// Rows is what database/sql's *sql.Rows and pgx's pgx.Rows both offer.
// The caller closes them.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// EventColumns are the journal columns Events reads.
const EventColumns = "seq, cluster, key, uid, namespace, name, time, body"

// Events reads journal events from rows of EventColumns, their bodies
// decompressed by c.
func Events(rows Rows, c *Codec) ([]podtrace.JournalEvent, error) {
	var out []podtrace.JournalEvent
	for rows.Next() {
		var e podtrace.JournalEvent
		var t int64
		if err := rows.Scan(&e.Seq, &e.Cluster, &e.Key, &e.UID, &e.Namespace, &e.Name, &t, &e.Body); err != nil {
			return nil, fmt.Errorf("read journal: %w", err)
		}
		e.Time = time.Unix(0, t).UTC()
		body, err := c.Decompress(e.Body)
		if err != nil {
			return nil, fmt.Errorf("read journal %s: %w", e.Key, err)
		}
		e.Body = body
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	return out, nil
}

// Pods reads pod states without their state from rows of uid, created,
// last_seen; like has the other fields.
func Pods(rows Rows, like podtrace.PodState) ([]podtrace.PodState, error) {
	var out []podtrace.PodState
	for rows.Next() {
		p := like
		if err := rows.Scan(&p.UID, &p.Created, &p.LastSeen); err != nil {
			return nil, fmt.Errorf("read pods: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read pods: %w", err)
	}
	return out, nil
}

// Records reads records from rows of one column, their body (JSON,
// compressed by c), selected with a limit one more than limit: it returns
// at most limit records and the cursor of the page after them, "" when
// there is none.
func Records(rows Rows, limit int, c *Codec) ([]podtrace.Record, string, error) {
	var out []podtrace.Record
	for rows.Next() {
		var stored []byte
		if err := rows.Scan(&stored); err != nil {
			return nil, "", fmt.Errorf("list records: %w", err)
		}
		body, err := c.Decompress(stored)
		if err != nil {
			return nil, "", fmt.Errorf("list records: %w", err)
		}
		var r podtrace.Record
		if err := json.Unmarshal(body, &r); err != nil {
			return nil, "", fmt.Errorf("decode record: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list records: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = podtrace.CursorAfter(&out[limit-1])
	}
	return out, next, nil
}
