package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/sqlite"
)

// isPostgres reports whether a --db value names PostgreSQL.
func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// OpenStore opens and migrates the store a --db value names:
// "sqlite:PATH" (the embedded default) or a postgres:// URL.
func OpenStore(ctx context.Context, db string, log *slog.Logger) (gatehouse.Store, error) {
	switch {
	case strings.HasPrefix(db, "sqlite:"):
		path := strings.TrimPrefix(db, "sqlite:")
		if path == "" {
			return nil, errors.New("--db sqlite:PATH: the path is empty")
		}
		st, err := sqlite.Open(ctx, path, sqlite.Options{Logger: log})
		if err != nil {
			return nil, fmt.Errorf("--db %s: %w", db, err)
		}
		if _, err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, fmt.Errorf("--db %s: migrate: %w", db, err)
		}
		return st, nil
	case isPostgres(db):
		st, err := postgres.Open(ctx, db, postgres.Options{Logger: log})
		if err != nil {
			return nil, fmt.Errorf("--db %s: %w", redactDSN(db), err)
		}
		// Instances starting at once take turns (an advisory lock).
		if _, err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, fmt.Errorf("--db %s: migrate: %w", redactDSN(db), err)
		}
		return st, nil
	default:
		return nil, fmt.Errorf("--db %q: must be sqlite:PATH or a postgres:// URL", redactDSN(db))
	}
}

// Migrate applies the schema migrations of the --db database and returns
// the names of those it applied.
func Migrate(ctx context.Context, db string) ([]string, error) {
	if isPostgres(db) {
		st, err := postgres.Open(ctx, db, postgres.Options{})
		if err != nil {
			return nil, fmt.Errorf("--db %s: %w", redactDSN(db), err)
		}
		defer st.Close()
		return st.Migrate(ctx)
	}
	path, ok := strings.CutPrefix(db, "sqlite:")
	if !ok {
		_, err := OpenStore(ctx, db, nil)
		return nil, err
	}
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		return nil, fmt.Errorf("--db %s: %w", db, err)
	}
	defer st.Close()
	return st.Migrate(ctx)
}

// redactDSN hides a password in a connection URL, for error messages.
func redactDSN(dsn string) string {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return dsn
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return dsn
	}
	if user, _, hasPass := strings.Cut(userinfo, ":"); hasPass {
		return scheme + "://" + user + ":xxxxx@" + host
	}
	return dsn
}
