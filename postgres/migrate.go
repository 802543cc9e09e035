package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations returns the embedded migrations in version order.
func migrations() ([]migrate.Migration, error) {
	ms, err := migrate.Load(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return ms, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     NOT NULL PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`

// migrateLock is the first half of the advisory lock key that serialises
// migrations; the second is a hash of the schema, so that Gatehouses in
// different schemas of one database do not wait for each other.
const migrateLock = 0x6761_7465 // "gate"

// Migrate applies the embedded migrations that the database lacks, in
// order, each in its own transaction, and returns the names of those it
// applied. It is idempotent, and safe when several instances start at
// once: it holds a session-level advisory lock for the schema while it
// works, so one instance migrates and the others wait, then find nothing
// to do. (CREATE TABLE is not safe to race: two transactions creating one
// table both pass IF NOT EXISTS and one fails on the catalog.) PostgreSQL
// releases the lock by itself if this process dies half-way.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	// A migration may legitimately take longer than a query; the caller's
	// ctx bounds it.
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, s.wrap(ctx, "migrate", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext(current_schema()))`, migrateLock); err != nil {
		return nil, s.wrap(ctx, "migrate: lock", err)
	}
	defer func() {
		// If the unlock fails the connection is broken, and a broken
		// connection's locks are gone with it; close it so the pool does
		// not hand out a connection still holding the lock.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, hashtext(current_schema()))`, migrateLock); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	if _, err := conn.Exec(ctx, createMigrationsTable); err != nil {
		return nil, s.wrap(ctx, "migrate", err)
	}
	var applied []string
	for _, m := range ms {
		did := false
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			// Exec without arguments uses the simple protocol, which runs
			// a file of several statements.
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
				return err
			}
			did = true
			return nil
		})
		if err != nil {
			return applied, s.wrap(ctx, "migrate "+m.Name, err)
		}
		if did {
			applied = append(applied, m.Name)
			s.log.InfoContext(ctx, "postgres migration applied", "migration", m.Name, "schema", s.schema)
		}
	}
	return applied, nil
}

// SchemaVersion returns the highest migration version applied, 0 for a
// database that was never migrated.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.read(ctx, "schema version", func(ctx context.Context) error {
		var exists bool
		if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil || !exists {
			return err
		}
		return s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	})
	return v, err
}
