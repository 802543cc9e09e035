package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
)

// Backup writes a consistent copy of the database, as of one moment, to
// the new file to, while other connections and processes go on reading
// and writing: VACUUM INTO runs in a read transaction, so it sees one
// snapshot of the WAL and holds no lock that stops a writer. It refuses a
// file that exists, and removes what it wrote when it fails.
//
// The copy holds password hashes and session secrets, so it is created
// with mode 0600 like the database (OWASP ASVS V8). The signing keys in it
// are sealed with the key secret, which is not in the database: keep the
// secret (or its file) with the copy.
func (s *Store) Backup(ctx context.Context, to string) error {
	if to == "" {
		return errors.New("sqlite: backup: no file named")
	}
	// O_EXCL: an existing file, perhaps an older backup, is never
	// overwritten; VACUUM INTO accepts the empty file made here.
	f, err := os.OpenFile(to, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("sqlite: backup to %s: the file exists; name a new one", to)
		}
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	f.Close()
	fail := func(err error) error {
		os.Remove(to)
		return err
	}
	// A connection of its own: the readers are query_only, which refuses
	// VACUUM INTO, and the single writer stays free for the server.
	db, err := sql.Open("sqlite", dsn(s.path, url.Values{"_pragma": {"busy_timeout(5000)"}}))
	if err != nil {
		return fail(fmt.Errorf("sqlite: backup: %w", err))
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", to); err != nil {
		return fail(s.wrap(ctx, "backup to "+to, err))
	}
	// The copy is on disk before it is reported made.
	f, err = os.OpenFile(to, os.O_RDWR, 0)
	if err != nil {
		return fail(fmt.Errorf("sqlite: backup: %w", err))
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fail(fmt.Errorf("sqlite: backup: sync %s: %w", to, err))
	}
	if err := f.Close(); err != nil {
		return fail(fmt.Errorf("sqlite: backup: %w", err))
	}
	return nil
}
