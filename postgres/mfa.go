package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

var _ gatehouse.MFAStore = (*Store)(nil)

// The compare-and-swaps below (UseTOTPStep, UseRecoveryCode,
// ConsumeMFAChallenge, ConfirmTOTP) are single conditional statements: a
// concurrent statement on the same row waits for its lock, then re-checks
// the WHERE clause against the committed row (READ COMMITTED's
// re-evaluation), so of two racing uses exactly one changes the row.

// TOTP returns the user's TOTP factor, confirmed or pending; the error
// wraps [gatehouse.ErrNotFound] when there is none.
func (s *Store) TOTP(ctx context.Context, userID string) (*gatehouse.TOTPFactor, error) {
	if hasNUL(userID) {
		return nil, notFound("totp factor of user", userID)
	}
	var f gatehouse.TOTPFactor
	err := s.read(ctx, "totp", func(ctx context.Context) error {
		var confirmed *time.Time
		err := s.pool.QueryRow(ctx, `SELECT user_id, sealed_secret, last_step, created_at, confirmed_at
            FROM totp_factors WHERE user_id = $1`, userID).
			Scan(&f.UserID, &f.SealedSecret, &f.LastStep, &f.CreatedAt, &confirmed)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("totp factor of user", userID)
		}
		f.CreatedAt, f.ConfirmedAt = f.CreatedAt.UTC(), fromNull(confirmed)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &f, nil
}

// PutPendingTOTP stores f unconfirmed (its ConfirmedAt is ignored),
// replacing a pending factor of the user. The error wraps
// [gatehouse.ErrConflict] when the user has a confirmed factor, which only
// DeleteTOTP removes, and [gatehouse.ErrNotFound] when there is no such
// user.
func (s *Store) PutPendingTOTP(ctx context.Context, f *gatehouse.TOTPFactor) error {
	if hasNUL(f.UserID) {
		return notFound("user", f.UserID)
	}
	return s.write(ctx, "put pending totp", func(ctx context.Context, q dbtx) error {
		// The WHERE of the upsert leaves a confirmed factor alone, and
		// then no row is affected.
		tag, err := q.Exec(ctx, `INSERT INTO totp_factors (user_id, sealed_secret, last_step, created_at)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret,
                last_step = excluded.last_step, created_at = excluded.created_at
            WHERE totp_factors.confirmed_at IS NULL`,
			f.UserID, nonNil(f.SealedSecret), f.LastStep, f.CreatedAt)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: put pending totp: user %s has a confirmed factor: %w", f.UserID, gatehouse.ErrConflict)
		}
		return nil
	})
}

// ConfirmTOTP puts the user's pending factor in force at now with
// LastStep = step, replaces the user's recovery codes with codeHashes, and
// sets acr and amr on session sessionID when it is not empty, belongs to
// the user and is not revoked (otherwise the session is left alone: the
// enrolment stands), all in one transaction. The error wraps
// [gatehouse.ErrNotFound] when the user has no factor and
// [gatehouse.ErrConflict] when it is already confirmed.
func (s *Store) ConfirmTOTP(ctx context.Context, userID string, step int64, codeHashes [][]byte, sessionID, acr string, amr []string, now time.Time) error {
	if hasNUL(userID) {
		return notFound("pending totp factor of user", userID)
	}
	if hasNUL(sessionID) {
		sessionID = "" // no session has that id
	}
	return s.tx(ctx, "confirm totp", func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE totp_factors SET last_step = $1, confirmed_at = $2
            WHERE user_id = $3 AND confirmed_at IS NULL`, step, now, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var one int
			err := tx.QueryRow(ctx, `SELECT 1 FROM totp_factors WHERE user_id = $1`, userID).Scan(&one)
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound("pending totp factor of user", userID)
			}
			if err != nil {
				return err
			}
			return fmt.Errorf("postgres: confirm totp: user %s: already confirmed: %w", userID, gatehouse.ErrConflict)
		}
		if err := replaceRecoveryCodes(ctx, tx, userID, codeHashes, now); err != nil {
			return err
		}
		if sessionID == "" {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE sessions SET acr = $1, amr = $2
            WHERE id = $3 AND user_id = $4 AND revoked_at IS NULL`, acr, joinAMR(amr), sessionID, userID)
		return err
	})
}

