package postgres

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/internal/sqlstore"
	"github.com/podtrace/podtrace/storetest"
)

func TestBriefMigration(t *testing.T) {
	storetest.BriefMigration(t, func(t *testing.T, recs []podtrace.Record) podtrace.Store {
		ctx := context.Background()
		dsn := storetest.PostgresDatabase(t)
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (version integer PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		ms, err := sqlstore.Migrations(migrations)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Version >= 3 { // the briefs'
				break
			}
			if _, err := conn.Exec(ctx, m.SQL); err != nil {
				t.Fatal(m.Name, err)
			}
			if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range recs {
			body, _ := json.Marshal(r)
			var fin *int64
			if r.Finished != nil {
				f := r.Finished.UnixNano()
				fin = &f
			}
			if _, err := conn.Exec(ctx, `INSERT INTO records (cluster, uid, kind, seq, namespace, name, outcome, node, created, finished, trace_id, body) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
				r.Cluster, r.UID, string(r.Kind), r.Seq, r.Namespace, r.Name, string(r.Outcome), r.Node, r.Created.UnixNano(), fin, r.TraceHex(), body); err != nil {
				t.Fatal(err)
			}
		}
		st, err := Open(ctx, dsn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}
