// Package pgtest gives each test its own PostgreSQL schema, so that tests
// of the postgres store, the server and the e2e suite run in parallel on
// one database without seeing each other's rows.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

// EnvURL names the environment variable with the test database's URL,
// e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvURL = "GATEHOUSE_TEST_POSTGRES_URL"

// BaseURL returns the test database's URL, or "" when EnvURL is unset.
func BaseURL() string { return os.Getenv(EnvURL) }

// URL creates a fresh schema in the test database and returns a URL whose
// search_path is that schema; the schema is dropped, with everything in
// it, when tb ends (register the stores and servers that use it after
// calling URL, so that they close first). The first call of a test binary
// also drops the test schemas that binaries killed before their cleanup
// left behind (older than an hour). It skips tb, saying why, when EnvURL
// is unset.
func URL(tb testing.TB) string {
	tb.Helper()
	base := BaseURL()
	if base == "" {
		tb.Skipf("PostgreSQL tests skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", EnvURL)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("%s is not a postgres:// URL", EnvURL)
	}
	sweepOnce.Do(func() { sweep(tb, base, time.Now()) })
	// The id is a UUIDv7: the name says when the schema was made, which
	// is how sweep tells a forgotten schema from one in use.
	schema := schemaPrefix + strings.ToLower(gatehouse.NewID())
	exec(tb, base, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	tb.Cleanup(func() {
		exec(tb, base, "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("application_name", AppName(schema))
	u.RawQuery = q.Encode()
	return u.String()
}

// schemaPrefix starts the name of every schema URL makes. A schema's
// name is the prefix and a UUIDv7, whose first 48 bits are the Unix
// milliseconds of its making.
const schemaPrefix = "gh_test_"

// staleAfter is the age past which a test schema is a leftover (of a test
// binary killed before its cleanup ran) rather than in use: far longer
// than any test run, whose default timeout is 10 minutes. Sweeping by age
// rather than by "not mine" is what keeps test binaries of several
// packages, running at once on one database, from dropping each other's
// schemas.
const staleAfter = time.Hour

var sweepOnce sync.Once

// sweep drops the test schemas older than staleAfter. It only logs what
// it could not drop: another test binary may be sweeping the same ones.
func sweep(tb testing.TB, base string, now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)`, schemaPrefix)
	if err != nil {
		tb.Logf("pgtest: listing test schemas: %v", err)
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Logf("pgtest: listing test schemas: %v", err)
		return
	}
	for _, name := range names {
		if !stale(name, now) {
			continue
		}
		if _, err := conn.Exec(ctx, "SET lock_timeout = '2s'; DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			tb.Logf("pgtest: dropping stale schema %s: %v", name, err)
		}
	}
}

// stale reports whether a test schema's name says it was made more than
// staleAfter before now. A name without a readable time is never stale:
// it is not ours to drop.
func stale(name string, now time.Time) bool {
	id, ok := strings.CutPrefix(name, schemaPrefix)
	// "0190e7f2-3c4d-7...": 8 and 4 hex digits, the 48-bit milliseconds.
	if !ok || len(id) < 13 || id[8] != '-' {
		return false
	}
	ms, err := strconv.ParseUint(id[:8]+id[9:13], 16, 64)
	if err != nil {
		return false
	}
	return now.Sub(time.UnixMilli(int64(ms))) > staleAfter
}

// Schema returns the search_path of a URL made by URL.
func Schema(tb testing.TB, dbURL string) string {
	tb.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	return u.Query().Get("search_path")
}

// Exec runs SQL (several statements allowed) on a connection of its own.
func Exec(tb testing.TB, dbURL, sql string) {
	tb.Helper()
	exec(tb, dbURL, sql)
}

func exec(tb testing.TB, dbURL, sql string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("pgtest: %s: %v", firstLine(sql), err)
	}
}

// TerminateSchema ends every backend but the caller's whose search_path
// setting names schema: what a database restart does to Gatehouse's
// connections, without restarting a server that other tests share.
func TerminateSchema(tb testing.TB, schema string) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, BaseURL())
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
        WHERE pid <> pg_backend_pid() AND application_name = $1`, AppName(schema)).Scan(&n)
	if err != nil {
		tb.Fatalf("pgtest: terminate: %v", err)
	}
	return n
}

// AppName is the application_name that URL-made connections of schema
// carry, so that TerminateSchema can find them.
func AppName(schema string) string { return "gatehouse-" + schema }

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return fmt.Sprintf("%.60s", s)
}
