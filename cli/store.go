package cli

import (
	"context"
	"flag"
	"fmt"
	"os"

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

// storeName names the store for messages, without a password.
func storeName(where string) string {
	if postgres.IsDSN(where) {
		return postgres.Redact(where)
	}
	return where
}
