package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

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
	return s.writeTx(ctx, "issue email token", func(tx *sql.Tx) error {
		if newUser != nil {
			if err := insertUser(ctx, tx, newUser); err != nil {
				return err
			}
		}
		if t != nil { // nil: only the mails are queued
			if _, err := tx.ExecContext(ctx, `DELETE FROM email_tokens WHERE user_id = ? AND purpose = ?`,
				t.UserID, t.Purpose); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO email_tokens (hash, purpose, user_id, email, created_at, expires_at)
	            VALUES (?, ?, ?, ?, ?, ?)`,
				secretBytes(t.Hash), t.Purpose, t.UserID, t.Email, t.CreatedAt.UnixMicro(), t.ExpiresAt.UnixMicro()); err != nil {
				return err
			}
		}
		for _, m := range mails {
			gatehouse.PrepareMail(m)
			if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (id, purpose, to_addr, subject, text_body, html_body,
                created_at, attempts, next_attempt_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				m.ID, m.Purpose, m.To, m.Subject, m.Text, m.HTML,
				m.CreatedAt.UnixMicro(), m.Attempts, m.NextAttemptAt.UnixMicro(), m.LastError); err != nil {
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
		func(tx *sql.Tx, t *gatehouse.EmailToken) error {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET email_verified = 1 WHERE id = ?`, t.UserID); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `DELETE FROM email_tokens WHERE hash = ?`, t.Hash)
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
		func(tx *sql.Tx, t *gatehouse.EmailToken) error {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, passwordHash, t.UserID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM email_tokens WHERE user_id = ? AND purpose = ?`,
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
		func(tx *sql.Tx, t *gatehouse.EmailToken) error {
			if err := setEmail(ctx, tx, t.UserID, t.Email, "email_verified = 1,"); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `DELETE FROM email_tokens WHERE user_id = ? AND purpose = ?`,
				t.UserID, gatehouse.PurposeChangeEmail)
			return err
		})
}

// redeem runs apply on the token of hash in a write transaction, then
// appends a user entry to the feed and returns the user as it is after.
// The events attached to ctx that name no user are stored naming the
// token's.
//
// The error wraps [gatehouse.ErrEmailTokenInvalid] for a token that is
// unknown (used or replaced: both delete it), of another purpose, or bound
// to an address that is no longer the user's; and
// [gatehouse.ErrEmailTokenExpired] when now is at or past its expiry. A
// token found expired or unbound is deleted, and that deletion commits:
// it can never become good again.
//
// An email-change token is bound to the new address it was sent to, not to
// the current one, which it is meant to replace.
func (s *Store) redeem(ctx context.Context, op string, hash []byte, purpose string, now time.Time,
	apply func(tx *sql.Tx, t *gatehouse.EmailToken) error) (*gatehouse.User, error) {
	var (
		u       *gatehouse.User
		verdict error  // a refusal that still commits the deletion of the token
		userID  string // the token's, for the events that name nobody
	)
	err := s.writeTxFor(ctx, op, &userID, func(tx *sql.Tx) error {
		u, verdict, userID = nil, nil, ""
		var (
			t                gatehouse.EmailToken
			created, expires int64
			current          string
			disabled         bool
		)
		err := tx.QueryRowContext(ctx, `SELECT t.hash, t.purpose, t.user_id, t.email, t.created_at, t.expires_at, u.email, u.disabled
            FROM email_tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?`, secretBytes(hash)).
			Scan(&t.Hash, &t.Purpose, &t.UserID, &t.Email, &created, &expires, &current, &disabled)
		if errors.Is(err, sql.ErrNoRows) {
			verdict = gatehouse.ErrEmailTokenInvalid
			return errUnchanged
		}
		if err != nil {
			return err
		}
		t.CreatedAt, t.ExpiresAt = usecs(created), usecs(expires)
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
			if _, err := tx.ExecContext(ctx, `DELETE FROM email_tokens WHERE hash = ?`, t.Hash); err != nil {
				return err
			}
			return errUnchanged
		}
		if err := apply(tx, &t); err != nil {
			return err
		}
		userID = t.UserID
		if err := appendUserEntry(ctx, tx, t.UserID, now); err != nil {
			return err
		}
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, t.UserID))
		return err
	})
	if err != nil {
		return nil, err
	}
	if verdict != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, verdict)
	}
	return u, nil
}

// setEmail replaces a user's email, plus the assignments of also (e.g.
// "email_verified = 1,"). The error wraps [gatehouse.ErrEmailTaken] when
// another account has the email, [gatehouse.ErrNotFound] when there is no
// such user.
func setEmail(ctx context.Context, tx *sql.Tx, userID, email, also string) error {
	res, err := tx.ExecContext(ctx, `UPDATE users SET `+also+` email = ? WHERE id = ?`, email, userID)
	if isCode(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE) {
		return fmt.Errorf("sqlite: set email: %w", gatehouse.ErrEmailTaken)
	}
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return notFound("user", userID)
	}
	return nil
}

// appendUserEntry appends "this user changed" to the feed, so that every
// instance drops its cached copy of the user. The single writer orders it
// with the revocations, as it orders them among themselves.
func appendUserEntry(ctx context.Context, tx *sql.Tx, userID string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO revocations (session_id, user_id, revoked_at) VALUES ('', ?, ?)`,
		userID, now.UnixMicro())
	return err
}

// UsersWithNonASCIIEmail lists, by id, the users whose stored email has a
// byte above 0x7f. The text is UTF-8, whose length in characters equals
// its length in bytes exactly when every byte is ASCII.
func (s *Store) UsersWithNonASCIIEmail(ctx context.Context) ([]gatehouse.User, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users
        WHERE length(email) <> length(CAST(email AS BLOB)) ORDER BY id`)
	if err != nil {
		return nil, s.wrap(ctx, "users with non-ascii email", err)
	}
	defer rows.Close()
	var out []gatehouse.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, s.wrap(ctx, "users with non-ascii email", err)
		}
		out = append(out, *u)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(ctx, "users with non-ascii email", err)
	}
	return out, nil
}

// SetUserEmail replaces a user's email, keeping its verified flag, and
// appends a user entry to the feed. The error wraps
// [gatehouse.ErrEmailTaken] when another account has the email and
// [gatehouse.ErrNotFound] when there is no such user.
func (s *Store) SetUserEmail(ctx context.Context, userID, email string, now time.Time) error {
	return s.writeTx(ctx, "set user email", func(tx *sql.Tx) error {
		if err := setEmail(ctx, tx, userID, email, ""); err != nil {
			return err
		}
		return appendUserEntry(ctx, tx, userID, now)
	})
}
