package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations returns the embedded migrations in version order.
func migrations() ([]migrate.Migration, error) {
	ms, err := migrate.Load(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return ms, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
) STRICT`

// Migrate applies the embedded migrations that the database lacks, in
// order, each in its own transaction, and returns the names of those it
// applied. It is idempotent, and safe when several processes run it at
// once: each step holds the write lock (BEGIN IMMEDIATE) while it checks
// whether its migration is applied, so exactly one process applies it and
// the others see it done.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	var applied []string
	for _, m := range ms {
		did := false
		err := s.writeTx(ctx, "migrate "+m.Name, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, time.Now().UnixMicro()); err != nil {
				return err
			}
			did = true
			return nil
		})
		if err != nil {
			return applied, err
		}
		if did {
			applied = append(applied, m.Name)
			s.log.InfoContext(ctx, "sqlite migration applied", "migration", m.Name, "path", s.path)
		}
	}
	// The schema is whole: prepare the hot statements now, while the
	// writer is free, rather than at their first use (prepared.go).
	// One that fails here fails again, with its error, at its first use.
	_, _ = s.hot.get(ctx, rotateSwap)
	return applied, nil
}

// SchemaVersion returns the highest migration version applied, 0 for a
// database that was never migrated.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	ok, err := s.hasTable(ctx, "schema_migrations")
	if err != nil || !ok {
		return 0, s.wrap(ctx, "schema version", err)
	}
	var v int
	if err := s.read.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, s.wrap(ctx, "schema version", err)
	}
	return v, nil
}

func (s *Store) hasTable(ctx context.Context, name string) (bool, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, name).Scan(&n)
	return n > 0, err
}
