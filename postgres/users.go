package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse"
)

// CreateUser stores u; a Role "" is stored, and set in u, as
// [gatehouse.RoleUser]. It returns an error wrapping
// [gatehouse.ErrEmailTaken] when the email is in use, and
// [gatehouse.ErrConflict] when the id is.
func (s *Store) CreateUser(ctx context.Context, u *gatehouse.User) error {
	return s.write(ctx, "create user", func(ctx context.Context, q dbtx) error {
		return insertUser(ctx, q, u)
	})
}

// insertUser stores u through q (the pool or a transaction).
func insertUser(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, u *gatehouse.User) error {
	if u.Role == "" {
		u.Role = gatehouse.RoleUser
	}
	_, err := q.Exec(ctx,
		`INSERT INTO users (id, email, email_verified, name, password_hash, created_at, role, disabled, last_login_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		u.ID, u.Email, u.EmailVerified, u.Name, u.PasswordHash, u.CreatedAt, u.Role, u.Disabled, nullTime(u.LastLoginAt))
	return emailTaken("create user", err)
}

// emailTaken returns an error wrapping [gatehouse.ErrEmailTaken] when err
// is the violation of the unique email, and err otherwise. The constraint
// is named by the migration; its name, not the message text, tells the
// email from the id.
func emailTaken(op string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "users_email_key" {
		return fmt.Errorf("postgres: %s: %w", op, gatehouse.ErrEmailTaken)
	}
	return err
}

const userColumns = `id, email, email_verified, name, password_hash, created_at, role, disabled, last_login_at`

func scanUser(row pgx.Row) (*gatehouse.User, error) {
	return scanUserAnd(row)
}

// scanUserAnd scans the userColumns, then more columns into more.
func scanUserAnd(row pgx.Row, more ...any) (*gatehouse.User, error) {
	var (
		u         gatehouse.User
		lastLogin *time.Time
	)
	dest := append([]any{&u.ID, &u.Email, &u.EmailVerified, &u.Name, &u.PasswordHash, &u.CreatedAt,
		&u.Role, &u.Disabled, &lastLogin}, more...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	u.CreatedAt, u.LastLoginAt = u.CreatedAt.UTC(), fromNull(lastLogin)
	return &u, nil
}

func (s *Store) user(ctx context.Context, op, where, arg string, missing error) (*gatehouse.User, error) {
	if hasNUL(arg) {
		return nil, missing
	}
	var u *gatehouse.User
	err := s.read(ctx, op, func(ctx context.Context) error {
		var err error
		u, err = scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE `+where+` = $1`, arg))
		if errors.Is(err, pgx.ErrNoRows) {
			return missing
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// UserByID returns an error wrapping [gatehouse.ErrNotFound] if there is no
// such user.
func (s *Store) UserByID(ctx context.Context, id string) (*gatehouse.User, error) {
	return s.user(ctx, "user by id", "id", id, notFound("user", id))
}

// UserByEmail looks up a canonical email; the error wraps
// [gatehouse.ErrNotFound] if there is none. The email is not repeated in
// the error: it is personal data that would end up in logs.
func (s *Store) UserByEmail(ctx context.Context, email string) (*gatehouse.User, error) {
	return s.user(ctx, "user by email", "email", email, fmt.Errorf("postgres: user by email: %w", gatehouse.ErrNotFound))
}

// SetPasswordHash replaces a user's hash; [gatehouse.ErrNotFound] if there
// is no such user.
func (s *Store) SetPasswordHash(ctx context.Context, userID, hash string) error {
	if hasNUL(userID) {
		return notFound("user", userID)
	}
	return s.write(ctx, "set password hash", func(ctx context.Context, q dbtx) error {
		tag, err := q.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("user", userID)
		}
		return nil
	})
}

// ChangePassword replaces a user's hash and, in the same transaction,
// revokes every live session of the user except keepSessionID, appending
// them to the revocation feed, so that no other device keeps a session
// signed in under the old password (OWASP ASVS 5.0 7.4.3). It returns the
// ids of the sessions it revoked, or [gatehouse.ErrNotFound] (and changes
// nothing) if there is no such user.
func (s *Store) ChangePassword(ctx context.Context, userID, hash, keepSessionID string, now time.Time) ([]string, error) {
	if hasNUL(userID) {
		return nil, notFound("user", userID)
	}
	if hasNUL(keepSessionID) {
		keepSessionID = "" // no session has that id: keep none
	}
	var ids []string
	err := s.tx(ctx, "change password", func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
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
	if hasNUL(userID) {
		return notFound("user", userID)
	}
	return s.tx(ctx, "set user name", func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET name = $1 WHERE id = $2`, name, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("user", userID)
		}
		return appendUserEntry(ctx, tx, userID, now)
	})
}
