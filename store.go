package gatehouse

import (
	"context"
	"time"
)

// RetirementsKept is how many of a session's most recent retirements its
// store keeps, in the session's own row. A rotated token presented again
// within the reuse grace gets the session's current token only if it is
// one of these generations; an older one is reuse (RFC 9700 §4.14.2).
// Racing tabs present a token one generation old; a session rotated 8
// times within the grace is not a browser's.
const RetirementsKept = 8

// Store is Gatehouse's persistence. The sqlite and postgres packages
// implement it with the same behaviour, which storetest checks.
//
// Methods return errors wrapping ErrNotFound, ErrConflict (ErrEmailTaken for
// a duplicate email) or ErrUnavailable (the database cannot be reached);
// anything else is an internal error. Every method is safe for concurrent use
// and every method that writes is atomic: it commits entirely or not at all.
type Store interface {
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error

	// CreateUser stores u (Role "" is stored as RoleUser). Returns
	// ErrEmailTaken if the email is in use.
	CreateUser(ctx context.Context, u *User) error
	// UserByID returns ErrNotFound if there is no such user.
	UserByID(ctx context.Context, id string) (*User, error)
	// UserByEmail looks up a canonical email; ErrNotFound if there is none.
	UserByEmail(ctx context.Context, email string) (*User, error)
	// SetUserName replaces a user's display name and appends a user entry
	// to the feed. ErrNotFound if there is no such user.
	SetUserName(ctx context.Context, userID, name string, now time.Time) error
	// SetPasswordHash replaces a user's hash (rehash at login).
	SetPasswordHash(ctx context.Context, userID, hash string) error
	// ChangePassword replaces a user's hash and, in the same transaction,
	// revokes every live session of the user except keepSessionID. It
	// returns the ids of the sessions it revoked.
	ChangePassword(ctx context.Context, userID, hash, keepSessionID string, now time.Time) ([]string, error)

	// CreateSession stores a new session (with its ACR and AMR; AMR is
	// stored as one space-separated string and read back as nil when empty)
	// and sets the user's LastLoginAt to its CreatedAt.
	CreateSession(ctx context.Context, s *Session) error
	// Session returns ErrNotFound if there is no such session.
	Session(ctx context.Context, id string) (*Session, error)
	// LiveSessions lists the user's sessions that are neither revoked nor
	// expired at now, newest first.
	LiveSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)
	// RotateSession advances the session from generation from to from+1 if,
	// and only if, from is still its current generation and the session is
	// live at now (not revoked, neither expiry passed): a compare-and-swap
	// that the database serialises, so two concurrent rotations of one
	// token make exactly one successor. It sets RotatedAt and LastUsedAt to
	// now and IdleExpiresAt to idleExpiresAt and records, in the session's
	// own row, that generation from retired at now (keeping the last
	// RetirementsKept). It returns the session as it is after the
	// rotation, or nil when it did not rotate: another rotation, a
	// revocation or an expiry won.
	RotateSession(ctx context.Context, id string, from int64, now, idleExpiresAt time.Time) (*Session, error)
	// RetiredAt returns when a generation of a session was retired, or
	// ErrNotFound when that is not recorded: the session is unknown, the
	// generation is not retired, or RetirementsKept later generations
	// retired after it.
	RetiredAt(ctx context.Context, sessionID string, generation int64) (time.Time, error)
	// RevokeSession ends a session and appends it to the revocation feed.
	// It reports false, with no error, when the session was already ended,
	// and returns ErrNotFound when there is no such session.
	RevokeSession(ctx context.Context, id, reason string, now time.Time) (bool, error)
	// RevokeUserSessions ends every live session of a user except
	// exceptSessionID (empty: all of them) and returns their ids.
	RevokeUserSessions(ctx context.Context, userID, exceptSessionID, reason string, now time.Time) ([]string, error)
	// Revocations returns up to limit entries of the revocation feed with
	// Seq > after, in Seq order, each with the time it was appended (At).
	// Seqs have no gaps: a Seq missing after the first entry returned was
	// pruned.
	Revocations(ctx context.Context, after int64, limit int) ([]Revocation, error)
	// LastRevocationSeq returns the highest Seq of the feed (0 when empty).
	LastRevocationSeq(ctx context.Context) (int64, error)

	// Attempts returns the count of an attempt counter and when its window
	// ends; zero values when there is no live window at now.
	Attempts(ctx context.Context, key string, now time.Time) (count int, resetAt time.Time, err error)
	// AddAttempt counts one attempt: it opens a window of the given length at
	// now when none is live, and returns the count and window end after it.
	AddAttempt(ctx context.Context, key string, now time.Time, window time.Duration) (count int, resetAt time.Time, err error)
	// ClearAttempts forgets a counter.
	ClearAttempts(ctx context.Context, key string) error
	// ClearAttemptsPrefix forgets every counter whose key starts with prefix.
	ClearAttemptsPrefix(ctx context.Context, prefix string) error

	// CreatePost stores p; AuthorName is not stored (it is joined on read).
	CreatePost(ctx context.Context, p *Post) error
	// Post returns ErrNotFound if there is no such post.
	Post(ctx context.Context, id string) (*Post, error)
	// ListPosts returns up to limit posts, newest first, after the cursor
	// (nil: from the newest).
	ListPosts(ctx context.Context, after *PostCursor, limit int) ([]Post, error)
	// DeletePost returns ErrNotFound if there is no such post.
	DeletePost(ctx context.Context, id string) error

	// SigningKeys returns every stored signing key, newest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// AddSigningKey stores k as the newest key and, in the same transaction,
	// retires at k.CreatedAt every key that is not yet retired.
	AddSigningKey(ctx context.Context, k *SigningKey) error

	// Prune deletes what can no longer matter: sessions that expired before
	// sessionsBefore, revocation-feed entries and retirements older than
	// feedBefore, attempt counters whose window ended before now, MFA and
	// WebAuthn challenges expired at now, and signing keys retired before
	// keysBefore.
	Prune(ctx context.Context, now, sessionsBefore, feedBefore, keysBefore time.Time) error

	// MailStore: email tokens and the outbox (accounts by email).
	MailStore
	// MFAStore: second factors and login challenges.
	MFAStore
	// PasskeyStore: WebAuthn credentials and ceremonies.
	PasskeyStore
	// ClientStore: service clients.
	ClientStore
	// AdminStore: the operators' API (search, edit, delete users).
	AdminStore
	// EventStore: the audit log.
	EventStore
}

// RevocationNotifier is implemented by stores that can announce new
// revocation-feed entries as they are committed (PostgreSQL LISTEN/NOTIFY).
// The Service still polls; a notification only makes it poll at once.
type RevocationNotifier interface {
	// RevocationNotices returns a channel that receives a value after
	// new entries were appended. It is closed when ctx ends.
	RevocationNotices(ctx context.Context) <-chan struct{}
}
