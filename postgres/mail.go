package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

var _ gatehouse.MailStore = (*Store)(nil)

// IssueEmailToken deletes every token of t.UserID with t.Purpose, so that
// only the newest link of a purpose works (CONTRACT §7), stores t and
// queues mails, in one transaction. With newUser non-nil the user is
// created first in the same transaction (registration): the error wraps
// [gatehouse.ErrEmailTaken], and nothing is stored, when its email is in
// use. Without it, a user that does not exist is [gatehouse.ErrNotFound].
// A mail with an empty ID gets a new one, and one with a zero
// NextAttemptAt is due at its CreatedAt. With t nil only the mails are
// queued.
func (s *Store) IssueEmailToken(ctx context.Context, newUser *gatehouse.User, t *gatehouse.EmailToken, mails ...*gatehouse.Mail) error {
	for _, m := range mails {
		gatehouse.PrepareMail(m)
	}
	return s.tx(ctx, "issue email token", func(ctx context.Context, tx pgx.Tx) error {
		if newUser != nil {
			if err := insertUser(ctx, tx, newUser); err != nil {
				return err
			}
		}
		if t != nil { // nil: only the mails are queued
			if _, err := tx.Exec(ctx, `DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2`,
				t.UserID, t.Purpose); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO email_tokens (hash, purpose, user_id, email, created_at, expires_at)
	            VALUES ($1, $2, $3, $4, $5, $6)`,
				nonNil(t.Hash), t.Purpose, t.UserID, t.Email, t.CreatedAt, t.ExpiresAt); err != nil {
				return err
			}
		}
		for _, m := range mails {
			if _, err := tx.Exec(ctx, `INSERT INTO outbox (id, purpose, to_addr, subject, text_body, html_body,
                created_at, attempts, next_attempt_at, last_error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
				m.ID, m.Purpose, m.To, m.Subject, m.Text, m.HTML,
				m.CreatedAt, m.Attempts, m.NextAttemptAt, m.LastError); err != nil {
				return err
			}
		}
		return nil
	})
}

// VerifyEmail uses a verification token: the user's email becomes
// verified, the token is deleted, and a user entry is appended to the
// feed. Errors are those of [Store.redeem].
func (s *Store) VerifyEmail(ctx context.Context, tokenHash []byte, now time.Time) (*gatehouse.User, error) {
	return s.redeem(ctx, "verify email", tokenHash, gatehouse.PurposeVerifyEmail, now,
		func(ctx context.Context, tx pgx.Tx, t *gatehouse.EmailToken) error {
			if _, err := tx.Exec(ctx, `UPDATE users SET email_verified = true WHERE id = $1`, t.UserID); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `DELETE FROM email_tokens WHERE hash = $1`, t.Hash)
			return err
		})
}

// ResetPassword uses a reset token: the password hash is replaced, every
// live session of the user is revoked and appended to the feed, so that
// whoever knew the old password is signed out everywhere (OWASP Forgot
// Password Cheat Sheet), every reset token of the user is deleted, and a
// user entry is appended. It returns the user and the ids of the revoked
// sessions; errors are those of [Store.redeem].
func (s *Store) ResetPassword(ctx context.Context, tokenHash []byte, passwordHash string, now time.Time) (*gatehouse.User, []string, error) {
	var ids []string
	u, err := s.redeem(ctx, "reset password", tokenHash, gatehouse.PurposeResetPassword, now,
		func(ctx context.Context, tx pgx.Tx, t *gatehouse.EmailToken) error {
			if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, passwordHash, t.UserID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2`,
				t.UserID, gatehouse.PurposeResetPassword); err != nil {
				return err
			}
			var err error
			ids, err = revokeUserSessions(ctx, tx, t.UserID, "", gatehouse.ReasonPasswordReset, now)
			return err
		})
	if err != nil {
		return nil, nil, err
	}
	return u, ids, nil
}

// ConfirmEmailChange uses an email-change token: the user's email becomes
// the token's address, verified (the link reached it), every email-change
// token of the user is deleted, and a user entry is appended. The error
// wraps [gatehouse.ErrEmailTaken], and nothing changes, when another
// account holds that address now; otherwise errors are those of
// [Store.redeem].
func (s *Store) ConfirmEmailChange(ctx context.Context, tokenHash []byte, now time.Time) (*gatehouse.User, error) {
	return s.redeem(ctx, "confirm email change", tokenHash, gatehouse.PurposeChangeEmail, now,
		func(ctx context.Context, tx pgx.Tx, t *gatehouse.EmailToken) error {
			if err := setEmail(ctx, tx, t.UserID, t.Email, "email_verified = true,"); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2`,
				t.UserID, gatehouse.PurposeChangeEmail)
			return err
		})
}

