package postgres_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/postgres"
	"github.com/podtrace/podtrace/storetest"
)

func TestStore(t *testing.T) {
	if os.Getenv(storetest.PostgresEnv) == "" {
		t.Skip(storetest.PostgresEnv + " not set (run under scripts/with-postgres.sh)")
	}
	storetest.Run(t, func(t *testing.T) podtrace.Store {
		st, err := postgres.Open(context.Background(), storetest.PostgresDatabase(t), postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

// TestMigrateConcurrently: instances starting together migrate once.
func TestMigrateConcurrently(t *testing.T) {
	dsn := storetest.PostgresDatabase(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			st, err := postgres.Open(context.Background(), dsn, postgres.Options{})
			if err == nil {
				st.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"postgres://u:hunter2@db:5432/x?sslmode=require", "postgres://u:xxxxx@db:5432/x?sslmode=require"},
		{"postgres://db/x?password=hunter2", "postgres://db/x?password=xxxxx"},
		{"postgresql://u@db/x", "postgresql://u@db/x"},
	} {
		if got := postgres.Redact(c.in); got != c.want || strings.Contains(got, "hunter2") {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	_, err := postgres.Open(context.Background(), "postgres://u:hunter2@[bad", postgres.Options{})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("open with a bad DSN: %v", err)
	}
}
