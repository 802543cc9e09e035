package sqlite

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// allMigrations returns the names of the embedded migrations, in order.
func allMigrations(tb testing.TB) []string {
	tb.Helper()
	ms, err := migrations()
	if err != nil {
		tb.Fatalf("migrations: %v", err)
	}
	if len(ms) == 0 {
		tb.Fatal("no embedded migrations")
	}
	var names []string
	for i, m := range ms {
		if m.Version != i+1 {
			tb.Errorf("migration %s has version %d, want %d (no gaps)", m.Name, m.Version, i+1)
		}
		names = append(names, m.Name)
	}
	return names
}

func openRaw(tb testing.TB, path string) *Store {
	tb.Helper()
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	want := allMigrations(t)
	s := openRaw(t, filepath.Join(t.TempDir(), "g.db"))

	if v, err := s.SchemaVersion(ctx); err != nil || v != 0 {
		t.Fatalf("SchemaVersion before Migrate = %d, %v; want 0 (Open must not migrate)", v, err)
	}
	applied, err := s.Migrate(ctx)
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if !slices.Equal(applied, want) {
		t.Errorf("Migrate applied %v, want %v", applied, want)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != len(want) {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, len(want))
	}
	for _, table := range []string{"users", "sessions", "retired_tokens", "revocations", "attempts", "posts", "signing_keys", "email_tokens", "outbox"} {
		if ok, err := s.hasTable(ctx, table); !ok || err != nil {
			t.Errorf("table %s missing after Migrate (%v)", table, err)
		}
	}

	again, err := s.Migrate(ctx)
	if err != nil || len(again) != 0 {
		t.Errorf("second Migrate = %v, %v; want nothing applied", again, err)
	}
	var rows int
	if err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil || rows != len(want) {
		t.Errorf("schema_migrations has %d rows (%v), want %d", rows, err, len(want))
	}
}

// TestMigrateConcurrently runs Migrate on two handles of one fresh file at
// once, as two processes starting together would: both succeed, and each
// migration is applied exactly once between them.
func TestMigrateConcurrently(t *testing.T) {
	ctx := context.Background()
	want := allMigrations(t)
	for round := range 5 {
		path := filepath.Join(t.TempDir(), "g.db")
		stores := []*Store{openRaw(t, path), openRaw(t, path)}
		results := make([][]string, len(stores))
		errs := make([]error, len(stores))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, s := range stores {
			wg.Go(func() {
				<-start
				results[i], errs[i] = s.Migrate(ctx)
			})
		}
		close(start)
		wg.Wait()
		var union []string
		for i := range stores {
			if errs[i] != nil {
				t.Fatalf("round %d: Migrate on handle %d: %v", round, i, errs[i])
			}
			union = append(union, results[i]...)
		}
		slices.Sort(union)
		if !slices.Equal(union, want) {
			t.Errorf("round %d: the two Migrate calls applied %v together, want each of %v once", round, union, want)
		}
		for i, s := range stores {
			if v, err := s.SchemaVersion(ctx); err != nil || v != len(want) {
				t.Errorf("round %d: handle %d SchemaVersion = %d, %v", round, i, v, err)
			}
		}
	}
}

func TestMigrationsAreWellFormed(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if len(m.SQL) == 0 {
			t.Errorf("migration %s is empty", m.Name)
		}
	}
	allMigrations(t)
}
