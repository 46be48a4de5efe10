// Package sqlite is podtrace's embedded store: a podtrace.Store on SQLite
// (pure Go driver, no cgo) in WAL mode, with one writer connection and a pool
// of readers, and versioned migrations embedded in the binary.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/podtrace/podtrace"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune the store.
type Options struct {
	// Sync is SQLite's synchronous setting: "FULL" survives power loss,
	// "NORMAL" (with WAL) survives a crash of the process. Default FULL.
	Sync string
}

// Store is a podtrace.Store on one SQLite file.
type Store struct {
	w *sql.DB // the one writer connection
	r *sql.DB // readers
}

var _ podtrace.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path and migrates it.
func Open(ctx context.Context, path string, opt Options) (*Store, error) {
	if opt.Sync == "" {
		opt.Sync = "FULL"
	}
	switch opt.Sync {
	case "FULL", "NORMAL", "OFF":
	default:
		return nil, fmt.Errorf("sqlite sync %q: want FULL, NORMAL or OFF", opt.Sync)
	}
	dsn := func(extra string) string {
		return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(" + opt.Sync + ")&_pragma=foreign_keys(off)" + extra
	}
	w, err := sql.Open("sqlite", dsn("&_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate store %q: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn("&_pragma=query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	return &Store{w: w, r: r}, nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := name[strings.LastIndexByte(name, '/')+1:]
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: bad version", base)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, v).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, v); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// AppendEvents implements podtrace.Store.
func (s *Store) AppendEvents(ctx context.Context, evs []podtrace.JournalEvent) ([]bool, error) {
	added := make([]bool, len(evs))
	if len(evs) == 0 {
		return added, nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("append events: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO journal (cluster, key, uid, namespace, name, time, body) VALUES (?,?,?,?,?,?,?) ON CONFLICT (cluster, key) DO NOTHING`)
	if err != nil {
		return nil, fmt.Errorf("append events: %w", err)
	}
	defer st.Close()
	for i := range evs {
		e := &evs[i]
		res, err := st.ExecContext(ctx, e.Cluster, e.Key, e.UID, e.Namespace, e.Name, e.Time.UnixNano(), e.Body)
		if err != nil {
			return nil, fmt.Errorf("append event %s: %w", e.Key, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			added[i] = true
			e.Seq, _ = res.LastInsertId()
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("append events: commit: %w", err)
	}
	return added, nil
}

// EventsAfter implements podtrace.Store.
func (s *Store) EventsAfter(ctx context.Context, cluster string, after int64, limit int) ([]podtrace.JournalEvent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT seq, cluster, key, uid, namespace, name, time, body FROM journal WHERE cluster = ? AND seq > ? ORDER BY seq LIMIT ?`, cluster, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	return scanEvents(rows)
}

func scanEvents(rows *sql.Rows) ([]podtrace.JournalEvent, error) {
	defer rows.Close()
	var out []podtrace.JournalEvent
	for rows.Next() {
		var e podtrace.JournalEvent
		var t int64
		if err := rows.Scan(&e.Seq, &e.Cluster, &e.Key, &e.UID, &e.Namespace, &e.Name, &t, &e.Body); err != nil {
			return nil, fmt.Errorf("read journal: %w", err)
		}
		e.Time = time.Unix(0, t).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// Save implements podtrace.Store. Records are encoded before the write
// transaction starts, to hold the one writer connection as briefly as
// possible (the journal's appends wait for it).
func (s *Store) Save(ctx context.Context, c podtrace.Commit) error {
	bodies := make([][]byte, len(c.Records))
	for i := range c.Records {
		body, err := json.Marshal(&c.Records[i])
		if err != nil {
			return fmt.Errorf("encode record %s: %w", c.Records[i].UID, err)
		}
		bodies[i] = body
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	defer tx.Rollback()
	if len(c.Pods) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO pods (cluster, uid, namespace, name, created, last_seen, state, applied) VALUES (?,?,?,?,?,?,?,?)
			ON CONFLICT (cluster, uid) DO UPDATE SET namespace=excluded.namespace, name=excluded.name, created=excluded.created, last_seen=excluded.last_seen, state=excluded.state, applied=excluded.applied
			WHERE pods.applied <= excluded.applied`)
		if err != nil {
			return fmt.Errorf("save pods: %w", err)
		}
		for _, p := range c.Pods {
			if _, err := st.ExecContext(ctx, p.Cluster, p.UID, p.Namespace, p.Name, p.Created, p.LastSeen, p.State, c.Applied); err != nil {
				st.Close()
				return fmt.Errorf("save pod %s: %w", p.UID, err)
			}
		}
		st.Close()
	}
	if len(c.Records) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO records (cluster, uid, kind, seq, namespace, name, outcome, node, created, finished, codes, owners, trace_id, body, applied) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
			ON CONFLICT (cluster, uid, kind, seq) DO UPDATE SET namespace=excluded.namespace, name=excluded.name, outcome=excluded.outcome, node=excluded.node,
			created=excluded.created, finished=excluded.finished, codes=excluded.codes, owners=excluded.owners, trace_id=excluded.trace_id, body=excluded.body, applied=excluded.applied
			WHERE records.applied <= excluded.applied`)
		if err != nil {
			return fmt.Errorf("save records: %w", err)
		}
		for i := range c.Records {
			r, body := &c.Records[i], bodies[i]
			var fin any
			if r.Finished != nil {
				fin = r.Finished.UnixNano()
			}
			codes, owners := findingIndex(r)
			if _, err := st.ExecContext(ctx, r.Cluster, r.UID, string(r.Kind), r.Seq, r.Namespace, r.Name, string(r.Outcome), r.Node, r.Created.UnixNano(), fin, codes, owners, r.TraceHex(), body, c.Applied); err != nil {
				st.Close()
				return fmt.Errorf("save record %s: %w", r.UID, err)
			}
		}
		st.Close()
	}
	if c.Applied > 0 && !c.Partial {
		// never backwards: replicas of one cluster save their own positions
		if _, err := tx.ExecContext(ctx, `INSERT INTO progress (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)`, "applied/"+c.Cluster, c.Applied); err != nil {
			return fmt.Errorf("save progress applied/%s: %w", c.Cluster, err)
		}
	}
	for name, v := range c.Offsets {
		if c.Partial {
			break
		}
		if err := setProgress(ctx, tx, "offset/"+name, v); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save: commit: %w", err)
	}
	return nil
}

// findingIndex renders a record's codes and owners as space-delimited
// words, for filtering with LIKE.
func findingIndex(r *podtrace.Record) (string, string) {
	if len(r.Diagnosis) == 0 {
		return "", ""
	}
	var codes, owners strings.Builder
	codes.WriteByte(' ')
	owners.WriteByte(' ')
	for _, f := range r.Diagnosis {
		codes.WriteString(f.Code + " ")
		owners.WriteString(string(f.Owner) + " ")
	}
	return codes.String(), owners.String()
}

func setProgress(ctx context.Context, tx *sql.Tx, name string, v int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO progress (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, v); err != nil {
		return fmt.Errorf("save progress %s: %w", name, err)
	}
	return nil
}

func (s *Store) progress(ctx context.Context, name string) (int64, error) {
	var v int64
	err := s.r.QueryRowContext(ctx, `SELECT value FROM progress WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read progress %s: %w", name, err)
	}
	return v, nil
}

// Applied implements podtrace.Store.
func (s *Store) Applied(ctx context.Context, cluster string) (int64, error) {
	return s.progress(ctx, "applied/"+cluster)
}

// Offset implements podtrace.Store.
func (s *Store) Offset(ctx context.Context, source string) (int64, error) {
	return s.progress(ctx, "offset/"+source)
}

// LoadPod implements podtrace.Store.
func (s *Store) LoadPod(ctx context.Context, cluster, uid string) (podtrace.PodState, error) {
	p := podtrace.PodState{Cluster: cluster, UID: uid}
	err := s.w.QueryRowContext(ctx, `SELECT namespace, name, created, last_seen, state FROM pods WHERE cluster = ? AND uid = ?`, cluster, uid).
		Scan(&p.Namespace, &p.Name, &p.Created, &p.LastSeen, &p.State)
	if errors.Is(err, sql.ErrNoRows) {
		return p, podtrace.ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("load pod %s: %w", uid, err)
	}
	return p, nil
}

// EventUID implements podtrace.Store.
func (s *Store) EventUID(ctx context.Context, cluster, key string) (string, error) {
	var uid string
	err := s.r.QueryRowContext(ctx, `SELECT uid FROM journal WHERE cluster = ? AND key = ?`, cluster, key).Scan(&uid)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && uid == "") {
		return "", podtrace.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("event %s: %w", key, err)
	}
	return uid, nil
}

// PodsNamed implements podtrace.Store.
func (s *Store) PodsNamed(ctx context.Context, cluster, namespace, name string) ([]podtrace.PodState, error) {
	rows, err := s.w.QueryContext(ctx, `SELECT uid, created, last_seen FROM pods WHERE cluster = ? AND namespace = ? AND name = ? ORDER BY created`, cluster, namespace, name)
	if err != nil {
		return nil, fmt.Errorf("pods named %s/%s: %w", namespace, name, err)
	}
	defer rows.Close()
	var out []podtrace.PodState
	for rows.Next() {
		p := podtrace.PodState{Cluster: cluster, Namespace: namespace, Name: name}
		if err := rows.Scan(&p.UID, &p.Created, &p.LastSeen); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Records implements podtrace.Store.
func (s *Store) Records(ctx context.Context, f podtrace.RecordFilter) ([]podtrace.Record, string, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if f.Cluster != "" {
		add("cluster = ?", f.Cluster)
	}
	if f.Namespace != "" {
		add("namespace = ?", f.Namespace)
	}
	if f.Name != "" {
		add("name = ?", f.Name)
	}
	if f.UID != "" {
		add("uid = ?", f.UID)
	}
	if f.Kind != "" {
		add("kind = ?", string(f.Kind))
	}
	if f.Outcome != "" {
		add("outcome = ?", string(f.Outcome))
	}
	if f.Node != "" {
		add("node = ?", f.Node)
	}
	if f.TraceID != "" {
		add("trace_id = ?", f.TraceID)
	}
	if f.Code != "" {
		add("codes LIKE ?", "% "+f.Code+" %")
	}
	if f.Owner != "" {
		add("owners LIKE ?", "% "+string(f.Owner)+" %")
	}
	if !f.Since.IsZero() {
		add("created >= ?", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		add("created < ?", f.Until.UnixNano())
	}
	if f.Cursor != "" {
		c, err := podtrace.ParseCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		// "created <= c" first, so SQLite seeks records_page to the cursor
		where = append(where, "created <= ? AND (created < ? OR (cluster, uid, kind, seq) > (?, ?, ?, ?))")
		args = append(args, c.Created, c.Created, c.Cluster, c.UID, c.Kind, c.Seq)
	}
	q := "SELECT body, created FROM records"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += " ORDER BY created DESC, cluster, uid, kind, seq LIMIT ?"
	args = append(args, limit+1)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list records: %w", err)
	}
	defer rows.Close()
	var out []podtrace.Record
	for rows.Next() {
		var body []byte
		var created int64
		if err := rows.Scan(&body, &created); err != nil {
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

// PodEvents implements podtrace.Store.
func (s *Store) PodEvents(ctx context.Context, cluster, uid string) ([]podtrace.JournalEvent, error) {
	var ns, name string
	err := s.r.QueryRowContext(ctx, `SELECT namespace, name FROM pods WHERE cluster = ? AND uid = ?`, cluster, uid).Scan(&ns, &name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, podtrace.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("pod events %s: %w", uid, err)
	}
	// events that named the pod by uid, and those that named it only by
	// namespace/name (attributed by the lifecycle; a name may be reused, so
	// keep those within the pod's lifetime)
	rows, err := s.r.QueryContext(ctx, `SELECT seq, cluster, key, uid, namespace, name, time, body FROM journal
		WHERE cluster = ? AND (uid = ? OR (uid = '' AND namespace = ? AND name = ? AND time >= (SELECT created FROM pods WHERE cluster = ? AND uid = ?)))
		ORDER BY time, seq`, cluster, uid, ns, name, cluster, uid)
	if err != nil {
		return nil, fmt.Errorf("pod events %s: %w", uid, err)
	}
	return scanEvents(rows)
}

// DeleteBefore implements podtrace.Store.
func (s *Store) DeleteBefore(ctx context.Context, cluster string, before time.Time, limit int) (int, error) {
	cut := before.UnixNano()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("retention: %w", err)
	}
	defer tx.Rollback()
	total := 0
	for _, q := range []struct {
		what string
		sql  string
		args []any
	}{
		{"records", `DELETE FROM records WHERE rowid IN (SELECT rowid FROM records WHERE cluster = ? AND coalesce(finished, created) < ? LIMIT ?)`, []any{cluster, cut, limit}},
		{"pods", `DELETE FROM pods WHERE rowid IN (SELECT rowid FROM pods WHERE cluster = ? AND last_seen < ? LIMIT ?)`, []any{cluster, cut, limit}},
		// only applied events; and never the newest row, whose seq SQLite
		// would otherwise hand out again (seqs must only grow)
		{"journal", `DELETE FROM journal WHERE seq IN (SELECT seq FROM journal WHERE cluster = ? AND time < ?
			AND seq <= coalesce((SELECT value FROM progress WHERE name = ?), 0) AND seq < (SELECT max(seq) FROM journal) LIMIT ?)`, []any{cluster, cut, "applied/" + cluster, limit}},
	} {
		res, err := tx.ExecContext(ctx, q.sql, q.args...)
		if err != nil {
			return 0, fmt.Errorf("retention: delete %s: %w", q.what, err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("retention: commit: %w", err)
	}
	return total, nil
}
