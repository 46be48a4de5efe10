package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Advisory lock keys (first int4 of the two-key form): all of podtrace's
// locks share it, the second key says what is locked.
const (
	lockClass   = 0x706f6474 // "podt"
	lockMigrate = 1          // the journal's locks use hashtext(cluster)
)

// Options tune the store.
type Options struct {
	// MaxConns bounds the connection pool (default 8).
	MaxConns int32
}

// Store is a podtrace.Store on PostgreSQL.
type Store struct {
	pool  *pgxpool.Pool
	codec *sqlstore.Codec
}

var _ podtrace.Store = (*Store)(nil)

// IsDSN reports whether s names a PostgreSQL database (a postgres:// or
// postgresql:// URL) rather than a file.
func IsDSN(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Redact returns the DSN without its password, for logs and errors.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparsable DSN)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Open connects to the database named by dsn (a postgres:// URL; the
// password may come from PGPASSWORD or ~/.pgpass instead) and migrates it.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors may quote the DSN, password included
		return nil, fmt.Errorf("open store %s: invalid DSN", Redact(dsn))
	}
	cfg.MaxConns = opt.MaxConns
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", Redact(dsn), err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate store %s: %w", Redact(dsn), err)
	}
	codec, err := sqlstore.NewCodec()
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool, codec: codec}, nil
}

