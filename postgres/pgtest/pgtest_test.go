package pgtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

func TestStale(t *testing.T) {
	now := time.Now()
	fresh := schemaPrefix + strings.ToLower(gatehouse.NewID())
	for _, tc := range []struct {
		name string
		now  time.Time
		want bool
	}{
		{fresh, now, false},
		{fresh, now.Add(staleAfter - time.Minute), false},
		{fresh, now.Add(staleAfter + time.Minute), true},
		{schemaPrefix + "not-an-id", now.Add(100 * staleAfter), false},
		{schemaPrefix + "zzzzzzzz-zzzz-7000-8000-000000000000", now.Add(100 * staleAfter), false},
		{"public", now.Add(100 * staleAfter), false},
		{"gh_other_" + strings.ToLower(gatehouse.NewID()), now.Add(100 * staleAfter), false},
	} {
		if got := stale(tc.name, tc.now); got != tc.want {
			t.Errorf("stale(%q, now+%v) = %v, want %v", tc.name, tc.now.Sub(now).Round(time.Minute), got, tc.want)
		}
	}
}

// TestSweep makes a schema that claims to be two hours old beside one made
// now, sweeps, and checks that only the old one is gone.
func TestSweep(t *testing.T) {
	base := BaseURL()
	if base == "" {
		t.Skipf("PostgreSQL tests skipped: set %s", EnvURL)
	}
	live := Schema(t, URL(t))
	// The same kind of name, its time two hours back.
	ts := fmt.Sprintf("%012x", time.Now().Add(-2*time.Hour).UnixMilli())
	old := schemaPrefix + ts[:8] + "-" + ts[8:] + strings.ToLower(gatehouse.NewID())[13:]
	exec(t, base, "CREATE SCHEMA "+pgx.Identifier{old}.Sanitize())
	t.Cleanup(func() { exec(t, base, "DROP SCHEMA IF EXISTS "+pgx.Identifier{old}.Sanitize()) })

	sweep(t, base, time.Now())

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for name, want := range map[string]bool{old: false, live: true} {
		var got bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)`, name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("after the sweep, schema %s exists = %v, want %v", name, got, want)
		}
	}
}
