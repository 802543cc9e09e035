package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/storetest"
)

// mustOpenStore opens and migrates a fresh database file under tb.TempDir().
func mustOpenStore(tb testing.TB, opts Options) *Store {
	tb.Helper()
	return mustOpenPath(tb, filepath.Join(tb.TempDir(), "gatehouse.db"), opts)
}

func mustOpenPath(tb testing.TB, path string, opts Options) *Store {
	tb.Helper()
	s, err := Open(context.Background(), path, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) gatehouse.Store {
		return mustOpenStore(tb, Options{})
	})
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("this is not a database\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		path     string
		opts     Options
		wantText string // besides the path
		wantCode int    // SQLite result code, 0: none
	}{
		{"missing directory", filepath.Join(dir, "no", "such", "dir", "g.db"), Options{}, "no such file or directory", 0},
		{"not a database", notDB, Options{}, "not a database", sqlite3.SQLITE_NOTADB},
		{"a directory", dir, Options{}, "", 0},
		{"bad synchronous", filepath.Join(dir, "ok.db"), Options{Synchronous: "OFF"}, "synchronous", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(context.Background(), tc.path, tc.opts)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s) succeeded", tc.path)
			}
			if !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error %q does not name the path %s", err, tc.path)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q does not say %q", err, tc.wantText)
			}
			if tc.name == "missing directory" && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %v does not wrap fs.ErrNotExist", err)
			}
			if tc.wantCode != 0 && !isCode(err, tc.wantCode) {
				t.Errorf("error %v does not carry SQLite code %d", err, tc.wantCode)
			}
		})
	}
	t.Run("not a database is left alone", func(t *testing.T) {
		b, err := os.ReadFile(notDB)
		if err != nil || !strings.HasPrefix(string(b), "this is not a database") {
			t.Errorf("Open changed a file that is not a database")
		}
	})
}

func TestOpenCreatesPrivateWALFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	s := mustOpenPath(t, path, Options{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database file mode %v, want 0600", perm)
	}
	if v, err := s.SchemaVersion(context.Background()); err != nil || v != len(allMigrations(t)) {
		t.Errorf("SchemaVersion = %d, %v", v, err)
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Errorf("no WAL file beside the database: %v", err)
	}
}

// TestPragmas checks that every pooled connection, not just the first,
// got the pragmas from the DSN.
func TestPragmas(t *testing.T) {
	for _, tc := range []struct {
		sync string
		want int // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{{"", 2}, {"full", 2}, {"NORMAL", 1}} {
		t.Run("synchronous="+tc.sync, func(t *testing.T) {
			s := mustOpenStore(t, Options{Synchronous: tc.sync, MaxReaders: 3, BusyTimeout: 1234 * time.Millisecond})
			ctx := context.Background()
			check := func(name string, db *sql.DB, queryOnly int) {
				// Hold several connections at once so that each is a distinct one.
				var conns []*sql.Conn
				for range 3 {
					c, err := db.Conn(ctx)
					if err != nil {
						t.Fatal(err)
					}
					conns = append(conns, c)
					if db == s.write {
						break // the writer has exactly one
					}
				}
				for i, c := range conns {
					for pragma, want := range map[string]any{
						"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "1234",
						"synchronous": tc.want, "query_only": queryOnly,
					} {
						var got string
						if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
							t.Fatalf("%s conn %d: PRAGMA %s: %v", name, i, pragma, err)
						}
						if got != fmt.Sprint(want) {
							t.Errorf("%s conn %d: %s = %s, want %v", name, i, pragma, got, want)
						}
					}
				}
				for _, c := range conns {
					c.Close()
				}
			}
			check("writer", s.write, 0)
			check("reader", s.read, 1)
			if n := s.write.Stats().MaxOpenConnections; n != 1 {
				t.Errorf("writer pool allows %d connections, want 1", n)
			}
		})
	}
}

