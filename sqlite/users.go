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

// CreateUser stores u; a Role "" is stored, and set in u, as
// [gatehouse.RoleUser]. It returns an error wrapping
// [gatehouse.ErrEmailTaken] when the email is in use, and
// [gatehouse.ErrConflict] when the id is.
func (s *Store) CreateUser(ctx context.Context, u *gatehouse.User) error {
	return s.writeTx(ctx, "create user", func(tx *sql.Tx) error { return insertUser(ctx, tx, u) })
}

// insertUser stores u through tx, as CreateUser says.
func insertUser(ctx context.Context, tx *sql.Tx, u *gatehouse.User) error {
	if u.Role == "" {
		u.Role = gatehouse.RoleUser
	}
	_, err := tx.ExecContext(ctx,
		`INSERT INTO users (id, email, email_verified, name, password_hash, created_at, role, disabled, last_login_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.EmailVerified, u.Name, u.PasswordHash, u.CreatedAt.UnixMicro(),
		u.Role, u.Disabled, micros(u.LastLoginAt))
	// The only UNIQUE constraint of users is the email; the id is the
	// PRIMARY KEY, which SQLite reports with its own extended code.
	if isCode(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE) {
		return fmt.Errorf("sqlite: create user: %w", gatehouse.ErrEmailTaken)
	}
	return err
}

const userColumns = `id, email, email_verified, name, password_hash, created_at, role, disabled, last_login_at`

func scanUser(row interface{ Scan(...any) error }) (*gatehouse.User, error) {
	u, err := scanUserAnd(row)
	if err != nil {
		return nil, err
	}
	return u, nil
}

// scanUserAnd scans the userColumns, then more columns into more.
func scanUserAnd(row interface{ Scan(...any) error }, more ...any) (*gatehouse.User, error) {
	var (
		u         gatehouse.User
		created   int64
		lastLogin sql.NullInt64
	)
	dest := append([]any{&u.ID, &u.Email, &u.EmailVerified, &u.Name, &u.PasswordHash, &created,
		&u.Role, &u.Disabled, &lastLogin}, more...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	u.CreatedAt, u.LastLoginAt = usecs(created), fromMicros(lastLogin)
	return &u, nil
}

// UserByID returns an error wrapping [gatehouse.ErrNotFound] if there is no
// such user.
func (s *Store) UserByID(ctx context.Context, id string) (*gatehouse.User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("user", id)
	}
	return u, s.wrap(ctx, "user by id", err)
}

// UserByEmail looks up a canonical email; the error wraps
// [gatehouse.ErrNotFound] if there is none. The email is not repeated in
// the error: it is personal data that would end up in logs.
func (s *Store) UserByEmail(ctx context.Context, email string) (*gatehouse.User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: user by email: %w", gatehouse.ErrNotFound)
	}
	return u, s.wrap(ctx, "user by email", err)
}

// SetPasswordHash replaces a user's hash; [gatehouse.ErrNotFound] if there
// is no such user.
func (s *Store) SetPasswordHash(ctx context.Context, userID, hash string) error {
	return s.writeTx(ctx, "set password hash", func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, userID))
		if err == nil && n == 0 {
			err = notFound("user", userID)
		}
		return err
	})
}

// ChangePassword replaces a user's hash and, in the same transaction,
// revokes every live session of the user except keepSessionID, appending
// them to the revocation feed, so that no other device keeps a session
// signed in under the old password (OWASP ASVS 5.0 7.4.3). It returns the
// ids of the sessions it revoked, or [gatehouse.ErrNotFound] (and changes
// nothing) if there is no such user.
func (s *Store) ChangePassword(ctx context.Context, userID, hash, keepSessionID string, now time.Time) ([]string, error) {
	var ids []string
	err := s.writeTx(ctx, "change password", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, userID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return notFound("user", userID)
		}
		ids, err = revokeUserSessions(ctx, tx, userID, keepSessionID, gatehouse.ReasonPasswordChange, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// SetUserName replaces a user's display name and appends a user entry to
// the feed; [gatehouse.ErrNotFound] if there is no such user.
func (s *Store) SetUserName(ctx context.Context, userID, name string, now time.Time) error {
	return s.writeTx(ctx, "set user name", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET name = ? WHERE id = ?`, name, userID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = notFound("user", userID)
			}
			return err
		}
		return appendUserEntry(ctx, tx, userID, now)
	})
}
