package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/postgres"
	"github.com/podtrace/podtrace/sqlite"
)

// storeFlag binds the flags that choose the store, as podtrace serve
// chooses it: --db (SQLite), or --postgres-dsn (also from
// PODTRACE_POSTGRES_DSN), which wins when set.
func storeFlag(fs *flag.FlagSet) func() string {
	db := fs.String("db", defaultDB(), "SQLite database file")
	dsn := fs.String("postgres-dsn", os.Getenv("PODTRACE_POSTGRES_DSN"), "use PostgreSQL (postgres://host/db; password from PGPASSWORD or ~/.pgpass) instead of --db")
	return func() string {
		if *dsn != "" {
			return *dsn
		}
		return *db
	}
}

// openStore opens the store at where: a postgres:// URL or a SQLite file.
// sync is SQLite's synchronous mode ("" for its default).
func openStore(ctx context.Context, where, sync string) (podtrace.Store, error) {
	if postgres.IsDSN(where) {
		return postgres.Open(ctx, where, postgres.Options{})
	}
	if where == "" {
		return nil, fmt.Errorf("--db: must not be empty")
	}
	return sqlite.Open(ctx, where, sqlite.Options{Sync: sync})
}

// mustExist checks that a SQLite database to read exists: the commands that
// only read never create one (a mistyped --db would show an empty table).
// The error names the path and, if the demo left a database, where it is.
func mustExist(where string) error {
	if where == "" || postgres.IsDSN(where) {
		return nil
	}
	if _, err := os.Stat(where); !errors.Is(err, fs.ErrNotExist) {
		return nil // it exists, or opening it says what is wrong
	}
	msg := fmt.Sprintf("no database at %s (--db, or PODTRACE_DB): podtrace replay or podtrace serve creates one", where)
	if demos, _ := filepath.Glob(filepath.Join(os.TempDir(), "podtrace-demo-*", "podtrace.db")); len(demos) > 0 {
		msg += "; podtrace demo's is at " + demos[len(demos)-1]
	}
	return errors.New(msg)
}

// storeName names the store for messages, without a password.
func storeName(where string) string {
	if postgres.IsDSN(where) {
		return postgres.Redact(where)
	}
	return where
}