func TestErrorMapping(t *testing.T) {
	ctx := context.Background()

	t.Run("closed store is unavailable", func(t *testing.T) {
		s := mustOpenStore(t, Options{})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := s.UserByID(ctx, gatehouse.NewID())
		wantIs(t, "read after Close", err, gatehouse.ErrUnavailable)
		wantIs(t, "write after Close", s.ClearAttempts(ctx, "k"), gatehouse.ErrUnavailable)
		wantIs(t, "Ping after Close", s.Ping(ctx), gatehouse.ErrUnavailable)
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})

	t.Run("write lock held elsewhere is unavailable", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "g.db")
		s := mustOpenPath(t, path, Options{BusyTimeout: 50 * time.Millisecond})
		// Another process's connection: it holds the write lock.
		other, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		conn, err := other.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			t.Fatal(err)
		}
		_, _, err = s.AddAttempt(ctx, "k", time.Now(), time.Minute)
		wantIs(t, "write while locked", err, gatehouse.ErrUnavailable)
		var se *msqlite.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY {
			t.Errorf("error %v does not carry SQLITE_BUSY", err)
		}
		// Readers are not blocked by the writer (WAL).
		if _, err := s.LastRevocationSeq(ctx); err != nil {
			t.Errorf("read while another connection holds the write lock: %v", err)
		}
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.AddAttempt(ctx, "k", time.Now(), time.Minute); err != nil {
			t.Errorf("write after the lock was released: %v", err)
		}
	})

	t.Run("context errors pass through", func(t *testing.T) {
		s := mustOpenStore(t, Options{})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := s.UserByID(cctx, gatehouse.NewID())
		wantIs(t, "read with a canceled context", err, context.Canceled)
		_, err = storetest.Rotated(s.RotateSession(cctx, gatehouse.NewID(), 1, time.Now(), time.Now()))
		wantIs(t, "write with a canceled context", err, context.Canceled)
		dctx, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
		defer cancel()
		wantIs(t, "write past the deadline", s.ClearAttempts(dctx, "k"), context.DeadlineExceeded)
	})

	t.Run("conflicts by code", func(t *testing.T) {
		s := mustOpenStore(t, Options{})
		u := &gatehouse.User{ID: gatehouse.NewID(), Email: "a@example.com", PasswordHash: "h", CreatedAt: time.Now()}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		dupID := *u
		dupID.Email = "b@example.com"
		err := s.CreateUser(ctx, &dupID)
		wantIs(t, "duplicate user id", err, gatehouse.ErrConflict)
		if !isCode(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) || errors.Is(err, gatehouse.ErrEmailTaken) {
			t.Errorf("duplicate id error %v: want SQLITE_CONSTRAINT_PRIMARYKEY, not a taken email", err)
		}
		dupEmail := *u
		dupEmail.ID = gatehouse.NewID()
		err = s.CreateUser(ctx, &dupEmail)
		wantIs(t, "duplicate email", err, gatehouse.ErrEmailTaken)
		sess := &gatehouse.Session{ID: gatehouse.NewID(), UserID: gatehouse.NewID(), Generation: 1, CreatedAt: time.Now()}
		err = s.CreateSession(ctx, sess)
		wantIs(t, "session of an unknown user", err, gatehouse.ErrNotFound)
	})
}

func wantIs(tb testing.TB, what string, err, target error) {
	tb.Helper()
	if !errors.Is(err, target) {
		tb.Errorf("%s: %v, want an error wrapping %q", what, err, target)
	}
}

// TestReadersDoNotBlockWriter holds a read transaction open while the writer commits: in WAL mode the write goes through and
// a new read sees it.
func TestReadersDoNotBlockWriter(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, Options{MaxReaders: 2, BusyTimeout: 100 * time.Millisecond})
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM attempts").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AddAttempt(ctx, "k", time.Now(), time.Hour); err != nil {
		t.Fatalf("write during an open read transaction: %v", err)
	}
	if n, _, err := s.Attempts(ctx, "k", time.Now()); err != nil || n != 1 {
		t.Errorf("a new read does not see the commit: %d, %v", n, err)
	}
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM attempts").Scan(&n); err != nil || n != 0 {
		t.Errorf("the open read transaction should keep its snapshot: %d, %v", n, err)
	}
}

func TestPathWithQuestionMark(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd?name#x%41.db")
	mustOpenPath(t, path, Options{})
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at the literal path: %v", err)
	}
}
