package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/storeerr"
)

// Options configures [Open]. The zero value is the production default.
type Options struct {
	// Synchronous is "FULL" (the default: every acknowledged commit is on
	// disk, surviving a power loss) or "NORMAL" (a commit survives a crash
	// of the process but the last ones may be lost on a power loss).
	Synchronous string
	// BusyTimeout is how long a write waits for another process (a second
	// gatehouse, the CLI) holding the write lock before failing with
	// [gatehouse.ErrUnavailable]. Default 5s.
	BusyTimeout time.Duration
	// MaxReaders bounds the read pool. Default max(4, GOMAXPROCS).
	MaxReaders int
	// GroupCommitWindow is how long the committer of the session writes
	// (see group.go) waits for more concurrent writes to join a batch once
	// the previous batch held more than one; a lone writer never waits.
	// Default 200µs; negative commits every write in its own transaction.
	GroupCommitWindow time.Duration
	// Logger receives migration notices; nil discards them.
	Logger *slog.Logger
}

// Store is the SQLite implementation of [gatehouse.Store]. It is safe for
// concurrent use. See the package documentation for its connection layout.
type Store struct {
	path   string
	write  *sql.DB     // one connection; every write transaction is BEGIN IMMEDIATE
	read   *sql.DB     // a pool of query_only connections
	group  *committer  // batches the hot session writes; nil: off
	hot    *statements // the hot writes' statements, prepared on the writer
	log    *slog.Logger
	closed atomic.Bool
}

var _ gatehouse.Store = (*Store)(nil)

// Open opens, creating it if needed, the database file at path and sets the
// connection pragmas. It does not migrate: call [Store.Migrate]. The error
// names path when the file cannot be opened or is not a database.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		// An in-memory database is per connection, so the read pool would
		// not see the writer's data; a URI would bypass our pragmas.
		return nil, fmt.Errorf("sqlite: open %q: need a plain file path", path)
	}
	syncMode := strings.ToUpper(opts.Synchronous)
	switch syncMode {
	case "":
		syncMode = "FULL"
	case "FULL", "NORMAL":
	default:
		return nil, fmt.Errorf("sqlite: open %s: synchronous %q: want FULL or NORMAL", path, opts.Synchronous)
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.MaxReaders <= 0 {
		opts.MaxReaders = max(4, runtime.GOMAXPROCS(0))
	}
	if opts.GroupCommitWindow == 0 {
		opts.GroupCommitWindow = defaultGroupWindow
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := createPrivate(path); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is named once, below
		}
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	busy := fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds())
	common := url.Values{}
	common.Add("_pragma", busy)
	// SQLite leaves foreign keys off unless each connection turns them on.
	common.Add("_pragma", "foreign_keys(1)")
	common.Add("_pragma", "synchronous("+syncMode+")")

	w := cloneValues(common)
	w.Add("_pragma", "journal_mode(WAL)")
	// Keep the WAL file from staying huge after a burst of writes.
	w.Add("_pragma", "journal_size_limit(67108864)")
	// BEGIN IMMEDIATE takes the write lock when the transaction starts, so
	// a transaction never fails half-way with SQLITE_BUSY(_SNAPSHOT) on
	// its first write; the busy handler waits for the lock instead.
	w.Set("_txlock", "immediate")

	r := cloneValues(common)
	// Readers must never write: a stray write on a reader would contend
	// with the single writer for the lock.
	r.Set("_query_only", "1")

	s := &Store{path: path, log: opts.Logger}
	var err error
	if s.write, err = sql.Open("sqlite", dsn(path, w)); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	s.write.SetConnMaxLifetime(0)
	s.write.SetConnMaxIdleTime(0)
	s.hot = newStatements(s.write)

	// The writer connects first: it switches the file to WAL, and this is
	// where a file that is not a database is noticed.
	var mode string
	if err := s.write.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		s.write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		s.write.Close()
		return nil, fmt.Errorf("sqlite: open %s: journal mode is %q, not WAL (does the file system support shared memory?)", path, mode)
	}

	if s.read, err = sql.Open("sqlite", dsn(path, r)); err != nil {
		s.write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.read.SetMaxOpenConns(opts.MaxReaders)
	s.read.SetMaxIdleConns(opts.MaxReaders)
	if err := s.read.PingContext(ctx); err != nil {
		s.read.Close()
		s.write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if opts.GroupCommitWindow > 0 {
		s.group = newCommitter(s, opts.GroupCommitWindow)
	}
	return s, nil
}

// createPrivate creates the database file with mode 0600 when it does not
// exist yet: it holds password hashes and session secrets, which no other
// local user needs to read (OWASP ASVS V8 data protection). SQLite gives the
// -wal and -shm files the mode of the database file.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// dsn makes a file: URI for path. Escaping the path keeps a '?' or '#' in
// a file name from being read as the start of the parameters.
func dsn(path string, q url.Values) string {
	// Clean also turns a leading "//", which a URI reads as a host, into "/".
	p := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.Clean(path))
	return "file:" + p + "?" + q.Encode()
}

