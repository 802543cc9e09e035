package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/storeerr"
)

// Options configures [Open]. The zero value is the production default.
type Options struct {
	// MaxConns bounds the connection pool. Default 8 (defaultMaxConns).
	MaxConns int32
	// QueryTimeout bounds every call of the Store, waiting for a pooled
	// connection included: past it the call fails with
	// [gatehouse.ErrUnavailable] rather than hanging. Default 5s.
	QueryTimeout time.Duration
	// ConnectTimeout bounds one connection attempt when the URL sets no
	// connect_timeout. Default 3s.
	ConnectTimeout time.Duration
	// Logger receives migration and listener notices; nil discards them.
	Logger *slog.Logger
}

// defaultMaxConns is the pool size, chosen by measurement: 16 goroutines
// refreshing (read the session, rotate it) against a local PostgreSQL 15
// on the 2-core development VM, shared with other work, at pool sizes 2 to
// 32 (go test -bench 'RotateSessionParallel' -benchtime 1s -count 3
// ./postgres/; the median of three, refreshes/s):
//
//	pool    2     4     8    16    32
//	      1064   997  1716  1014  1340
//
// Eight did best: fewer connections leave refreshes waiting while a
// commit waits for its WAL flush, which is where concurrent commits share
// one flush; more only add backends that compete for the database's CPUs
// and lock the same WAL. What the right size depends on is the database
// server's cores and disk, not this process's GOMAXPROCS, which the old
// default (max(8, 4×GOMAXPROCS)) followed: on a 16-core application host
// it opened 64 connections to a database that may have 2 cores. The runs
// are noisy (the VM's disk is shared), so this is a starting point; a
// deployment with a larger database server sets Options.MaxConns.
const defaultMaxConns = 8

// Store is the PostgreSQL implementation of [gatehouse.Store]. It is safe
// for concurrent use, by many processes on one database.
type Store struct {
	pool   *pgxpool.Pool
	schema string // where the tables live: the first schema of search_path
	opts   Options
	log    *slog.Logger
	closed atomic.Bool
	// rotations batches concurrent RotateSessions (batch.go).
	rotations *rotations

	// beforeCommit, when set (by tests), runs inside every write
	// transaction just before it commits.
	beforeCommit func(op string)
}

var _ gatehouse.Store = (*Store)(nil)
var _ gatehouse.RevocationNotifier = (*Store)(nil)

// Open connects to the database a postgres:// URL names and checks that it
// answers. The tables live in the first schema of the connection's
// search_path (a search_path=NAME URL parameter chooses another schema than
// public). It does not migrate: call [Store.Migrate]. Errors never repeat
// the URL's password.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn's parse error masks the password on a best-effort basis;
		// say only what was wrong.
		return nil, errors.New("postgres: the connection URL cannot be parsed")
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = defaultMaxConns
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = 5 * time.Second
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 3 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.MaxConns = opts.MaxConns
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// Without it a dial to a host that drops packets waits for the
		// kernel's TCP timeout, minutes: requests must fail fast instead.
		cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	}
	// Notice dead connections in the pool between requests, so that after
	// a database restart fewer requests meet a dead connection first.
	cfg.HealthCheckPeriod = 5 * time.Second
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	// Times travel as instants; the session zone only affects text output
	// (psql, logs), which UTC keeps unambiguous.
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "gatehouse"
	}

	s := &Store{opts: opts, log: opts.Logger}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	var schema *string
	err = s.read(ctx, "open", func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema)
	})
	if err != nil {
		s.pool.Close()
		return nil, oneLine{err}
	}
	if schema == nil {
		s.pool.Close()
		return nil, fmt.Errorf("postgres: open: the search_path (%s) names no existing schema", cfg.ConnConfig.RuntimeParams["search_path"])
	}
	s.schema = *schema
	// One connection rotates, in batches (batch.go says why one); the rest
	// of the pool stays for everything else.
	s.rotations = newRotations(s, rotationWorkers)
	return s, nil
}

