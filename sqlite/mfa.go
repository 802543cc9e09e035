package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
)

var _ gatehouse.MFAStore = (*Store)(nil)

// The enrolment writes (PutPendingTOTP, ConfirmTOTP, DeleteTOTP,
// ReplaceRecoveryCodes, ResetMFA) are rare and run alone (writeTx). The
// writes of a login's second step (challenges, UseTOTPStep,
// UseRecoveryCode, RaiseSession) go through the group committer like the
// other per-login writes: each touches the rows of one user or challenge
// with a compare-and-swap, which a batch runs in order exactly as it would
// run them one after another (group.go).

// TOTP returns the user's TOTP factor, confirmed or pending; the error
// wraps [gatehouse.ErrNotFound] when there is none.
func (s *Store) TOTP(ctx context.Context, userID string) (*gatehouse.TOTPFactor, error) {
	var (
		f         gatehouse.TOTPFactor
		created   int64
		confirmed sql.NullInt64
	)
	err := s.read.QueryRowContext(ctx, `SELECT user_id, sealed_secret, last_step, created_at, confirmed_at
        FROM totp_factors WHERE user_id = ?`, userID).
		Scan(&f.UserID, &f.SealedSecret, &f.LastStep, &created, &confirmed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("totp factor of user", userID)
	}
	if err != nil {
		return nil, s.wrap(ctx, "totp", err)
	}
	f.CreatedAt, f.ConfirmedAt = usecs(created), fromMicros(confirmed)
	return &f, nil
}

// PutPendingTOTP stores f unconfirmed (its ConfirmedAt is ignored),
// replacing a pending factor of the user. The error wraps
// [gatehouse.ErrConflict] when the user has a confirmed factor, which only
// DeleteTOTP removes, and [gatehouse.ErrNotFound] when there is no such
// user.
func (s *Store) PutPendingTOTP(ctx context.Context, f *gatehouse.TOTPFactor) error {
	return s.writeTx(ctx, "put pending totp", func(tx *sql.Tx) error {
		// The WHERE of the upsert leaves a confirmed factor alone, and
		// then nothing changed.
		n, err := affected(tx.ExecContext(ctx, `INSERT INTO totp_factors (user_id, sealed_secret, last_step, created_at)
            VALUES (?, ?, ?, ?)
            ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret,
                last_step = excluded.last_step, created_at = excluded.created_at
            WHERE totp_factors.confirmed_at IS NULL`,
			f.UserID, secretBytes(f.SealedSecret), f.LastStep, f.CreatedAt.UnixMicro()))
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("sqlite: put pending totp: user %s has a confirmed factor: %w", f.UserID, gatehouse.ErrConflict)
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
	return s.writeTx(ctx, "confirm totp", func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `UPDATE totp_factors SET last_step = ?, confirmed_at = ?
            WHERE user_id = ? AND confirmed_at IS NULL`, step, now.UnixMicro(), userID))
		if err != nil {
			return err
		}
		if n == 0 {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM totp_factors WHERE user_id = ?`, userID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("pending totp factor of user", userID)
			}
			if err != nil {
				return err
			}
			return fmt.Errorf("sqlite: confirm totp: user %s: already confirmed: %w", userID, gatehouse.ErrConflict)
		}
		if err := replaceRecoveryCodes(ctx, tx, userID, codeHashes, now); err != nil {
			return err
		}
		if sessionID == "" {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE sessions SET acr = ?, amr = ?
            WHERE id = ? AND user_id = ? AND revoked_at IS NULL`, acr, joinAMR(amr), sessionID, userID)
		return err
	})
}

// UseTOTPStep records step as the user's last used step if, and only if,
// the factor is confirmed and step is later than the stored one. The
// UPDATE's WHERE clause is the compare-and-swap, serialised by the single
// writer, so a code raced by two requests is accepted once (RFC 6238
// §5.2). It reports whether it recorded.
func (s *Store) UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	used := false
	err := s.groupTx(ctx, "use totp step", func(ctx context.Context, tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `UPDATE totp_factors SET last_step = ?
            WHERE user_id = ? AND confirmed_at IS NOT NULL AND last_step < ?`, step, userID, step))
		used = n == 1
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
	return s.writeTx(ctx, "delete totp", func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `DELETE FROM totp_factors WHERE user_id = ?`, userID))
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("totp factor of user", userID)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID)
		return err
	})
}

// ReplaceRecoveryCodes deletes the user's recovery codes and stores hashes
// as new, unused ones: the old codes die (CONTRACT §8). The error wraps
// [gatehouse.ErrNotFound] when there is no such user.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, now time.Time) error {
	return s.writeTx(ctx, "replace recovery codes", func(tx *sql.Tx) error {
		return replaceRecoveryCodes(ctx, tx, userID, hashes, now)
	})
}

