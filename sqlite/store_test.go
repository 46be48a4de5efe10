package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

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

// TestFileGone: a store whose file was deleted or replaced since it was
// opened refuses writes (SQLite would commit them to the open, deleted
// file, where no restart finds them).
func TestFileGone(t *testing.T) {
	ctx := context.Background()
	ev := []podtrace.JournalEvent{{Cluster: "c", Key: "k", UID: "u", Namespace: "ns", Name: "p", Time: time.Unix(1, 0), Body: []byte(`{}`)}}
	for name, gone := range map[string]func(path string) error{
		"deleted": os.Remove,
		"replaced": func(path string) error {
			if err := os.WriteFile(path+".new", nil, 0o600); err != nil {
				return err
			}
			return os.Rename(path+".new", path)
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "store.db")
			st, err := sqlite.Open(ctx, path, sqlite.Options{Sync: "NORMAL"})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.AppendEvents(ctx, ev); err != nil || st.Check() != nil {
				t.Fatalf("before: %v, %v", err, st.Check())
			}
			if err := gone(path); err != nil {
				t.Fatal(err)
			}
			if err := st.Check(); !errors.Is(err, sqlite.ErrFileGone) {
				t.Errorf("check: %v, want ErrFileGone", err)
			}
			if _, err := st.AppendEvents(ctx, ev); !errors.Is(err, sqlite.ErrFileGone) {
				t.Errorf("append: %v, want ErrFileGone", err)
			}
			if err := st.Save(ctx, podtrace.Commit{Cluster: "c", Applied: 1}); !errors.Is(err, sqlite.ErrFileGone) {
				t.Errorf("save: %v, want ErrFileGone", err)
			}
		})
	}
}
