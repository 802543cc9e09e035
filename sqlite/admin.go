package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse/gatehouse"
)

var _ gatehouse.AdminStore = (*Store)(nil)

// SQLite's lower() folds only ASCII letters; SearchUsers folds with Go's
// strings.ToLower instead, so that "ÉLODIE" finds "élodie" as it does on
// PostgreSQL, whose lower() follows the database's locale.
func init() {
	msqlite.MustRegisterDeterministicScalarFunction("gatehouse_fold", 1,
		func(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			s, ok := args[0].(string)
			if !ok {
				return args[0], nil // NULL and non-text pass through
			}
			return strings.ToLower(s), nil
		})
}

// adminSelect reads the userColumns of u and the counts of an AdminUser:
// sessions live at ?1 (liveAt's condition), whether a TOTP factor is
// confirmed (a pending one is not in force: gatehouse.TOTPFactor.Confirmed)
// and passkeys. The counts are correlated subqueries on indexed columns,
// so a page of users is one query however long.
const adminSelect = `SELECT ` + userColumns + `,
    (SELECT count(*) FROM sessions s WHERE s.user_id = u.id
        AND s.revoked_at IS NULL AND s.expires_at > ?1 AND s.idle_expires_at > ?1),
    EXISTS (SELECT 1 FROM totp_factors t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL),
    (SELECT count(*) FROM passkeys p WHERE p.user_id = u.id)
    FROM users u`

func scanAdminUser(row scanner) (*gatehouse.AdminUser, error) {
	var a gatehouse.AdminUser
	u, err := scanUserAnd(row, &a.LiveSessions, &a.TOTP, &a.Passkeys)
	if err != nil {
		return nil, err
	}
	a.User = *u
	return &a, nil
}

// SearchUsers returns up to limit users whose email or name contains q,
// case-insensitively and as a plain substring (instr, unlike LIKE, has no
// wildcards), newest first with ties broken by id (descending), strictly
// after the cursor (nil: from the newest), each with its counts.
func (s *Store) SearchUsers(ctx context.Context, q string, after *gatehouse.UserCursor, limit int, now time.Time) ([]gatehouse.AdminUser, error) {
	where := []string{"1"}
	args := []any{now.UnixMicro()}
	if q != "" {
		args = append(args, strings.ToLower(q))
		where = append(where, `(instr(gatehouse_fold(u.email), ?2) > 0 OR instr(gatehouse_fold(u.name), ?2) > 0)`)
	}
	if after != nil {
		n := len(args)
		args = append(args, after.CreatedAt.UnixMicro(), after.ID)
		where = append(where, fmt.Sprintf("(u.created_at, u.id) < (?%d, ?%d)", n+1, n+2))
	}
	args = append(args, limit)
	rows, err := s.read.QueryContext(ctx, adminSelect+` WHERE `+strings.Join(where, " AND ")+
		fmt.Sprintf(` ORDER BY u.created_at DESC, u.id DESC LIMIT ?%d`, len(args)), args...)
	if err != nil {
		return nil, s.wrap(ctx, "search users", err)
	}
	defer rows.Close()
	var out []gatehouse.AdminUser
	for rows.Next() {
		a, err := scanAdminUser(rows)
		if err != nil {
			return nil, s.wrap(ctx, "search users", err)
		}
		out = append(out, *a)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(ctx, "search users", err)
	}
	return out, nil
}