func replaceRecoveryCodes(ctx context.Context, tx *sql.Tx, userID string, hashes [][]byte, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, hash, created_at) VALUES (?, ?, ?)`,
			userID, secretBytes(h), now.UnixMicro()); err != nil {
			return err
		}
	}
	return nil
}

// UseRecoveryCode marks an unused code of the user used at now; the
// condition on used_at makes two racing uses of one code succeed once. It
// reports false, with no error, for a code unknown or already used.
func (s *Store) UseRecoveryCode(ctx context.Context, userID string, hash []byte, now time.Time) (bool, error) {
	used := false
	err := s.groupTx(ctx, "use recovery code", func(ctx context.Context, tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `UPDATE recovery_codes SET used_at = ?
            WHERE user_id = ? AND hash = ? AND used_at IS NULL`, now.UnixMicro(), userID, secretBytes(hash)))
		used = n == 1
		if err != nil {
			return err
		}
		return unchangedIf(!used)
	})
	return used && err == nil, err // after an error, nothing changed
}

// RecoveryCodesLeft counts the user's unused recovery codes.
func (s *Store) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL`,
		userID).Scan(&n)
	if err != nil {
		return 0, s.wrap(ctx, "recovery codes left", err)
	}
	return n, nil
}

// CreateMFAChallenge stores a login challenge. The error wraps
// [gatehouse.ErrConflict] when the hash is taken and
// [gatehouse.ErrNotFound] when there is no such user.
func (s *Store) CreateMFAChallenge(ctx context.Context, c *gatehouse.MFAChallenge) error {
	return s.groupTx(ctx, "create mfa challenge", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO mfa_challenges (hash, user_id, address, failures, created_at, expires_at)
            VALUES (?, ?, ?, ?, ?, ?)`,
			secretBytes(c.Hash), c.UserID, c.Address, c.Failures, c.CreatedAt.UnixMicro(), c.ExpiresAt.UnixMicro())
		return err
	})
}

// MFAChallenge returns the challenge of hash; the error wraps
// [gatehouse.ErrNotFound] when it is unknown, used, or expired at now.
func (s *Store) MFAChallenge(ctx context.Context, hash []byte, now time.Time) (*gatehouse.MFAChallenge, error) {
	var (
		c                gatehouse.MFAChallenge
		created, expires int64
	)
	err := s.read.QueryRowContext(ctx, `SELECT hash, user_id, address, failures, created_at, expires_at
        FROM mfa_challenges WHERE hash = ? AND expires_at > ?`, secretBytes(hash), now.UnixMicro()).
		Scan(&c.Hash, &c.UserID, &c.Address, &c.Failures, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: mfa challenge: %w", gatehouse.ErrNotFound)
	}
	if err != nil {
		return nil, s.wrap(ctx, "mfa challenge", err)
	}
	c.CreatedAt, c.ExpiresAt = usecs(created), usecs(expires)
	return &c, nil
}

// FailMFAChallenge counts a wrong code against a challenge and deletes it
// when the count reaches max, so that a stolen mfa_token allows only a few
// guesses (CONTRACT §8). It returns the count, 0 when the challenge is
// gone.
func (s *Store) FailMFAChallenge(ctx context.Context, hash []byte, max int) (int, error) {
	count := 0
	err := s.groupTx(ctx, "fail mfa challenge", func(ctx context.Context, tx *sql.Tx) error {
		count = 0
		err := tx.QueryRowContext(ctx, `UPDATE mfa_challenges SET failures = failures + 1
            WHERE hash = ? RETURNING failures`, secretBytes(hash)).Scan(&count)
		if errors.Is(err, sql.ErrNoRows) {
			return errUnchanged
		}
		if err != nil || count < max {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM mfa_challenges WHERE hash = ?`, secretBytes(hash))
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
	err := s.groupTx(ctx, "consume mfa challenge", func(ctx context.Context, tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `DELETE FROM mfa_challenges WHERE hash = ? AND expires_at > ?`,
			secretBytes(hash), now.UnixMicro()))
		consumed = n == 1
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
	return s.groupTx(ctx, "raise session", func(ctx context.Context, tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `UPDATE sessions SET acr = ?, amr = ?
            WHERE id = ? AND revoked_at IS NULL`, acr, joinAMR(amr), sessionID))
		if err != nil {
			return err
		}
		if n == 0 {
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
	var ids []string
	err := s.writeTx(ctx, "reset mfa", func(tx *sql.Tx) error {
		var removed int64
		for _, q := range []string{
			`DELETE FROM totp_factors WHERE user_id = ?`,
			`DELETE FROM recovery_codes WHERE user_id = ?`,
			`DELETE FROM mfa_challenges WHERE user_id = ?`,
			`DELETE FROM passkeys WHERE user_id = ?`,
			`DELETE FROM webauthn_challenges WHERE user_id = ?`,
		} {
			n, err := affected(tx.ExecContext(ctx, q, userID))
			if err != nil {
				return err
			}
			removed += n
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

// affected returns the rows an Exec changed.
func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
