package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// newSchema creates an empty schema in the database of base, so that a
// pass starts from no rows and leaves the database as it found it. It
// returns base with search_path set to the schema, and the function that
// drops it with everything in it.
func newSchema(ctx context.Context, base string) (string, func(), error) {
	u, err := url.Parse(base)
	if err != nil || !isPostgres(base) {
		return "", nil, fmt.Errorf("--postgres %q is not a postgres:// URL", describe(base))
	}
	name := pgx.Identifier{fmt.Sprintf("gh_bench_%d", time.Now().UnixNano())}.Sanitize()
	if err := execSQL(ctx, base, "CREATE SCHEMA "+name); err != nil {
		return "", nil, err
	}
	drop := func() {
		// Not ctx: an interrupted run must still clean up.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = execSQL(ctx, base, "DROP SCHEMA IF EXISTS "+name+" CASCADE")
	}
	q := u.Query()
	q.Set("search_path", strings.Trim(name, `"`))
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

func execSQL(ctx context.Context, db, sql string) error {
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("postgres: %s: %w", sql, err)
	}
	return nil
}

// commitCounter reads the database's count of committed transactions.
type commitCounter struct{ conn *pgx.Conn }

func newCommitCounter(ctx context.Context, db string) (*commitCounter, error) {
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("commit counter: %w", err)
	}
	return &commitCounter{conn: conn}, nil
}

func (c *commitCounter) close() { c.conn.Close(context.Background()) }

// settled returns xact_commit once it has stopped moving: PostgreSQL's
// backends publish their counts lazily (at most every second while busy,
// within 10 s once idle), so a read right after the load would miss some.
// Each read is itself a commit, and an idle server still reads the feed
// and the outbox a few times a second: settled is when the count grows by
// the same small amount, second after second, three times in a row (a
// handful against thousands of requests).
func (c *commitCounter) settled() int64 {
	if c == nil {
		return 0
	}
	read := func() int64 {
		var n int64
		_ = c.conn.QueryRow(context.Background(),
			`SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
		return n
	}
	last, prev, same := read(), int64(-1), 0
	for range 30 {
		time.Sleep(time.Second)
		n := read()
		d := n - last
		if steady := prev >= 0 && d <= prev+2 && prev <= d+2; d <= 5 || (steady && d <= 50) {
			if same++; same == 3 {
				return n
			}
		} else {
			same = 0
		}
		last, prev = n, d
	}
	return last
}

// describe elides a URL's credentials.
func describe(db string) string {
	if i := strings.Index(db, "@"); i >= 0 {
		return "postgres://…@" + db[i+1:]
	}
	return db
}