// redeem runs apply on the token of hash in a transaction, then appends a
// user entry to the feed and returns the user as it is after. The events
// attached to ctx that name no user are stored naming the token's.
//
// The error wraps [gatehouse.ErrEmailTokenInvalid] for a token that is
// unknown (used or replaced: both delete it), of another purpose, or bound
// to an address that is no longer the user's; and
// [gatehouse.ErrEmailTokenExpired] when now is at or past its expiry. A
// token found expired or unbound is deleted, and that deletion commits:
// it can never become good again.
//
// The token and its user are read FOR UPDATE: two uses of one token queue,
// and the second finds it deleted, so a token is used once. An
// email-change token is bound to the new address it was sent to, not to
// the current one, which it is meant to replace.
func (s *Store) redeem(ctx context.Context, op string, hash []byte, purpose string, now time.Time,
	apply func(ctx context.Context, tx pgx.Tx, t *gatehouse.EmailToken) error) (*gatehouse.User, error) {
	var (
		u       *gatehouse.User
		verdict error  // a refusal that still commits the deletion of the token
		userID  string // the token's, for the events that name nobody
	)
	err := s.txFor(ctx, op, &userID, func(ctx context.Context, tx pgx.Tx) error {
		u, verdict, userID = nil, nil, ""
		var (
			t        gatehouse.EmailToken
			current  string
			disabled bool
		)
		err := tx.QueryRow(ctx, `SELECT t.hash, t.purpose, t.user_id, t.email, t.created_at, t.expires_at, u.email, u.disabled
            FROM email_tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = $1 FOR UPDATE`, nonNil(hash)).
			Scan(&t.Hash, &t.Purpose, &t.UserID, &t.Email, &t.CreatedAt, &t.ExpiresAt, &current, &disabled)
		if errors.Is(err, pgx.ErrNoRows) {
			verdict = gatehouse.ErrEmailTokenInvalid
			return errUnchanged
		}
		if err != nil {
			return err
		}
		t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
		switch {
		case t.Purpose != purpose:
			// Left alone: it is still good for its own purpose.
			verdict = gatehouse.ErrEmailTokenInvalid
			return errUnchanged
		case !now.Before(t.ExpiresAt):
			verdict = gatehouse.ErrEmailTokenExpired
		case purpose != gatehouse.PurposeChangeEmail && t.Email != current:
			verdict = gatehouse.ErrEmailTokenInvalid
		case disabled && purpose == gatehouse.PurposeResetPassword:
			// No way back into a disabled account by email (CONTRACT §9).
			verdict = gatehouse.ErrUserDisabled
		}
		if verdict != nil {
			// The deletion commits, without the events of a redemption.
			if _, err := tx.Exec(ctx, `DELETE FROM email_tokens WHERE hash = $1`, t.Hash); err != nil {
				return err
			}
			return errUnchanged
		}
		if err := apply(ctx, tx, &t); err != nil {
			return err
		}
		userID = t.UserID
		if err := appendUserEntry(ctx, tx, t.UserID, now); err != nil {
			return err
		}
		u, err = scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, t.UserID))
		return err
	})
	if err != nil {
		return nil, err
	}
	if verdict != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, verdict)
	}
	return u, nil
}

// setEmail replaces a user's email, plus the assignments of also (e.g.
// "email_verified = true,"). The error wraps [gatehouse.ErrEmailTaken]
// when another account has the email, [gatehouse.ErrNotFound] when there
// is no such user.
func setEmail(ctx context.Context, tx pgx.Tx, userID, email, also string) error {
	tag, err := tx.Exec(ctx, `UPDATE users SET `+also+` email = $1 WHERE id = $2`, email, userID)
	if err != nil {
		return emailTaken("set email", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("user", userID)
	}
	return nil
}

// appendUserEntry appends "this user changed" to the feed, so that every
// instance drops its cached copy of the user, and announces it. Its seq
// comes from revocation_head exactly as a revocation's does (see
// appendFeed): the row lock orders it with every other append, so that a
// reader resuming after the last seq it saw misses no entry.
func appendUserEntry(ctx context.Context, tx pgx.Tx, userID string, now time.Time) error {
	if _, err := tx.Exec(ctx, `WITH head AS (UPDATE revocation_head SET last = last + 1 RETURNING last)
        INSERT INTO revocations (seq, session_id, user_id, revoked_at) SELECT last, '', $1, $2 FROM head`,
		userID, now); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, current_schema())`, notifyChannel)
	return err
}

// UsersWithNonASCIIEmail lists, by id, the users whose stored email has a
// byte above 0x7f: a character outside 0x01-0x7f, whatever the database's
// encoding (the regular expression compares characters, not bytes).
func (s *Store) UsersWithNonASCIIEmail(ctx context.Context) ([]gatehouse.User, error) {
	var out []gatehouse.User
	err := s.read(ctx, "users with non-ascii email", func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users
            WHERE email ~ $1 ORDER BY id`, `[^\x01-\x7f]`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (gatehouse.User, error) {
			u, err := scanUser(r)
			if err != nil {
				return gatehouse.User{}, err
			}
			return *u, nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetUserEmail replaces a user's email, keeping its verified flag, and
// appends a user entry to the feed. The error wraps
// [gatehouse.ErrEmailTaken] when another account has the email and
// [gatehouse.ErrNotFound] when there is no such user.
func (s *Store) SetUserEmail(ctx context.Context, userID, email string, now time.Time) error {
	if hasNUL(userID) {
		return notFound("user", userID)
	}
	return s.tx(ctx, "set user email", func(ctx context.Context, tx pgx.Tx) error {
		if err := setEmail(ctx, tx, userID, email, ""); err != nil {
			return err
		}
		return appendUserEntry(ctx, tx, userID, now)
	})
}