// Schema returns the schema that holds Gatehouse's tables.
func (s *Store) Schema() string { return s.schema }

// Ping reports whether the database answers, within QueryTimeout.
func (s *Store) Ping(ctx context.Context) error {
	return s.read(ctx, "ping", func(ctx context.Context) error {
		var one int
		return s.pool.QueryRow(ctx, `SELECT 1`).Scan(&one)
	})
}

// Close closes the pool. Listeners started by RevocationNotices end with
// their context.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.rotations.close()
	s.pool.Close()
	return nil
}

// serialiseRetries bounds the runs of a transaction PostgreSQL aborted to
// break a deadlock or a serialization conflict.
const serialiseRetries = 5

// do runs a write with the Store's deadline and maps its error. It runs
// fn again when the failure is certain to have happened before anything
// reached the server (pgx's SafeToRetry), and when PostgreSQL aborted it
// with a serialization failure or a deadlock (40001, 40P01), whose
// transaction left no trace. A write whose connection died after it was
// sent is not retried: it may have committed, and a second run could
// answer differently (a taken email, a lost rotation); the caller gets
// ErrUnavailable and decides.
func (s *Store) do(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	return s.run(ctx, op, false, fn)
}

// read is do for statements that change nothing, which are also retried
// when their connection was lost mid-way: after a database restart every
// pooled connection is dead, and a read should not fail for that.
func (s *Store) read(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	return s.run(ctx, op, true, fn)
}

func (s *Store) run(ctx context.Context, op string, readOnly bool, fn func(ctx context.Context) error) error {
	if s.closed.Load() {
		return fmt.Errorf("postgres: %s: %w: the store is closed", op, gatehouse.ErrUnavailable)
	}
	qctx, cancel := context.WithTimeout(ctx, s.opts.QueryTimeout)
	defer cancel()
	var err error
	for conn, ser := 0, 0; ; {
		err = fn(qctx)
		if err == nil {
			return nil
		}
		if qctx.Err() != nil {
			break
		}
		lost := pgconn.SafeToRetry(err) || (readOnly && (connectionLost(err) || unavailableState(sqlState(err))))
		switch {
		// Each dead pooled connection fails once, at once, and is dropped:
		// after a restart there can be as many as the pool holds.
		case lost && conn <= int(s.opts.MaxConns):
			conn++
			continue
		case (sqlState(err) == "40001" || sqlState(err) == "40P01") && ser < serialiseRetries:
			ser++
			continue
		}
		break
	}
	return s.wrap(ctx, op, err)
}

// tx runs fn in a READ COMMITTED transaction through [Store.do] and
// commits it; any error rolls everything back. fn may run more than once,
// so it must assign its results, not append to them. When fn succeeds,
// the events attached to ctx are stored in the same transaction, and an
// event that cannot be stored rolls back the change too; when fn returns
// errUnchanged, what it wrote (if anything) commits without them and the
// caller gets nil (see events.go).
func (s *Store) tx(ctx context.Context, op string, fn func(ctx context.Context, tx pgx.Tx) error) error {
	return s.txFor(ctx, op, nil, fn)
}

// txFor is tx for a write that learns in fn which user it concerns (from a
// link token): the id fn leaves in *userID fills the empty UserID of the
// events (gatehouse.EventStore).
func (s *Store) txFor(ctx context.Context, op string, userID *string, fn func(ctx context.Context, tx pgx.Tx) error) error {
	return s.do(ctx, op, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if err := fn(ctx, tx); errors.Is(err, errUnchanged) {
				// Nothing the events record happened: commit only what fn wrote.
			} else if err != nil {
				return err
			} else if err := insertEvents(ctx, tx, eventsFor(ctx, userID)); err != nil {
				return err
			}
			if s.beforeCommit != nil {
				s.beforeCommit(op)
			}
			return nil
		})
	})
}

