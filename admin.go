package gatehouse

import (
	"context"
	"errors"
	"time"
)

// Roles (CONTRACT §9). Everything under /api/admin/ needs RoleAdmin.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// Errors of the operators' API (CONTRACT §9).
var (
	// ErrUserDisabled: an administrator disabled the account. Answered only
	// after a correct password, so it tells nothing to a guesser.
	ErrUserDisabled = errors.New("this account is disabled: ask an administrator")
	// ErrLastAdmin: the change would leave no enabled administrator.
	ErrLastAdmin = errors.New("this would leave no enabled administrator")
)

// UserUpdate is an administrator's edit of an account; nil fields stay.
type UserUpdate struct {
	Name          *string
	Email         *string // canonical form
	EmailVerified *bool
	Role          *string
	Disabled      *bool
}

// UserCursor is the position after which a page of users continues
// (newest first, ties broken by ID).
type UserCursor struct {
	CreatedAt time.Time
	ID        string
}

// AdminUser is an account as an administrator sees it.
type AdminUser struct {
	User
	LiveSessions int
	TOTP         bool
	Passkeys     int
}

// AdminStore is what the operators' API needs of the database.
type AdminStore interface {
	// SearchUsers returns up to limit users whose email or name contains q
	// (case-insensitively, as a plain substring: % and _ are not
	// wildcards; "" matches all), newest first, after the cursor (nil: from
	// the newest), each with the counts of [AdminStore.AdminUser].
	SearchUsers(ctx context.Context, q string, after *UserCursor, limit int, now time.Time) ([]AdminUser, error)
	// AdminUser returns a user with the counts an administrator sees:
	// sessions live at now, whether TOTP is confirmed, passkeys.
	// ErrNotFound if there is no such user.
	AdminUser(ctx context.Context, id string, now time.Time) (*AdminUser, error)
	// UpdateUser applies upd in one transaction and appends a user entry
	// to the feed. Disabling also revokes every live session of the user
	// (reason "user_disabled"), appending them to the feed. It returns the
	// user after the change and the ids of the sessions it revoked;
	// ErrNotFound, ErrEmailTaken, or ErrLastAdmin when the change would
	// leave no enabled admin (checked inside the transaction, so two
	// admins demoting each other at once cannot both succeed).
	UpdateUser(ctx context.Context, id string, upd UserUpdate, now time.Time) (*User, []string, error)
	// DeleteUser deletes a user with their sessions (appended to the feed
	// first, as revocations), factors, passkeys, email tokens and posts,
	// and appends a user entry. It returns the revoked session ids;
	// ErrNotFound, or ErrLastAdmin when they are the last enabled admin.
	DeleteUser(ctx context.Context, id string, now time.Time) ([]string, error)
	// DeleteFactors removes a user's TOTP, recovery codes and passkeys in
	// one transaction and reports whether there was anything to remove.
	DeleteFactors(ctx context.Context, userID string) (bool, error)
}
