package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Attempts returns the count of an attempt counter and when its window
// ends; zero values when there is no live window at now (a window is live
// while now is before its end).
func (s *Store) Attempts(ctx context.Context, key string, now time.Time) (int, time.Time, error) {
	var count int
	var reset int64
	err := s.read.QueryRowContext(ctx, `SELECT count, reset_at FROM attempts WHERE key = ? AND reset_at > ?`,
		key, now.UnixMicro()).Scan(&count, &reset)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, s.wrap(ctx, "attempts", err)
	}
	return count, usecs(reset), nil
}

// AddAttempt counts one attempt in a fixed window: the first attempt opens
// a window of the given length at now, later ones count in it until it
// ends, and the first attempt after that opens a new window at 1. It is one
// statement, so concurrent attempts are all counted (OWASP ASVS 5.0 6.3.1:
// the limit must hold against parallel guessing).
func (s *Store) AddAttempt(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	t := now.UnixMicro()
	var count int
	var reset int64
	err := s.writeTx(ctx, "add attempt", func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO attempts (key, count, reset_at) VALUES (?1, 1, ?2 + ?3)
            ON CONFLICT (key) DO UPDATE SET
                count    = CASE WHEN reset_at > ?2 THEN count + 1 ELSE 1 END,
                reset_at = CASE WHEN reset_at > ?2 THEN reset_at ELSE excluded.reset_at END
            RETURNING count, reset_at`,
			key, t, window.Microseconds()).Scan(&count, &reset)
	})
	if err != nil {
		return 0, time.Time{}, err
	}
	return count, usecs(reset), nil
}

// ClearAttempts forgets a counter. Forgetting one that does not exist is
// not an error.
func (s *Store) ClearAttempts(ctx context.Context, key string) error {
	return s.clearAttempts(ctx, `DELETE FROM attempts WHERE key = ?1`, key)
}

// ClearAttemptsPrefix forgets every counter whose key starts with prefix
// (a password reset clears an account's counters for every address).
func (s *Store) ClearAttemptsPrefix(ctx context.Context, prefix string) error {
	return s.clearAttempts(ctx, `DELETE FROM attempts WHERE substr(key, 1, length(?1)) = ?1`, prefix)
}

func (s *Store) clearAttempts(ctx context.Context, query, arg string) error {
	return s.writeTx(ctx, "clear attempts", func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, query, arg))
		if err != nil {
			return err
		}
		return unchangedIf(n == 0)
	})
}
