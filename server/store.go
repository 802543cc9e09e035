package server

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/sqlite"
)

// OpenStore opens and migrates the store of db: embedded SQLite or
// PostgreSQL. Errors name the database without its password.
func OpenStore(ctx context.Context, db DB, log *slog.Logger) (gatehouse.Store, error) {
	if db.Postgres() {
		st, err := postgres.Open(ctx, db.URL, postgres.Options{Logger: log})
		if err != nil {
			return nil, dbErr(db, err)
		}
		// Instances starting at once take turns (an advisory lock).
		if _, err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, dbErr(db, fmt.Errorf("migrate: %w", err))
		}
		return st, nil
	}
	st, err := sqlite.Open(ctx, db.Path, sqlite.Options{Logger: log})
	if err != nil {
		return nil, dbErr(db, err)
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
	if db.Postgres() {
		st, err := postgres.Open(ctx, db.URL, postgres.Options{})
		if err != nil {
			return nil, dbErr(db, err)
		}
		defer st.Close()
		return st.Migrate(ctx)
	}
	st, err := sqlite.Open(ctx, db.Path, sqlite.Options{})
	if err != nil {
		return nil, dbErr(db, err)
	}
	defer st.Close()
	return st.Migrate(ctx)
}

// dbErr is an error about the database, naming it (password hidden).
func dbErr(db DB, err error) error {
	return &gatehouse.ConfigError{Field: "DB", Err: fmt.Errorf("%s: %w", db, err)}
}
