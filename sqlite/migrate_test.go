package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/internal/sqlstore"
	"github.com/podtrace/podtrace/storetest"
)

func TestBriefMigration(t *testing.T) {
	storetest.BriefMigration(t, func(t *testing.T, recs []podtrace.Record) podtrace.Store {
		path := filepath.Join(t.TempDir(), "old.db")
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		ms, err := sqlstore.Migrations(migrations)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Version >= 5 { // the briefs'
				break
			}
			if _, err := db.Exec(m.SQL); err != nil {
				t.Fatal(m.Name, err)
			}
			if _, err := db.Exec(`INSERT INTO schema_migrations (version) VALUES (?)`, m.Version); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range recs {
			body, _ := json.Marshal(r)
			var fin any
			if r.Finished != nil {
				fin = r.Finished.UnixNano()
			}
			if _, err := db.Exec(`INSERT INTO records (cluster, uid, kind, seq, namespace, name, outcome, node, created, finished, body) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
				r.Cluster, r.UID, r.Kind, r.Seq, r.Namespace, r.Name, r.Outcome, r.Node, r.Created.UnixNano(), fin, body); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
		st, err := Open(context.Background(), path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}
