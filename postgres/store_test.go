package postgres

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/postgres/pgtest"
	"github.com/gatehouse/gatehouse/storetest"
)

// openTest opens a migrated store on a fresh schema, closed when tb ends.
func openTest(tb testing.TB) *Store {
	tb.Helper()
	return openURL(tb, pgtest.URL(tb))
}

func openURL(tb testing.TB, url string) *Store {
	tb.Helper()
	return openOpts(tb, url, Options{})
}

func openOpts(tb testing.TB, url string, opts Options) *Store {
	tb.Helper()
	ctx := context.Background()
	st, err := Open(ctx, url, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return st
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t testing.TB) gatehouse.Store { return openTest(t) })
}