// dbtx is what a write runs its statements on: the pool or a transaction.
type dbtx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// write runs fn, a write of one statement (plus reads that only explain
// its answer), through [Store.do]. With events attached to ctx it runs in
// a transaction ([Store.tx]), so that they commit with it; without, it
// runs straight on the pool, in one round trip rather than the three of
// BEGIN, the statement and COMMIT: the hot writes (a refresh's rotation,
// a login's session) mostly carry no event.
func (s *Store) write(ctx context.Context, op string, fn func(ctx context.Context, q dbtx) error) error {
	if len(gatehouse.EventsOf(ctx)) > 0 {
		return s.tx(ctx, op, func(ctx context.Context, tx pgx.Tx) error { return fn(ctx, tx) })
	}
	return s.do(ctx, op, func(ctx context.Context) error {
		if err := fn(ctx, s.pool); !errors.Is(err, errUnchanged) {
			return err
		}
		return nil
	})
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// wrap turns an error of the database into one wrapping a gatehouse
// sentinel, by the rules both stores share (package storeerr).
func (s *Store) wrap(ctx context.Context, op string, err error) error {
	return storeerr.Mapper{Store: "postgres", Closed: s.closed.Load, Classify: s.classify}.Wrap(ctx, op, err)
}

// classify says what an error of pgx means, by SQLSTATE or error type,
// never by message text (STYLE.md).
func (s *Store) classify(err error) (storeerr.Kind, string) {
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) || sqlState(err) == "57014" {
		// Our own QueryTimeout ended it (the caller's context, had it
		// ended, would have been reported before): the database is too
		// slow or gone.
		return storeerr.Unavailable, fmt.Sprintf("no answer within %v", s.opts.QueryTimeout)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		if connectionLost(err) {
			return storeerr.Unavailable, ""
		}
		return storeerr.Other, ""
	}
	switch {
	case pe.Code == "23505": // unique_violation
		return storeerr.Conflict, ""
	case pe.Code == "23503": // foreign_key_violation: a missing user or session
		return storeerr.Missing, ""
	case pe.Code == "22021" || pe.Code == "22P05": // a NUL (or unencodable) character in text
		return storeerr.Invalid, "text with a NUL character"
	case unavailableState(pe.Code):
		return storeerr.Unavailable, ""
	}
	return storeerr.Other, ""
}

// unavailableState reports whether a SQLSTATE says the database cannot
// serve now, rather than that the statement was wrong.
func unavailableState(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), // connection exception
		strings.HasPrefix(code, "53"),    // insufficient resources (too many connections, disk full)
		strings.HasPrefix(code, "57P"),   // admin/crash shutdown, cannot connect now
		strings.HasPrefix(code, "58"),    // system error (I/O)
		code == "40001", code == "40P01", // still failing after the retries
		code == "25006": // read-only transaction: failed over to a standby
		return true
	}
	return false
}

// connectionLost reports whether err is the loss or refusal of a
// connection rather than something the statement did.
func connectionLost(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		pgconn.SafeToRetry(err)
}

// notFound returns the error of a missing row: "postgres: session ID: not found".
func notFound(what, id string) error { return storeerr.NotFound("postgres", what, id) }

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// fromNull reads a nullable time in UTC; NULL is the zero time.
func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nonNil keeps a nil byte slice from being sent as NULL, which the
// NOT NULL bytea columns would refuse.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// oneLine keeps an error on one line: pgconn lists each failed connection
// attempt on a line of its own, and the command line reports a bad --db in
// one line (CONTRACT §1).
type oneLine struct{ err error }

func (e oneLine) Error() string {
	return strings.Join(strings.Fields(strings.ReplaceAll(e.err.Error(), "\n", " ")), " ")
}
func (e oneLine) Unwrap() error { return e.err }

// hasNUL reports whether any of ss holds a NUL character. PostgreSQL text
// cannot hold one (SQLite's can), so no stored key has one: a lookup by
// such a key finds nothing without asking, where sending it would fail
// with an encoding error (22021) instead of "not found".
func hasNUL(ss ...string) bool {
	for _, s := range ss {
		if strings.IndexByte(s, 0) >= 0 {
			return true
		}
	}
	return false
}
