// Package sqlite is podtrace's embedded store: a podtrace.Store on SQLite
// (pure Go driver, no cgo) in WAL mode, with one writer connection, a pool
// of readers and a checkpointer, and versioned migrations embedded in the
// binary.
//
// The writer never checkpoints: copying the write-ahead log back into the
// database file (and syncing it) would stall whichever commit crossed the
// threshold, the journal's appends that acknowledgements wait for included.
// A checkpointer connection does it on its own time instead, and restarts
// the log when it grows past a bound. Only the journal's appends are synced
// as Options.Sync says; saves and retention are synced NORMAL at most,
// since what they write is rebuilt from the journal: in WAL mode a commit
// synced later also makes every commit before it durable, and what power
// loss takes is a tail of commits, the position saved with them included.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/internal/sqlstore"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune the store.
type Options struct {
	// Sync is SQLite's synchronous setting: "FULL" survives power loss,
	// "NORMAL" (with WAL) survives a crash of the process. Default FULL.
	// It is the journal's: saves are synced NORMAL at most.
	Sync string
	// CheckpointEvery is how often the checkpointer runs; default 100ms.
	CheckpointEvery time.Duration
}

// walRestart is the write-ahead log's size, in pages, past which the
// checkpointer makes the log start over (16 MiB of 4 KiB pages). A log
// starts over only when a write transaction begins with all of it copied,
// which a writer that never pauses long enough for a passive checkpoint to
// catch up would not see: so the checkpointer copies what it can, then
// holds the writer connection while it copies the little written since.
const walRestart = 4 << 10

// Store is a podtrace.Store on one SQLite file.
type Store struct {
	w        *sql.DB // the one writer connection
	r        *sql.DB // readers
	ck       *sql.DB // the checkpointer's connection
	codec    *sqlstore.Codec
	sync     string // Options.Sync
	saveSync string // saves' and retention's: NORMAL at most
	cur      string // the writer's setting now; read and set holding it
	stop     chan struct{}
	done     chan struct{}
	closing  sync.Once
	path     string
	file     os.FileInfo // the file opened at path; nil if there was none
}

// ErrFileGone is the error of a store whose file was deleted or replaced
// since it was opened: what it would write, no later open would find.
var ErrFileGone = errors.New("database file deleted or replaced since it was opened")

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
	if opt.CheckpointEvery <= 0 {
		opt.CheckpointEvery = 100 * time.Millisecond
	}
	// temp_store in memory: the statement journal a save of records needs
	// (their triggers keep component_traces) stays off the disk. A page
	// cache of 32 MiB (SQLite's default is 2 MiB) holds the journal's and
	// the pods' index pages that random keys touch, and a transaction's
	// dirty pages until its commit: with less, appends read index pages
	// back from the file and spill pages to the log before they commit.
	w, err := sql.Open("sqlite", dsn("&_txlock=immediate&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(0)&_pragma=cache_size(-32768)"))
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
	ck, err := sql.Open("sqlite", dsn("&_pragma=wal_autocheckpoint(0)"))
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	ck.SetMaxOpenConns(1)
	codec, err := sqlstore.NewCodec()
	if err != nil {
		ck.Close()
		r.Close()
		w.Close()
		return nil, err
	}
	s := &Store{w: w, r: r, ck: ck, codec: codec, sync: opt.Sync, saveSync: opt.Sync, cur: opt.Sync, stop: make(chan struct{}), done: make(chan struct{}), path: path}
	s.file, _ = os.Stat(path) // migrate made it, unless path is no file (":memory:")
	if s.saveSync == "FULL" {
		s.saveSync = "NORMAL"
	}
	go s.checkpoints(opt.CheckpointEvery)
	return s, nil
}

// checkpoints runs the checkpointer until Close.
func (s *Store) checkpoints(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		// an error here is the next commit's or Checkpoint's to report
		s.checkpoint(context.Background(), false)
	}
}

// Checkpoint copies the whole write-ahead log into the database file now
// and truncates the log, waiting for the writer and readers if need be.
func (s *Store) Checkpoint(ctx context.Context) error {
	return s.checkpoint(ctx, true)
}

// checkpoint copies what it can of the write-ahead log into the database
// file without waiting for the writer or readers. When all is set, or the
// log has grown past walRestart, it then holds the writer connection and
// copies the rest (and, when all is set, waits for readers and truncates
// the log), so the writer's next transaction starts the log over.
func (s *Store) checkpoint(ctx context.Context, all bool) error {
	log, err := s.walCheckpoint(ctx, "PASSIVE")
	if err != nil || (!all && log < walRestart) {
		return err
	}
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer conn.Close()
	mode := "PASSIVE"
	if all {
		mode = "TRUNCATE"
	}
	_, err = s.walCheckpoint(ctx, mode)
	return err
}