// UseTOTPStep records step as the user's last used step if, and only if,
// the factor is confirmed and step is later than the stored one: a
// compare-and-swap, so a code raced by two requests is accepted once
// (RFC 6238 §5.2). It reports whether it recorded.
func (s *Store) UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	if hasNUL(userID) {
		return false, nil
	}
	used := false
	err := s.write(ctx, "use totp step", func(ctx context.Context, q dbtx) error {
		tag, err := q.Exec(ctx, `UPDATE totp_factors SET last_step = $1
            WHERE user_id = $2 AND confirmed_at IS NOT NULL AND last_step < $1`, step, userID)
		used = err == nil && tag.RowsAffected() == 1
		if err != nil {
			return err
		}
		return unchangedIf(!used)
	})
	return used && err == nil, err // after an error, nothing changed
}

// DeleteTOTP removes the user's TOTP factor, confirmed or pending, and
// recovery codes; the error wraps [gatehouse.ErrNotFound], and nothing is
// removed, when there was no factor.
func (s *Store) DeleteTOTP(ctx context.Context, userID string) error {
	if hasNUL(userID) {
		return notFound("totp factor of user", userID)
	}
	return s.tx(ctx, "delete totp", func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM totp_factors WHERE user_id = $1`, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("totp factor of user", userID)
		}
		_, err = tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID)
		return err
	})
}

// ReplaceRecoveryCodes deletes the user's recovery codes and stores hashes
// as new, unused ones: the old codes die (CONTRACT §8). The error wraps
// [gatehouse.ErrNotFound] when there is no such user.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, now time.Time) error {
	if hasNUL(userID) {
		return notFound("user", userID)
	}
	return s.tx(ctx, "replace recovery codes", func(ctx context.Context, tx pgx.Tx) error {
		return replaceRecoveryCodes(ctx, tx, userID, hashes, now)
	})
}

func replaceRecoveryCodes(ctx context.Context, tx pgx.Tx, userID string, hashes [][]byte, now time.Time) error {
	if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return err
	}
	if len(hashes) == 0 {
		return nil
	}
	hs := make([][]byte, len(hashes))
	for i, h := range hashes {
		hs[i] = nonNil(h)
	}
	_, err := tx.Exec(ctx, `INSERT INTO recovery_codes (user_id, hash, created_at)
        SELECT $1, h, $3 FROM unnest($2::bytea[]) AS u(h)`, userID, hs, now)
	return err
}

// UseRecoveryCode marks an unused code of the user used at now; the
// condition on used_at makes two racing uses of one code succeed once. It
// reports false, with no error, for a code unknown or already used.
func (s *Store) UseRecoveryCode(ctx context.Context, userID string, hash []byte, now time.Time) (bool, error) {
	if hasNUL(userID) {
		return false, nil
	}
	used := false
	err := s.write(ctx, "use recovery code", func(ctx context.Context, q dbtx) error {
		tag, err := q.Exec(ctx, `UPDATE recovery_codes SET used_at = $1
            WHERE user_id = $2 AND hash = $3 AND used_at IS NULL`, now, userID, nonNil(hash))
		used = err == nil && tag.RowsAffected() == 1
		if err != nil {
			return err
		}
		return unchangedIf(!used)
	})
	return used && err == nil, err // after an error, nothing changed
}

// RecoveryCodesLeft counts the user's unused recovery codes.
func (s *Store) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	if hasNUL(userID) {
		return 0, nil
	}
	var n int
	err := s.read(ctx, "recovery codes left", func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`,
			userID).Scan(&n)
	})
	return n, err
}

// CreateMFAChallenge stores a login challenge. The error wraps
// [gatehouse.ErrConflict] when the hash is taken and
// [gatehouse.ErrNotFound] when there is no such user.
func (s *Store) CreateMFAChallenge(ctx context.Context, c *gatehouse.MFAChallenge) error {
	if hasNUL(c.UserID) {
		return notFound("user", c.UserID)
	}
	return s.write(ctx, "create mfa challenge", func(ctx context.Context, q dbtx) error {
		_, err := q.Exec(ctx, `INSERT INTO mfa_challenges (hash, user_id, address, failures, created_at, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6)`,
			nonNil(c.Hash), c.UserID, c.Address, c.Failures, c.CreatedAt, c.ExpiresAt)
		return err
	})
}