func cloneValues(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// Path returns the path of the database file.
func (s *Store) Path() string { return s.path }

// Ping reports whether the database answers; it reads the file header, so
// a file that became unreadable fails.
func (s *Store) Ping(ctx context.Context) error {
	var v int
	if err := s.read.QueryRowContext(ctx, "PRAGMA schema_version").Scan(&v); err != nil {
		return s.wrap(ctx, "ping", err)
	}
	return nil
}

// Close commits the writes already queued for a batch, then closes both
// pools. The readers go first, so that the writer is the last connection
// and checkpoints the WAL into the database file.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.group != nil {
		s.group.stop()
	}
	return errors.Join(s.read.Close(), s.write.Close())
}

// wrap turns an error of the database into one wrapping a gatehouse
// sentinel, by the rules both stores share (package storeerr).
func (s *Store) wrap(ctx context.Context, op string, err error) error {
	return storeerr.Mapper{Store: "sqlite", Closed: s.closed.Load, Classify: classify}.Wrap(ctx, op, err)
}

// classify says what an SQLite error means, by result code, never by
// message text (STYLE.md).
func classify(err error) (storeerr.Kind, string) {
	if errors.Is(err, sql.ErrConnDone) {
		return storeerr.Unavailable, ""
	}
	var se *msqlite.Error
	if !errors.As(err, &se) {
		return storeerr.Other, ""
	}
	switch code := se.Code(); code {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return storeerr.Conflict, ""
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		// The row refers to a user or session that does not exist.
		return storeerr.Missing, ""
	default:
		switch code & 0xff { // the primary result code
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL, sqlite3.SQLITE_PROTOCOL,
			sqlite3.SQLITE_READONLY:
			return storeerr.Unavailable, ""
		}
	}
	return storeerr.Other, ""
}

// isCode reports whether err is an SQLite error with the extended code.
func isCode(err error, code int) bool {
	var se *msqlite.Error
	return errors.As(err, &se) && se.Code() == code
}

// writeTx runs fn in a write transaction (BEGIN IMMEDIATE on the single
// writer connection) and commits it; any error rolls everything back. When
// fn succeeds, the events attached to ctx are stored in the same
// transaction, and an event that cannot be stored rolls back the change
// too; when fn returns errUnchanged, what it wrote (if anything) commits
// without them and the caller gets nil (see events.go).
func (s *Store) writeTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	return s.writeTxFor(ctx, op, nil, fn)
}

// writeTxFor is writeTx for a write that learns in fn which user it
// concerns (from a link token): the id fn leaves in *userID fills the
// empty UserID of the events (gatehouse.EventStore).
func (s *Store) writeTxFor(ctx context.Context, op string, userID *string, fn func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(ctx, op, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if err := fn(tx); errors.Is(err, errUnchanged) {
		// Nothing the events record happened: commit only what fn wrote.
	} else if err != nil {
		return s.wrap(ctx, op, err)
	} else if err := insertEvents(ctx, tx, eventsFor(ctx, userID)); err != nil {
		return s.wrap(ctx, op, err)
	}
	if err := tx.Commit(); err != nil {
		return s.wrap(ctx, op, err)
	}
	return nil
}

// notFound returns the error of a missing row: "sqlite: session ID: not found".
func notFound(what, id string) error { return storeerr.NotFound("sqlite", what, id) }

// micros stores a time as Unix microseconds; the zero time is NULL.
func micros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// fromMicros reads a time stored by micros, in UTC.
func fromMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

// usecs reads a NOT NULL time column.
func usecs(v int64) time.Time { return time.UnixMicro(v).UTC() }
