package server

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/sqlite"
)

// migratingStore is what both stores offer beside gatehouse.Store.
type migratingStore interface {
	gatehouse.Store
	Migrate(ctx context.Context) ([]string, error)
}

// openDB opens the store of db, without migrating it.
func openDB(ctx context.Context, db DB, log *slog.Logger) (migratingStore, error) {
	var (
		st  migratingStore
		err error
	)
	if db.Postgres() {
		st, err = postgres.Open(ctx, db.URL, postgres.Options{Logger: log})
	} else {
		st, err = sqlite.Open(ctx, db.Path, sqlite.Options{Logger: log})
	}
	if err != nil {
		return nil, dbErr(db, err)
	}
	return st, nil
}

// OpenStore opens and migrates the store of db: embedded SQLite or
// PostgreSQL (where instances starting at once take turns, under an
// advisory lock). Errors name the database without its password.
func OpenStore(ctx context.Context, db DB, log *slog.Logger) (gatehouse.Store, error) {
	st, err := openDB(ctx, db, log)
	if err != nil {
		return nil, err
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, dbErr(db, fmt.Errorf("migrate: %w", err))
	}
	return st, nil
}

// Migrate applies the schema migrations of the database named by a DB
// setting ([ParseDB]) and returns the names of those it applied.
func Migrate(ctx context.Context, dbSetting string) ([]string, error) {
	db, err := ParseDB(dbSetting)
	if err != nil {
		return nil, err
	}
	st, err := openDB(ctx, db, nil)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.Migrate(ctx)
}

// dbErr is an error about the database, naming it (password hidden).
func dbErr(db DB, err error) error {
	return &gatehouse.ConfigError{Field: "DB", Err: fmt.Errorf("%s: %w", db, err)}
}