// MFAChallenge returns the challenge of hash; the error wraps
// [gatehouse.ErrNotFound] when it is unknown, used, or expired at now.
func (s *Store) MFAChallenge(ctx context.Context, hash []byte, now time.Time) (*gatehouse.MFAChallenge, error) {
	var c gatehouse.MFAChallenge
	err := s.read(ctx, "mfa challenge", func(ctx context.Context) error {
		err := s.pool.QueryRow(ctx, `SELECT hash, user_id, address, failures, created_at, expires_at
            FROM mfa_challenges WHERE hash = $1 AND expires_at > $2`, nonNil(hash), now).
			Scan(&c.Hash, &c.UserID, &c.Address, &c.Failures, &c.CreatedAt, &c.ExpiresAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: mfa challenge: %w", gatehouse.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	c.CreatedAt, c.ExpiresAt = c.CreatedAt.UTC(), c.ExpiresAt.UTC()
	return &c, nil
}

// FailMFAChallenge counts a wrong code against a challenge and deletes it
// when the count reaches max, so that a stolen mfa_token allows only a few
// guesses (CONTRACT §8). The UPDATE holds the row's lock until commit, so
// concurrent failures count one after another. It returns the count, 0
// when the challenge is gone.
func (s *Store) FailMFAChallenge(ctx context.Context, hash []byte, max int) (int, error) {
	count := 0
	err := s.tx(ctx, "fail mfa challenge", func(ctx context.Context, tx pgx.Tx) error {
		count = 0
		err := tx.QueryRow(ctx, `UPDATE mfa_challenges SET failures = failures + 1
            WHERE hash = $1 RETURNING failures`, nonNil(hash)).Scan(&count)
		if errors.Is(err, pgx.ErrNoRows) {
			return errUnchanged
		}
		if err != nil || count < max {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM mfa_challenges WHERE hash = $1`, nonNil(hash))
		return err
	})
	if err != nil {
		return 0, err
	}
	return count, nil
}

// ConsumeMFAChallenge deletes a challenge that is live at now and reports
// whether it did: of two concurrent uses of one mfa_token, one wins.
func (s *Store) ConsumeMFAChallenge(ctx context.Context, hash []byte, now time.Time) (bool, error) {
	consumed := false
	err := s.write(ctx, "consume mfa challenge", func(ctx context.Context, q dbtx) error {
		tag, err := q.Exec(ctx, `DELETE FROM mfa_challenges WHERE hash = $1 AND expires_at > $2`, nonNil(hash), now)
		consumed = err == nil && tag.RowsAffected() == 1
		if err != nil {
			return err
		}
		return unchangedIf(!consumed)
	})
	return consumed && err == nil, err // after an error, nothing changed
}

// RaiseSession sets the acr and amr of a session that is not revoked
// (step-up); the error wraps [gatehouse.ErrNotFound] when there is no such
// session, or it is revoked.
func (s *Store) RaiseSession(ctx context.Context, sessionID, acr string, amr []string) error {
	if hasNUL(sessionID) {
		return notFound("live session", sessionID)
	}
	return s.write(ctx, "raise session", func(ctx context.Context, q dbtx) error {
		tag, err := q.Exec(ctx, `UPDATE sessions SET acr = $1, amr = $2
            WHERE id = $3 AND revoked_at IS NULL`, acr, joinAMR(amr), sessionID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("live session", sessionID)
		}
		return nil
	})
}

// ResetMFA removes every second factor of the user (TOTP, recovery codes,
// passkeys, pending MFA and WebAuthn challenges) and, in the same
// transaction, revokes every live session of the user with reason,
// appending them to the feed as RevokeUserSessions does: whoever held a
// session may have been the one who took over the factors. It returns the
// ids of the revoked sessions.
func (s *Store) ResetMFA(ctx context.Context, userID, reason string, now time.Time) ([]string, error) {
	if hasNUL(userID) {
		return nil, nil
	}
	var ids []string
	err := s.tx(ctx, "reset mfa", func(ctx context.Context, tx pgx.Tx) error {
		var removed int64
		for _, q := range []string{
			`DELETE FROM totp_factors WHERE user_id = $1`,
			`DELETE FROM recovery_codes WHERE user_id = $1`,
			`DELETE FROM mfa_challenges WHERE user_id = $1`,
			`DELETE FROM passkeys WHERE user_id = $1`,
			`DELETE FROM webauthn_challenges WHERE user_id = $1`,
		} {
			tag, err := tx.Exec(ctx, q, userID)
			if err != nil {
				return err
			}
			removed += tag.RowsAffected()
		}
		var err error
		ids, err = revokeUserSessions(ctx, tx, userID, "", reason, now)
		if err != nil {
			return err
		}
		return unchangedIf(removed == 0 && len(ids) == 0)
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}