// walCheckpoint runs a checkpoint on the checkpointer's connection and
// returns the log's length in pages.
func (s *Store) walCheckpoint(ctx context.Context, mode string) (int, error) {
	var busy, log, done int
	if err := s.ck.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &log, &done); err != nil {
		return 0, fmt.Errorf("checkpoint: %w", err)
	}
	if mode == "TRUNCATE" && busy != 0 {
		return log, fmt.Errorf("checkpoint: %d of %d pages copied, the log is still in use", done, log)
	}
	return log, nil
}

// writeTx is a transaction on the writer connection, held for it.
type writeTx struct {
	*sql.Tx
	conn *sql.Conn
}

// Commit commits and hands the connection back.
func (t writeTx) Commit() error {
	defer t.conn.Close()
	return t.Tx.Commit()
}

// Rollback rolls back (once committed, does nothing) and hands the
// connection back.
func (t writeTx) Rollback() error {
	defer t.conn.Close()
	return t.Tx.Rollback()
}

// begin starts a write transaction synced as sync says. SQLite takes the
// setting only between transactions, so it is set on the held connection
// first, when it differs from the last one set. (A connection the pool
// opens anew starts with the journal's setting, Options.Sync: at worst a
// save is synced more than it needs.)
func (s *Store) begin(ctx context.Context, sync string) (writeTx, error) {
	if err := s.Check(); err != nil {
		return writeTx{}, err
	}
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return writeTx{}, err
	}
	if s.cur != sync {
		if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = "+sync); err != nil {
			conn.Close()
			return writeTx{}, err
		}
		s.cur = sync
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return writeTx{}, err
	}
	return writeTx{tx, conn}, nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		return err
	}
	ms, err := sqlstore.Migrations(migrations)
	if err != nil {
		return err
	}
	for _, m := range ms {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if step := goStep(m.Version); step != nil {
			if err := step(ctx, tx); err != nil {
				tx.Rollback()
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, m.Version); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// goStep is the part of a migration SQL cannot do, run after its SQL in
// its transaction.
func goStep(version int) func(context.Context, *sql.Tx) error {
	switch version {
	case 5:
		return fillBriefs
	}
	return nil
}

// Check reports ErrFileGone when the file at the store's path is no longer
// the one it opened: SQLite keeps writing to the open, deleted file and
// every commit succeeds, but a restart would find none of it. Every write
// transaction checks first, at the cost of one stat.
func (s *Store) Check() error {
	if s.file == nil {
		return nil
	}
	fi, err := os.Stat(s.path)
	if err != nil || !os.SameFile(s.file, fi) {
		return fmt.Errorf("store %q: %w", s.path, ErrFileGone)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.closing.Do(func() { close(s.stop) })
	<-s.done
	return errors.Join(s.ck.Close(), s.r.Close(), s.w.Close())
}

// AppendEvents implements podtrace.Store. Bodies are compressed before the
// write transaction starts.
func (s *Store) AppendEvents(ctx context.Context, evs []podtrace.JournalEvent) ([]bool, error) {
	added := make([]bool, len(evs))
	if len(evs) == 0 {
		return added, nil
	}
	bodies := s.codec.CompressBodies(evs)
	tx, err := s.begin(ctx, s.sync)
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
		res, err := st.ExecContext(ctx, e.Cluster, e.Key, e.UID, e.Namespace, e.Name, e.Time.UnixNano(), bodies[i])
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
	rows, err := s.r.QueryContext(ctx, `SELECT `+sqlstore.EventColumns+` FROM journal WHERE cluster = ? AND seq > ? ORDER BY seq LIMIT ?`, cluster, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	return s.scanEvents(rows)
}

func (s *Store) scanEvents(rows *sql.Rows) ([]podtrace.JournalEvent, error) {
	defer rows.Close()
	return sqlstore.Events(rows, s.codec)
}

// Save implements podtrace.Store. Records are encoded, and records and pod
// states compressed, before the write transaction starts, to hold the one writer connection as briefly as
// possible (the journal's appends wait for it).
func (s *Store) Save(ctx context.Context, c podtrace.Commit) error {
	values := make([][]any, len(c.Records))
	for i := range c.Records {
		body, err := json.Marshal(&c.Records[i])
		if err != nil {
			return fmt.Errorf("encode record %s: %w", c.Records[i].UID, err)
		}
		values[i] = append(recordValues(&c.Records[i]), s.codec.Compress(nil, body), c.Applied)
	}
	states := make([][]byte, len(c.Pods))
	for i := range c.Pods {
		states[i] = s.codec.Compress(nil, c.Pods[i].State)
	}
	tx, err := s.begin(ctx, s.saveSync)
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
		for i, p := range c.Pods {
			if _, err := st.ExecContext(ctx, p.Cluster, p.UID, p.Namespace, p.Name, p.Created, p.LastSeen, states[i], c.Applied); err != nil {
				st.Close()
				return fmt.Errorf("save pod %s: %w", p.UID, err)
			}
		}
		st.Close()
	}
	if len(c.Records) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO records (`+recordColumns+`, body, applied) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
			ON CONFLICT (cluster, uid, kind, seq) DO UPDATE SET namespace=excluded.namespace, name=excluded.name, outcome=excluded.outcome, node=excluded.node,
			created=excluded.created, finished=excluded.finished, codes=excluded.codes, owners=excluded.owners, trace_id=excluded.trace_id,
			brief=excluded.brief, span_traces=excluded.span_traces, body=excluded.body, applied=excluded.applied
			WHERE records.applied <= excluded.applied`)
		if err != nil {
			return fmt.Errorf("save records: %w", err)
		}
		for i := range c.Records {
			if _, err := st.ExecContext(ctx, values[i]...); err != nil {
				st.Close()
				return fmt.Errorf("save record %s: %w", c.Records[i].UID, err)
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
	if !c.Partial {
		if err := saveHeld(ctx, tx.Tx, c); err != nil {
			return err
		}
	}
	for name, v := range c.Offsets {
		if c.Partial {
			break
		}
		if err := setProgress(ctx, tx.Tx, "offset/"+name, v); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save: commit: %w", err)
	}
	return nil
}

// recordColumns are the columns of records derived from a record, in the
// order of recordValues: its key, what filters select on, its brief and its
// component trace ids. Save writes them with the body; the migration that
// added the brief fills them for older rows (fillBriefs).
const recordColumns = "cluster, uid, kind, seq, namespace, name, outcome, node, created, finished, codes, owners, trace_id, brief, span_traces"

func recordValues(r *podtrace.Record) []any {
	b := r.Brief()
	var fin any
	if b.Finished != nil {
		fin = b.Finished.UnixNano()
	}
	codes, owners := findingIndex(b.Findings)
	traces := "[]"
	if ids := r.SpanTraceIDs(); len(ids) > 0 {
		j, _ := json.Marshal(ids) // strings: cannot fail
		traces = string(j)
	}
	return []any{b.Cluster, b.UID, string(b.Kind), b.Seq, b.Namespace, b.Name, string(b.Outcome), b.Node, b.Created.UnixNano(), fin, codes, owners, b.TraceID,
		sqlstore.AppendBrief(nil, &b), traces}
}

// findingIndex renders the findings' codes and owners as space-delimited
// words, for filtering with LIKE.
func findingIndex(fs []podtrace.FindingBrief) (codes, owners string) {
	if len(fs) == 0 {
		return "", ""
	}
	var c, o strings.Builder
	c.WriteByte(' ')
	o.WriteByte(' ')
	for _, f := range fs {
		c.WriteString(f.Code + " ")
		o.WriteString(string(f.Owner) + " ")
	}
	return c.String(), o.String()
}

// fillBriefs is the Go step of migration 5: the brief columns (and the
// trace id, missing from rows older than migration 2) of the rows saved
// before it, computed from their bodies.
func fillBriefs(ctx context.Context, tx *sql.Tx) error {
	st, err := tx.PrepareContext(ctx, `UPDATE records SET (`+recordColumns+`) = (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) WHERE rowid = ?`)
	if err != nil {
		return err
	}
	defer st.Close()
	for last := int64(0); ; {
		rows, err := tx.QueryContext(ctx, `SELECT rowid, body FROM records WHERE rowid > ? ORDER BY rowid LIMIT 500`, last)
		if err != nil {
			return err
		}
		type row struct {
			id  int64
			rec podtrace.Record
		}
		var batch []row
		for rows.Next() {
			var body []byte
			var r row
			if err := rows.Scan(&r.id, &body); err != nil {
				rows.Close()
				return err
			}
			if err := json.Unmarshal(body, &r.rec); err != nil {
				rows.Close()
				return fmt.Errorf("decode record %d: %w", r.id, err)
			}
			batch = append(batch, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		for i := range batch {
			if _, err := st.ExecContext(ctx, append(recordValues(&batch[i].rec), batch[i].id)...); err != nil {
				return err
			}
		}
		last = batch[len(batch)-1].id
	}
}

// saveHeld saves c.Held unless a commit further on saved it (Commit.Held).
func saveHeld(ctx context.Context, tx *sql.Tx, c podtrace.Commit) error {
	var applied int64
	err := tx.QueryRowContext(ctx, `SELECT value FROM progress WHERE name = ?`, "applied/"+c.Cluster).Scan(&applied)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("save progress held/%s: %w", c.Cluster, err)
	}
	if c.Applied < applied {
		return nil
	}
	return setProgress(ctx, tx, "offset/"+podtrace.HeldOffset(c.Cluster), c.Held)
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

// LoadPod implements podtrace.Store. It reads on a reader connection: the
// pipeline asks for every pod it has not in memory (every new pod), and on
// the writer connection each ask waited behind the journal's appends. A
// reader sees every save committed before the ask.
func (s *Store) LoadPod(ctx context.Context, cluster, uid string) (podtrace.PodState, error) {
	p := podtrace.PodState{Cluster: cluster, UID: uid}
	err := s.r.QueryRowContext(ctx, `SELECT namespace, name, created, last_seen, state FROM pods WHERE cluster = ? AND uid = ?`, cluster, uid).
		Scan(&p.Namespace, &p.Name, &p.Created, &p.LastSeen, &p.State)
	if errors.Is(err, sql.ErrNoRows) {
		return p, podtrace.ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("load pod %s: %w", uid, err)
	}
	if p.State, err = s.codec.Decompress(p.State); err != nil {
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

// PodsNamed implements podtrace.Store. It reads on a reader connection,
// as LoadPod does.
func (s *Store) PodsNamed(ctx context.Context, cluster, namespace, name string) ([]podtrace.PodState, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT uid, created, last_seen FROM pods WHERE cluster = ? AND namespace = ? AND name = ? ORDER BY created`, cluster, namespace, name)
	if err != nil {
		return nil, fmt.Errorf("pods named %s/%s: %w", namespace, name, err)
	}
	defer rows.Close()
	return sqlstore.Pods(rows, podtrace.PodState{Cluster: cluster, Namespace: namespace, Name: name})
}

// dialect is SQLite's: finding codes and owners are space-delimited words
// (findingIndex), component trace ids a table the triggers keep.
func dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Placeholder: func(int) string { return "?" },
		Text:        func(s string) string { return s },
		Holds: func(col, p, word string) (string, any) {
			if col == "span_traces" {
				return "(cluster, uid, kind, seq) IN (SELECT cluster, uid, kind, seq FROM component_traces WHERE trace_id = " + p + ")", word
			}
			// the word matched exactly: its own % and _ are no wildcards
			return col + ` LIKE ` + p + ` ESCAPE '\'`, "% " + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(word) + " %"
		},
	}
}

