package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podtrace/podtrace"
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
		names, _ := fs.Glob(migrations, "migrations/*.sql")
		for _, name := range names {
			var v int
			fmt.Sscanf(strings.TrimPrefix(name, "migrations/"), "%d", &v)
			if v >= 5 {
				continue
			}
			body, _ := migrations.ReadFile(name)
			if _, err := db.Exec(string(body)); err != nil {
				t.Fatal(name, err)
			}
			if _, err := db.Exec(`INSERT INTO schema_migrations (version) VALUES (?)`, v); err != nil {
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
