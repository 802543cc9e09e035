package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// The attempt counters live in the database, so that every instance behind
// a load balancer counts against the same limit: N instances with counters
// of their own would allow N times the limit (OWASP ASVS 5.0 6.3.1).

// Attempts returns the count of an attempt counter and when its window
// ends; zero values when there is no live window at now (a window is live
// while now is before its end).
func (s *Store) Attempts(ctx context.Context, key string, now time.Time) (int, time.Time, error) {
	var (
		count int
		reset time.Time
	)
	err := s.read(ctx, "attempts", func(ctx context.Context) error {
		err := s.pool.QueryRow(ctx, `SELECT count, reset_at FROM attempts WHERE key = $1 AND reset_at > $2`,
			[]byte(key), now).Scan(&count, &reset)
		if errors.Is(err, pgx.ErrNoRows) {
			count, reset = 0, time.Time{}
			return nil
		}
		return err
	})
	if err != nil || count == 0 {
		return 0, time.Time{}, err
	}
	return count, reset.UTC(), nil
}

// AddAttempt counts one attempt in a fixed window: the first attempt opens
// a window of the given length at now, later ones count in it until it
// ends, and the first attempt after that opens a new window at 1. It is one
// statement; INSERT ... ON CONFLICT DO UPDATE locks the counter's row, so
// concurrent attempts from any instance are all counted (OWASP ASVS 5.0
// 6.3.1: the limit must hold against parallel guessing).
func (s *Store) AddAttempt(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	var (
		count int
		reset time.Time
	)
	err := s.write(ctx, "add attempt", func(ctx context.Context, q dbtx) error {
		return q.QueryRow(ctx, `INSERT INTO attempts AS a (key, count, reset_at) VALUES ($1, 1, $3)
            ON CONFLICT (key) DO UPDATE SET
                count    = CASE WHEN a.reset_at > $2 THEN a.count + 1 ELSE 1 END,
                reset_at = CASE WHEN a.reset_at > $2 THEN a.reset_at ELSE excluded.reset_at END
            RETURNING count, reset_at`,
			[]byte(key), now, now.Add(window)).Scan(&count, &reset)
	})
	if err != nil {
		return 0, time.Time{}, err
	}
	return count, reset.UTC(), nil
}

// ClearAttempts forgets a counter. Forgetting one that does not exist is
// not an error.
func (s *Store) ClearAttempts(ctx context.Context, key string) error {
	return s.write(ctx, "clear attempts", func(ctx context.Context, q dbtx) error {
		tag, err := q.Exec(ctx, `DELETE FROM attempts WHERE key = $1`, []byte(key))
		if err != nil {
			return err
		}
		return unchangedIf(tag.RowsAffected() == 0)
	})
}

// ClearAttemptsPrefix forgets every counter whose key starts with prefix
// (a password reset clears an account's counters for every address).
func (s *Store) ClearAttemptsPrefix(ctx context.Context, prefix string) error {
	return s.write(ctx, "clear attempts", func(ctx context.Context, q dbtx) error {
		tag, err := q.Exec(ctx, `DELETE FROM attempts WHERE substr(key, 1, length($1::bytea)) = $1::bytea`, []byte(prefix))
		if err != nil {
			return err
		}
		return unchangedIf(tag.RowsAffected() == 0)
	})
}
