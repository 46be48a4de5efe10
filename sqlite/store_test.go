package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/sqlite"
	"github.com/podtrace/podtrace/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) podtrace.Store {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "store.db"), sqlite.Options{Sync: "NORMAL"})
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}