// AdminUser returns a user with the counts an administrator sees; the
// error wraps [gatehouse.ErrNotFound] if there is no such user.
func (s *Store) AdminUser(ctx context.Context, id string, now time.Time) (*gatehouse.AdminUser, error) {
	a, err := scanAdminUser(s.read.QueryRowContext(ctx, adminSelect+` WHERE u.id = ?2`, now.UnixMicro(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("user", id)
	}
	if err != nil {
		return nil, s.wrap(ctx, "admin user", err)
	}
	return a, nil
}

// UpdateUser applies upd in one transaction and appends a user entry to
// the feed. Disabling also revokes every live session of the user
// (reason "user_disabled"), appending them to the feed. It returns the
// user after the change and the ids of the sessions it revoked. The error
// wraps [gatehouse.ErrNotFound], [gatehouse.ErrEmailTaken],
// [gatehouse.ErrInvalidInput] for an unknown role, or
// [gatehouse.ErrLastAdmin] when the change would leave no enabled admin;
// then nothing changes. The single writer serialises the guard with every
// other write, so two admins demoting each other cannot both succeed.
func (s *Store) UpdateUser(ctx context.Context, id string, upd gatehouse.UserUpdate, now time.Time) (*gatehouse.User, []string, error) {
	if upd.Role != nil && *upd.Role != gatehouse.RoleUser && *upd.Role != gatehouse.RoleAdmin {
		return nil, nil, fmt.Errorf("sqlite: update user: role %q: %w", *upd.Role, gatehouse.ErrInvalidInput)
	}
	var (
		u   *gatehouse.User
		ids []string
	)
	err := s.writeTx(ctx, "update user", func(tx *sql.Tx) error {
		u, ids = nil, nil
		cur, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("user", id)
		}
		if err != nil {
			return err
		}
		stays := (upd.Role == nil || *upd.Role == gatehouse.RoleAdmin) && (upd.Disabled == nil || !*upd.Disabled)
		if !stays {
			if err := lastAdminGuard(ctx, tx, cur); err != nil {
				return err
			}
		}
		var (
			set  []string
			args []any
		)
		for _, f := range []struct {
			col string
			v   any
			ok  bool
		}{
			{"name", deref(upd.Name), upd.Name != nil},
			{"email", deref(upd.Email), upd.Email != nil},
			{"email_verified", deref(upd.EmailVerified), upd.EmailVerified != nil},
			{"role", deref(upd.Role), upd.Role != nil},
			{"disabled", deref(upd.Disabled), upd.Disabled != nil},
		} {
			if f.ok {
				set, args = append(set, f.col+" = ?"), append(args, f.v)
			}
		}
		if len(set) > 0 {
			_, err := tx.ExecContext(ctx, `UPDATE users SET `+strings.Join(set, ", ")+` WHERE id = ?`, append(args, id)...)
			if isCode(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE) { // the email, the only UNIQUE of users
				return fmt.Errorf("sqlite: update user: %w", gatehouse.ErrEmailTaken)
			}
			if err != nil {
				return err
			}
		}
		if upd.Disabled != nil && *upd.Disabled {
			if ids, err = revokeUserSessions(ctx, tx, id, "", gatehouse.ReasonUserDisabled, now); err != nil {
				return err
			}
		}
		if err := appendUserEntry(ctx, tx, id, now); err != nil {
			return err
		}
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return u, ids, nil
}

// deref returns what p points to.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// lastAdminGuard returns an error wrapping [gatehouse.ErrLastAdmin] when
// cur is an enabled admin and no other enabled admin exists: a change that
// demotes, disables or deletes cur would leave nobody to administer.
func lastAdminGuard(ctx context.Context, tx *sql.Tx, cur *gatehouse.User) error {
	if cur.Role != gatehouse.RoleAdmin || cur.Disabled {
		return nil
	}
	var others int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users
        WHERE role = 'admin' AND disabled = 0 AND id <> ?`, cur.ID).Scan(&others); err != nil {
		return err
	}
	if others == 0 {
		return fmt.Errorf("sqlite: user %s: %w", cur.ID, gatehouse.ErrLastAdmin)
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
	var ids []string
	err := s.writeTx(ctx, "delete user", func(tx *sql.Tx) error {
		ids = nil
		cur, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("user", id)
		}
		if err != nil {
			return err
		}
		if err := lastAdminGuard(ctx, tx, cur); err != nil {
			return err
		}
		if ids, err = revokeUserSessions(ctx, tx, id, "", gatehouse.ReasonUserDeleted, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id); err != nil {
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
	removed := false
	err := s.writeTx(ctx, "delete factors", func(tx *sql.Tx) error {
		removed = false
		for _, q := range []string{
			`DELETE FROM totp_factors WHERE user_id = ?`,
			`DELETE FROM recovery_codes WHERE user_id = ?`,
			`DELETE FROM passkeys WHERE user_id = ?`,
		} {
			n, err := affected(tx.ExecContext(ctx, q, userID))
			if err != nil {
				return err
			}
			removed = removed || n > 0
		}
		return unchangedIf(!removed)
	})
	return removed && err == nil, err // after an error, nothing changed
}
