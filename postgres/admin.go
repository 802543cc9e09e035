package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

var _ gatehouse.AdminStore = (*Store)(nil)

// adminSelect reads the userColumns of u and the counts of an AdminUser:
// sessions live at $1 (liveAt's condition), whether a TOTP factor is
// confirmed (a pending one is not in force: gatehouse.TOTPFactor.Confirmed)
// and passkeys. The counts are correlated subqueries on indexed columns,
// so a page of users is one query however long.
const adminSelect = `SELECT ` + userColumns + `,
    (SELECT count(*) FROM sessions s WHERE s.user_id = u.id
        AND s.revoked_at IS NULL AND s.expires_at > $1 AND s.idle_expires_at > $1),
    EXISTS (SELECT 1 FROM totp_factors t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL),
    (SELECT count(*) FROM passkeys p WHERE p.user_id = u.id)
    FROM users u`

func scanAdminUser(row pgx.Row) (*gatehouse.AdminUser, error) {
	var a gatehouse.AdminUser
	u, err := scanUserAnd(row, &a.LiveSessions, &a.TOTP, &a.Passkeys)
	if err != nil {
		return nil, err
	}
	a.User = *u
	return &a, nil
}

// SearchUsers returns up to limit users whose email or name contains q,
// case-insensitively (lower() of the database's locale; the email,
// COLLATE "C" for its ordering, is folded under the default collation) and
// as a plain substring (strpos, unlike LIKE, has no wildcards), newest
// first with ties broken by id (descending), strictly after the cursor
// (nil: from the newest), each with its counts.
func (s *Store) SearchUsers(ctx context.Context, q string, after *gatehouse.UserCursor, limit int, now time.Time) ([]gatehouse.AdminUser, error) {
	if hasNUL(q) {
		return nil, nil // no stored text holds a NUL
	}
	where := []string{"true"}
	args := []any{now}
	if q != "" {
		args = append(args, q)
		where = append(where, `(strpos(lower(u.email COLLATE "default"), lower($2::text)) > 0
            OR strpos(lower(u.name), lower($2::text)) > 0)`)
	}
	if after != nil {
		args = append(args, after.CreatedAt, cursorID(after.ID))
		where = append(where, fmt.Sprintf("(u.created_at, u.id) < ($%d, $%d)", len(args)-1, len(args)))
	}
	args = append(args, limit)
	query := adminSelect + ` WHERE ` + strings.Join(where, " AND ") +
		fmt.Sprintf(` ORDER BY u.created_at DESC, u.id DESC LIMIT $%d`, len(args))
	var out []gatehouse.AdminUser
	err := s.read(ctx, "search users", func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (gatehouse.AdminUser, error) {
			a, err := scanAdminUser(r)
			if err != nil {
				return gatehouse.AdminUser{}, err
			}
			return *a, nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AdminUser returns a user with the counts an administrator sees; the
// error wraps [gatehouse.ErrNotFound] if there is no such user.
func (s *Store) AdminUser(ctx context.Context, id string, now time.Time) (*gatehouse.AdminUser, error) {
	if hasNUL(id) {
		return nil, notFound("user", id)
	}
	var a *gatehouse.AdminUser
	err := s.read(ctx, "admin user", func(ctx context.Context) error {
		var err error
		a, err = scanAdminUser(s.pool.QueryRow(ctx, adminSelect+` WHERE u.id = $2`, now, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("user", id)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// UpdateUser applies upd in one transaction and appends a user entry to
// the feed. Disabling also revokes every live session of the user
// (reason "user_disabled"), appending them to the feed. It returns the
// user after the change and the ids of the sessions it revoked. The error
// wraps [gatehouse.ErrNotFound], [gatehouse.ErrEmailTaken],
// [gatehouse.ErrInvalidInput] for an unknown role, or
// [gatehouse.ErrLastAdmin] when the change would leave no enabled admin
// (see lastAdminGuard); then nothing changes.
func (s *Store) UpdateUser(ctx context.Context, id string, upd gatehouse.UserUpdate, now time.Time) (*gatehouse.User, []string, error) {
	if upd.Role != nil && *upd.Role != gatehouse.RoleUser && *upd.Role != gatehouse.RoleAdmin {
		return nil, nil, fmt.Errorf("postgres: update user: role %q: %w", *upd.Role, gatehouse.ErrInvalidInput)
	}
	if hasNUL(id) {
		return nil, nil, notFound("user", id)
	}
	var (
		u   *gatehouse.User
		ids []string
	)
	err := s.tx(ctx, "update user", func(ctx context.Context, tx pgx.Tx) error {
		u, ids = nil, nil
		stays := (upd.Role == nil || *upd.Role == gatehouse.RoleAdmin) && (upd.Disabled == nil || !*upd.Disabled)
		if !stays {
			if err := lastAdminGuard(ctx, tx, id); err != nil {
				return err
			}
		}
		// A nil field is NULL, and coalesce keeps the column as it is.
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `UPDATE users SET name = coalesce($2, name),
                email = coalesce($3, email), email_verified = coalesce($4, email_verified),
                role = coalesce($5, role), disabled = coalesce($6, disabled)
            WHERE id = $1 RETURNING `+userColumns,
			id, upd.Name, upd.Email, upd.EmailVerified, upd.Role, upd.Disabled))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("user", id)
		}
		if err != nil {
			return emailTaken("update user", err)
		}
		if upd.Disabled != nil && *upd.Disabled {
			if ids, err = revokeUserSessions(ctx, tx, id, "", gatehouse.ReasonUserDisabled, now); err != nil {
				return err
			}
		}
		return appendUserEntry(ctx, tx, id, now)
	})
	if err != nil {
		return nil, nil, err
	}
	return u, ids, nil
}

// lastAdminGuard returns an error wrapping [gatehouse.ErrLastAdmin] when
// user id is an enabled admin and no other enabled admin exists: a change
// that demotes, disables or deletes them would leave nobody to administer.
//
// It locks every enabled admin's row (FOR UPDATE, in id order so that two
// guards queue rather than deadlock) until the transaction ends. Of two
// admins demoting each other at once, the second guard therefore waits for
// the first transaction; READ COMMITTED then re-checks its WHERE against
// the committed rows, no longer finds the demoted admin, and refuses: one
// of the two succeeds, never both.
func lastAdminGuard(ctx context.Context, tx pgx.Tx, id string) error {
	rows, err := tx.Query(ctx, `SELECT id FROM users WHERE role = 'admin' AND NOT disabled ORDER BY id FOR UPDATE`)
	if err != nil {
		return err
	}
	admins, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	if slices.Contains(admins, id) && len(admins) == 1 {
		return fmt.Errorf("postgres: user %s: %w", id, gatehouse.ErrLastAdmin)
	}
	return nil
}

// DeleteUser deletes a user and everything of theirs, in one transaction:
// first their live sessions are revoked (reason "user_deleted") and
// appended to the feed, so that every instance refuses their access
// tokens at once; then the user row goes, and the foreign keys' ON DELETE
// CASCADE takes their sessions (with retirements), TOTP factor, recovery
// codes, MFA and WebAuthn challenges, passkeys, email tokens and posts;
// last, a user entry is appended. Audit events stay: they are the record
// of what happened. Mails waiting in the outbox are addressed, not linked
// to a user, and leave with their sending. It returns the ids of the
// revoked sessions; the error wraps [gatehouse.ErrNotFound], or
// [gatehouse.ErrLastAdmin] when they are the last enabled admin.
func (s *Store) DeleteUser(ctx context.Context, id string, now time.Time) ([]string, error) {
	if hasNUL(id) {
		return nil, notFound("user", id)
	}
	var ids []string
	err := s.tx(ctx, "delete user", func(ctx context.Context, tx pgx.Tx) error {
		ids = nil
		if err := lastAdminGuard(ctx, tx, id); err != nil {
			return err
		}
		// The row lock (FOR UPDATE conflicts with the key share lock of a
		// foreign-key check) keeps a login from adding a session the
		// revocation below would not see.
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, id).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("user", id)
		}
		if err != nil {
			return err
		}
		if ids, err = revokeUserSessions(ctx, tx, id, "", gatehouse.ReasonUserDeleted, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id); err != nil {
			return err
		}
		return appendUserEntry(ctx, tx, id, now)
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// DeleteFactors removes a user's TOTP factor, recovery codes and passkeys
// in one transaction and reports whether there was anything to remove.
func (s *Store) DeleteFactors(ctx context.Context, userID string) (bool, error) {
	if hasNUL(userID) {
		return false, nil
	}
	removed := false
	err := s.tx(ctx, "delete factors", func(ctx context.Context, tx pgx.Tx) error {
		removed = false
		for _, q := range []string{
			`DELETE FROM totp_factors WHERE user_id = $1`,
			`DELETE FROM recovery_codes WHERE user_id = $1`,
			`DELETE FROM passkeys WHERE user_id = $1`,
		} {
			tag, err := tx.Exec(ctx, q, userID)
			if err != nil {
				return err
			}
			removed = removed || tag.RowsAffected() > 0
		}
		return unchangedIf(!removed)
	})
	return removed && err == nil, err // after an error, nothing changed
}