// Records implements podtrace.Store.
func (s *Store) Records(ctx context.Context, f podtrace.RecordFilter) ([]podtrace.Record, string, error) {
	q, args, limit, err := sqlstore.PageQuery(dialect(), f)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list records: %w", err)
	}
	defer rows.Close()
	return sqlstore.Records(rows, limit, s.codec)
}

// Briefs implements podtrace.Store. The brief and every column a filter
// reads are in records_page: SQLite reads briefs from the index alone.
func (s *Store) Briefs(ctx context.Context, f podtrace.RecordFilter, fn func(*podtrace.Brief) bool) error {
	q, args, err := sqlstore.RecordQuery(dialect(), sqlstore.BriefColumn, f)
	if err != nil {
		return err
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("list briefs: %w", err)
	}
	defer rows.Close()
	return sqlstore.Briefs[sql.RawBytes](rows, fn)
}

// podEventsQuery reads a pod's journal: by journal_uid, and by the partial
// index journal_name for the events that name no uid.
// (Written as one OR, or as a UNION ALL the planner may merge in order,
// it walks the cluster's whole journal through journal_time for its order:
// the two lookups are made first, then sorted, and +time keeps the time
// bound off the index.)
const podEventsQuery = `WITH ev AS MATERIALIZED (
	SELECT ` + sqlstore.EventColumns + ` FROM journal WHERE cluster = ? AND uid = ?
	UNION ALL
	SELECT ` + sqlstore.EventColumns + ` FROM journal WHERE cluster = ? AND uid = '' AND namespace = ? AND name = ?
		AND +time >= (SELECT created FROM pods WHERE cluster = ? AND uid = ?))
	SELECT ` + sqlstore.EventColumns + ` FROM ev WHERE time > ? OR (time = ? AND seq > ?) ORDER BY time, seq LIMIT ?`

// PodEvents implements podtrace.Store.
func (s *Store) PodEvents(ctx context.Context, cluster, uid string, page podtrace.EventPage) ([]podtrace.JournalEvent, error) {
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
	after, afterSeq, limit := page.Bounds()
	rows, err := s.r.QueryContext(ctx, podEventsQuery, cluster, uid, cluster, ns, name, cluster, uid, after, after, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("pod events %s: %w", uid, err)
	}
	return s.scanEvents(rows)
}

// DeleteBefore implements podtrace.Store.
func (s *Store) DeleteBefore(ctx context.Context, cluster string, before time.Time, limit int) (int, error) {
	cut := before.UnixNano()
	tx, err := s.begin(ctx, s.saveSync)
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