// migrate applies the embedded migrations not yet applied, each in its own
// transaction, holding an advisory lock so concurrent starts migrate once.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, lockClass, lockMigrate); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, lockClass, lockMigrate)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY)`); err != nil {
		return err
	}
	ms, err := sqlstore.Migrations(migrations)
	if err != nil {
		return err
	}
	for _, m := range ms {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.Version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
			if step := goStep(m.Version); step != nil {
				if err := step(ctx, tx); err != nil {
					return fmt.Errorf("migration %s: %w", m.Name, err)
				}
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// goStep is the part of a migration SQL cannot do, run after its SQL in
// its transaction.
func goStep(version int) func(context.Context, pgx.Tx) error {
	switch version {
	case 3:
		return fillBriefs
	}
	return nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// text makes s storable as PostgreSQL text: no NUL bytes, valid UTF-8.
func text(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// AppendEvents implements podtrace.Store.
func (s *Store) AppendEvents(ctx context.Context, evs []podtrace.JournalEvent) ([]bool, error) {
	added := make([]bool, len(evs))
	if len(evs) == 0 {
		return added, nil
	}
	n := len(evs)
	clusters, keys, uids, nss, names := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times, bodies := make([]int64, n), s.codec.CompressBodies(evs)
	locks := map[string]bool{}
	for i := range evs {
		e := &evs[i]
		clusters[i], keys[i], uids[i], nss[i], names[i] = text(e.Cluster), text(e.Key), text(e.UID), text(e.Namespace), text(e.Name)
		times[i] = e.Time.UnixNano()
		locks[clusters[i]] = true
	}
	order := make([]string, 0, len(locks))
	for c := range locks {
		order = append(order, c)
	}
	sort.Strings(order) // one lock order for every writer: no deadlock
	seqs := map[[2]string]int64{}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, c := range order {
			// journal seqs of a cluster are handed out in commit order, so a
			// reader past seq N never misses an event below N
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockClass, c); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `INSERT INTO journal (cluster, key, uid, namespace, name, time, body)
			SELECT c, k, u, ns, n, t, b FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bytea[])
				WITH ORDINALITY AS e(c, k, u, ns, n, t, b, i) ORDER BY i
			ON CONFLICT (cluster, key) DO NOTHING
			RETURNING cluster, key, seq`, clusters, keys, uids, nss, names, times, bodies)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c, k string
			var seq int64
			if err := rows.Scan(&c, &k, &seq); err != nil {
				return err
			}
			seqs[[2]string{c, k}] = seq
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("append events: %w", err)
	}
	for i := range evs {
		k := [2]string{clusters[i], keys[i]}
		if seq, ok := seqs[k]; ok {
			added[i], evs[i].Seq = true, seq
			delete(seqs, k) // a key twice in one call: the first was added
		}
	}
	return added, nil
}

// EventsAfter implements podtrace.Store.
func (s *Store) EventsAfter(ctx context.Context, cluster string, after int64, limit int) ([]podtrace.JournalEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+sqlstore.EventColumns+` FROM journal WHERE cluster = $1 AND seq > $2 ORDER BY seq LIMIT $3`, text(cluster), after, limit)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	return s.scanEvents(rows)
}

func (s *Store) scanEvents(rows pgx.Rows) ([]podtrace.JournalEvent, error) {
	defer rows.Close()
	return sqlstore.Events(rows, s.codec)
}

// Save implements podtrace.Store. Rows saved at a later journal position
// (by another replica) are kept; see the package doc.
func (s *Store) Save(ctx context.Context, c podtrace.Commit) error {
	pods := lastPerKey(c.Pods, func(p *podtrace.PodState) string { return p.Cluster + "\x00" + p.UID })
	recs := lastPerKey(c.Records, func(r *podtrace.Record) string {
		return r.Cluster + "\x00" + r.UID + "\x00" + string(r.Kind) + "\x00" + strconv.Itoa(r.Seq)
	})
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := savePods(ctx, tx, pods, s.codec, c.Applied); err != nil {
			return err
		}
		if err := saveRecords(ctx, tx, recs, s.codec, c.Applied); err != nil {
			return err
		}
		if c.Partial {
			return nil
		}
		if c.Applied > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO progress (name, value) VALUES ($1, $2)
				ON CONFLICT (name) DO UPDATE SET value = greatest(progress.value, excluded.value)`, text("applied/"+c.Cluster), c.Applied); err != nil {
				return fmt.Errorf("save progress: %w", err)
			}
		}
		// Commit.Held: only from the commit furthest on
		if _, err := tx.Exec(ctx, `INSERT INTO progress (name, value)
			SELECT $1::text, $2::bigint WHERE $3::bigint >= coalesce((SELECT value FROM progress WHERE name = $4), 0)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, text("offset/"+podtrace.HeldOffset(c.Cluster)), c.Held, c.Applied, text("applied/"+c.Cluster)); err != nil {
			return fmt.Errorf("save progress: %w", err)
		}
		for name, v := range c.Offsets {
			if _, err := tx.Exec(ctx, `INSERT INTO progress (name, value) VALUES ($1, $2)
				ON CONFLICT (name) DO UPDATE SET value = excluded.value`, text("offset/"+name), v); err != nil {
				return fmt.Errorf("save progress: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}

// lastPerKey drops all but the last of items with the same key (an upsert
// may touch a row once per statement).
func lastPerKey[T any](items []T, key func(*T) string) []T {
	seen := make(map[string]int, len(items))
	out := make([]T, 0, len(items))
	for i := range items {
		k := key(&items[i])
		if j, ok := seen[k]; ok {
			out[j] = items[i]
			continue
		}
		seen[k] = len(out)
		out = append(out, items[i])
	}
	return out
}

// savePods saves pod states, their states compressed by codec.
func savePods(ctx context.Context, tx pgx.Tx, pods []podtrace.PodState, codec *sqlstore.Codec, applied int64) error {
	if len(pods) == 0 {
		return nil
	}
	n := len(pods)
	clusters, uids, nss, names := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	created, seen, states := make([]int64, n), make([]int64, n), make([][]byte, n)
	for i, p := range pods {
		clusters[i], uids[i], nss[i], names[i] = text(p.Cluster), text(p.UID), text(p.Namespace), text(p.Name)
		created[i], seen[i], states[i] = p.Created, p.LastSeen, codec.Compress(nil, p.State)
	}
	_, err := tx.Exec(ctx, `INSERT INTO pods (cluster, uid, namespace, name, created, last_seen, state, applied)
		SELECT c, u, ns, n, cr, ls, st, $8 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bytea[]) AS p(c, u, ns, n, cr, ls, st)
		ON CONFLICT (cluster, uid) DO UPDATE SET namespace = excluded.namespace, name = excluded.name, created = excluded.created,
			last_seen = excluded.last_seen, state = excluded.state, applied = excluded.applied
		WHERE pods.applied <= excluded.applied`, clusters, uids, nss, names, created, seen, states, applied)
	if err != nil {
		return fmt.Errorf("save pods: %w", err)
	}
	return nil
}

// saveRecords saves records, their bodies compressed by codec.
func saveRecords(ctx context.Context, tx pgx.Tx, recs []podtrace.Record, codec *sqlstore.Codec, applied int64) error {
	if len(recs) == 0 {
		return nil
	}
	var rr recordRows
	for i := range recs {
		body, err := json.Marshal(&recs[i])
		if err != nil {
			return fmt.Errorf("encode record %s: %w", recs[i].UID, err)
		}
		rr.add(&recs[i], codec.Compress(nil, body))
	}
	_, err := tx.Exec(ctx, `INSERT INTO records (cluster, uid, kind, seq, namespace, name, outcome, node, created, finished, codes, owners, trace_id,
			brief, span_traces, body, applied)
		SELECT `+recordRowsColumns+`, b, $17 FROM `+recordRowsUnnest+`
		ON CONFLICT (cluster, uid, kind, seq) DO UPDATE SET namespace = excluded.namespace, name = excluded.name, outcome = excluded.outcome,
			node = excluded.node, created = excluded.created, finished = excluded.finished, codes = excluded.codes, owners = excluded.owners,
			trace_id = excluded.trace_id, brief = excluded.brief, span_traces = excluded.span_traces, body = excluded.body, applied = excluded.applied
		WHERE records.applied <= excluded.applied`, append(rr.args(), applied)...)
	if err != nil {
		return fmt.Errorf("save records: %w", err)
	}
	return nil
}

// recordRows are records as the parallel arrays of recordRowsUnnest
// ($1…$16), each array one column.
type recordRows struct {
	clusters, uids, kinds, nss, names, outcomes, nodes, codes, owners, traces, spanTraces []string
	seqs                                                                                  []int32
	created                                                                               []int64
	finished                                                                              []*int64
	briefs, bodies                                                                        [][]byte
}

// recordRowsUnnest turns the arrays of recordRows into rows;
// recordRowsColumns are its columns as records has them. Codes, owners
// and span trace ids travel as tab-separated words: unnest flattens arrays
// of arrays.
const (
	recordRowsUnnest = `unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[],
			$11::text[], $12::text[], $13::text[], $14::bytea[], $15::text[], $16::bytea[])
		AS r(c, u, k, s, ns, n, o, nd, cr, f, cs, os, tr, br, st, b)`
	recordRowsColumns = `c, u, k, s, ns, n, o, nd, cr, f, coalesce(string_to_array(nullif(cs, ''), E'\t'), '{}'), coalesce(string_to_array(nullif(os, ''), E'\t'), '{}'), tr,
			br, coalesce(string_to_array(nullif(st, ''), E'\t'), '{}')`
)

func (rr *recordRows) add(r *podtrace.Record, body []byte) {
	b := r.Brief()
	var fin *int64
	if b.Finished != nil {
		f := b.Finished.UnixNano()
		fin = &f
	}
	codes := make([]string, len(b.Findings))
	owners := make([]string, len(b.Findings))
	for i, f := range b.Findings {
		codes[i], owners[i] = text(f.Code), text(string(f.Owner))
	}
	rr.clusters = append(rr.clusters, text(b.Cluster))
	rr.uids = append(rr.uids, text(b.UID))
	rr.kinds = append(rr.kinds, text(string(b.Kind)))
	rr.seqs = append(rr.seqs, int32(b.Seq))
	rr.nss = append(rr.nss, text(b.Namespace))
	rr.names = append(rr.names, text(b.Name))
	rr.outcomes = append(rr.outcomes, text(string(b.Outcome)))
	rr.nodes = append(rr.nodes, text(b.Node))
	rr.created = append(rr.created, b.Created.UnixNano())
	rr.finished = append(rr.finished, fin)
	rr.codes = append(rr.codes, strings.Join(codes, "\t"))
	rr.owners = append(rr.owners, strings.Join(owners, "\t"))
	rr.traces = append(rr.traces, b.TraceID)
	rr.briefs = append(rr.briefs, sqlstore.AppendBrief(nil, &b))
	rr.spanTraces = append(rr.spanTraces, strings.Join(r.SpanTraceIDs(), "\t"))
	rr.bodies = append(rr.bodies, body)
}

func (rr *recordRows) args() []any {
	return []any{rr.clusters, rr.uids, rr.kinds, rr.seqs, rr.nss, rr.names, rr.outcomes, rr.nodes, rr.created, rr.finished,
		rr.codes, rr.owners, rr.traces, rr.briefs, rr.spanTraces, rr.bodies}
}

// fillBriefs is the Go step of migration 3: the brief columns of the rows
// saved before it, computed from their bodies.
func fillBriefs(ctx context.Context, tx pgx.Tx) error {
	var last podtrace.Key
	for {
		rows, err := tx.Query(ctx, `SELECT cluster, uid, kind, seq, body FROM records WHERE (cluster, uid, kind, seq) > ($1, $2, $3, $4)
			ORDER BY cluster, uid, kind, seq LIMIT 500`, last.Cluster, last.UID, string(last.Kind), last.Seq)
		if err != nil {
			return err
		}
		var rr recordRows
		for rows.Next() {
			var body []byte
			if err := rows.Scan(&last.Cluster, &last.UID, &last.Kind, &last.Seq, &body); err != nil {
				rows.Close()
				return err
			}
			var r podtrace.Record
			if err := json.Unmarshal(body, &r); err != nil {
				rows.Close()
				return fmt.Errorf("decode record %s: %w", last.UID, err)
			}
			rr.add(&r, body)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(rr.uids) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE records SET brief = br, span_traces = coalesce(string_to_array(nullif(st, ''), E'\t'), '{}')
			FROM `+recordRowsUnnest+`
			WHERE records.cluster = r.c AND records.uid = r.u AND records.kind = r.k AND records.seq = r.s`, rr.args()...); err != nil {
			return err
		}
	}
}

func (s *Store) progress(ctx context.Context, name string) (int64, error) {
	var v int64
	err := s.pool.QueryRow(ctx, `SELECT value FROM progress WHERE name = $1`, text(name)).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
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
	err := s.pool.QueryRow(ctx, `SELECT namespace, name, created, last_seen, state FROM pods WHERE cluster = $1 AND uid = $2`, text(cluster), text(uid)).
		Scan(&p.Namespace, &p.Name, &p.Created, &p.LastSeen, &p.State)
	if errors.Is(err, pgx.ErrNoRows) {
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
	err := s.pool.QueryRow(ctx, `SELECT uid FROM journal WHERE cluster = $1 AND key = $2`, text(cluster), text(key)).Scan(&uid)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && uid == "") {
		return "", podtrace.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("event %s: %w", key, err)
	}
	return uid, nil
}

// PodsNamed implements podtrace.Store.
func (s *Store) PodsNamed(ctx context.Context, cluster, namespace, name string) ([]podtrace.PodState, error) {
	rows, err := s.pool.Query(ctx, `SELECT uid, created, last_seen FROM pods WHERE cluster = $1 AND namespace = $2 AND name = $3 ORDER BY created, uid`,
		text(cluster), text(namespace), text(name))
	if err != nil {
		return nil, fmt.Errorf("pods named %s/%s: %w", namespace, name, err)
	}
	defer rows.Close()
	return sqlstore.Pods(rows, podtrace.PodState{Cluster: cluster, Namespace: namespace, Name: name})
}

// dialect is PostgreSQL's: finding codes and owners, and component trace
// ids, are text arrays (GIN-indexed where searched).
func dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Placeholder: func(n int) string { return "$" + strconv.Itoa(n) },
		Text:        text,
		Holds: func(col, p, word string) (string, any) {
			return col + " @> ARRAY[" + p + "::text]", text(word)
		},
	}
}

// Records implements podtrace.Store.
func (s *Store) Records(ctx context.Context, f podtrace.RecordFilter) ([]podtrace.Record, string, error) {
	q, args, limit, err := sqlstore.PageQuery(dialect(), f)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list records: %w", err)
	}
	defer rows.Close()
	return sqlstore.Records(rows, limit, s.codec)
}

// Briefs implements podtrace.Store.
func (s *Store) Briefs(ctx context.Context, f podtrace.RecordFilter, fn func(*podtrace.Brief) bool) error {
	q, args, err := sqlstore.RecordQuery(dialect(), sqlstore.BriefColumn, f)
	if err != nil {
		return err
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("list briefs: %w", err)
	}
	defer rows.Close()
	return sqlstore.Briefs[pgtype.DriverBytes](rows, fn)
}

// podEventsQuery reads a pod's journal: by journal_uid, and by the partial
// index journal_name for the events that name no uid.
const podEventsQuery = `SELECT ` + sqlstore.EventColumns + ` FROM journal WHERE cluster = $1 AND uid = $2 AND (time, seq) > ($6, $7)
	UNION ALL
	SELECT ` + sqlstore.EventColumns + ` FROM journal WHERE cluster = $1 AND uid = '' AND namespace = $3 AND name = $4 AND time >= $5 AND (time, seq) > ($6, $7)
	ORDER BY time, seq LIMIT $8`

// PodEvents implements podtrace.Store.
func (s *Store) PodEvents(ctx context.Context, cluster, uid string, page podtrace.EventPage) ([]podtrace.JournalEvent, error) {
	var ns, name string
	var created int64
	err := s.pool.QueryRow(ctx, `SELECT namespace, name, created FROM pods WHERE cluster = $1 AND uid = $2`, text(cluster), text(uid)).Scan(&ns, &name, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, podtrace.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("pod events %s: %w", uid, err)
	}
	// events that named the pod by uid, and those that named it only by
	// namespace/name (a name may be reused: only within the pod's lifetime)
	after, afterSeq, limit := page.Bounds()
	rows, err := s.pool.Query(ctx, podEventsQuery, text(cluster), text(uid), ns, name, created, after, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("pod events %s: %w", uid, err)
	}
	return s.scanEvents(rows)
}

// ClaimReports claims closed records for this process: of replicas of one
// cluster that each close the same record, only the first to claim it
// reports it (counts it in its metrics, exports its trace). It says which
// of recs this call won; a record claimed before, by anyone, or not closed
// (Finished nil) is not won.
func (s *Store) ClaimReports(ctx context.Context, recs []podtrace.Record) ([]bool, error) {
	won := make([]bool, len(recs))
	var (
		clusters, uids, kinds []string
		seqs                  []int32
		ends                  []int64
		index                 = make(map[podtrace.Key]int, len(recs))
	)
	for i := range recs {
		r := &recs[i]
		k := podtrace.Key{Cluster: text(r.Cluster), UID: text(r.UID), Kind: podtrace.Kind(text(string(r.Kind))), Seq: r.Seq}
		if _, dup := index[k]; dup || r.Finished == nil {
			continue
		}
		index[k] = i
		clusters, uids, kinds = append(clusters, k.Cluster), append(uids, k.UID), append(kinds, string(k.Kind))
		seqs, ends = append(seqs, int32(k.Seq)), append(ends, r.Finished.UnixNano())
	}
	if len(index) == 0 {
		return won, nil
	}
	rows, err := s.pool.Query(ctx, `INSERT INTO reports (cluster, uid, kind, seq, finished)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::bigint[])
		ON CONFLICT DO NOTHING RETURNING cluster, uid, kind, seq`, clusters, uids, kinds, seqs, ends)
	if err != nil {
		return nil, fmt.Errorf("claim reports: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k podtrace.Key
		var seq int32
		if err := rows.Scan(&k.Cluster, &k.UID, &k.Kind, &seq); err != nil {
			return nil, fmt.Errorf("claim reports: %w", err)
		}
		k.Seq = int(seq)
		if i, ok := index[k]; ok {
			won[i] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim reports: %w", err)
	}
	return won, nil
}

// DeleteBefore implements podtrace.Store.
func (s *Store) DeleteBefore(ctx context.Context, cluster string, before time.Time, limit int) (int, error) {
	cut := before.UnixNano()
	c := text(cluster)
	total := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, q := range []struct {
			what string
			sql  string
			args []any
		}{
			{"records", `DELETE FROM records WHERE ctid IN (SELECT ctid FROM records WHERE cluster = $1 AND coalesce(finished, created) < $2 LIMIT $3)`, []any{c, cut, limit}},
			{"pods", `DELETE FROM pods WHERE ctid IN (SELECT ctid FROM pods WHERE cluster = $1 AND last_seen < $2 LIMIT $3)`, []any{c, cut, limit}},
			{"reports", `DELETE FROM reports WHERE ctid IN (SELECT ctid FROM reports WHERE cluster = $1 AND finished < $2 LIMIT $3)`, []any{c, cut, limit}},
			// only events already applied: recovery never needs a deleted one
			{"journal", `DELETE FROM journal WHERE seq IN (SELECT seq FROM journal WHERE cluster = $1 AND time < $2
				AND seq <= coalesce((SELECT value FROM progress WHERE name = $4), 0) LIMIT $3)`, []any{c, cut, limit, text("applied/" + cluster)}},
		} {
			tag, err := tx.Exec(ctx, q.sql, q.args...)
			if err != nil {
				return fmt.Errorf("delete %s: %w", q.what, err)
			}
			total += int(tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("retention: %w", err)
	}
	return total, nil
}
