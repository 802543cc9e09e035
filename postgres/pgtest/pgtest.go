// Package pgtest gives each test its own PostgreSQL schema, so that tests
// of the postgres store, the server and the e2e suite run in parallel on
// one database without seeing each other's rows.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
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
// calling URL, so that they close first). It skips tb, saying why, when
// EnvURL is unset.
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
	schema := "gh_test_" + strings.ToLower(gatehouse.NewID())
	if len(schema) > 63 {
		schema = schema[:63]
	}
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
