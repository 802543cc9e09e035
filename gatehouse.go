// Package gatehouse holds Gatehouse's domain: users, sessions, posts and
// signing keys, the errors every layer shares, the [Store] interface the
// databases implement, and the [Service] that runs the token lifecycle
// (register, login, refresh with rotation, logout, revocation).
//
// It imports only the standard library. The adapters live in subpackages:
// token (JWT signing and verification), password (argon2id), sqlite and
// postgres (stores), httpapi (the HTTP API). cmd/gatehouse wires them.
package gatehouse

import (
	"context"
	"time"
)

// User is an account. PasswordHash is a PHC string and never leaves the server.
type User struct {
	ID            string
	Email         string // canonical form, see [CanonicalEmail]
	EmailVerified bool   // the owner followed a link sent to Email
	Name          string
	PasswordHash  string
	CreatedAt     time.Time
	Role          string    // RoleUser or RoleAdmin (CONTRACT §9)
	Disabled      bool      // an admin locked the account: no login, refresh or reset
	LastLoginAt   time.Time // zero until the first login; set by CreateSession
}

// Session is one login: the family of refresh tokens that descend from it.
//
// Refresh tokens are not stored. The token of generation G is a MAC over
// (ID, G, Secret) under a key derived from --key-secret (see
// [RefreshTokenCodec]), so a database dump yields no usable token while the
// server can still hand the current token to a racing tab during the grace
// period (CONTRACT §4).
type Session struct {
	ID         string
	UserID     string
	Secret     []byte // 32 random bytes, one input of the refresh-token MAC
	Generation int64  // generation of the current refresh token; starts at 1

	CreatedAt     time.Time
	LastUsedAt    time.Time // last login or refresh
	RotatedAt     time.Time // when the current generation was issued
	IdleExpiresAt time.Time // --refresh-ttl after the last rotation, capped at ExpiresAt
	ExpiresAt     time.Time // --session-ttl after login: nothing outlives it

	RevokedAt    time.Time // zero while the session lives
	RevokeReason string    // one of the Reason* constants

	UserAgent string
	IP        string

	// ACR and AMR say how the session was authenticated (CONTRACT §8):
	// AAL1 with [AMRPassword] after a password alone, AAL2 once a second
	// factor was verified (at login, enrolment or step-up). Every access
	// token of the session carries them; refreshes keep them.
	ACR string
	AMR []string
}

// Revoked reports whether the session was ended.
func (s *Session) Revoked() bool { return !s.RevokedAt.IsZero() }

// Live reports whether the session can still be refreshed at now.
func (s *Session) Live(now time.Time) bool {
	return !s.Revoked() && now.Before(s.ExpiresAt) && now.Before(s.IdleExpiresAt)
}

// Reasons a session ends; stored with the session and counted in metrics.
const (
	ReasonLogout         = "logout"
	ReasonLogoutAll      = "logout_all"
	ReasonSessionDelete  = "session_delete"
	ReasonPasswordChange = "password_change"
	ReasonReuse          = "reuse"
	ReasonAdmin          = "admin" // gatehouse sessions revoke
	ReasonOAuthRevoke    = "oauth_revoke"
	ReasonPasswordReset  = "password_reset"
	ReasonMFAReset       = "mfa_reset" // gatehouse mfa reset
	ReasonUserDisabled   = "user_disabled"
	ReasonUserDeleted    = "user_deleted"
)

// SessionState is what the access-token check needs to know about a session.
type SessionState struct {
	UserID    string
	Revoked   bool
	ExpiresAt time.Time
}

// Revocation is one entry of the revocation feed: a session that ended, or
// a user that changed (whose cached copies every instance drops).
// Seq increases with every revocation, so a reader resumes after the last
// Seq it saw and misses nothing.
type Revocation struct {
	Seq       int64
	SessionID string // the session that ended, or "" for a user change
	UserID    string // set when the entry says a user changed
	At        time.Time
}

// Post is an entry of the demo protected resource.
type Post struct {
	ID         string
	AuthorID   string
	AuthorName string
	Title      string
	Body       string
	CreatedAt  time.Time
}

// PostCursor is the position after which a page of posts continues
// (posts are listed newest first, ties broken by ID).
type PostCursor struct {
	CreatedAt time.Time
	ID        string
}

// SigningKey is a key of the access-token key ring as stored: the public
// half in the clear (PKIX DER), the private half sealed under --key-secret
// (a database dump must not be able to mint tokens, CONTRACT §3).
type SigningKey struct {
	KID           string
	Alg           string // EdDSA, ES256 or RS256
	PublicKey     []byte // PKIX DER
	SealedPrivate []byte // PKCS#8 DER, sealed by the token package
	CreatedAt     time.Time
	RetiredAt     time.Time // zero while it signs; set when a newer key replaces it
}

// AccessClaims are the claims of an access token (CONTRACT §3).
type AccessClaims struct {
	Issuer    string
	Subject   string // user id
	Audience  []string
	ExpiresAt time.Time
	IssuedAt  time.Time
	NotBefore time.Time
	ID        string // jti
	SessionID string // sid
	// ACR is the session's assurance level (AAL1 or AAL2) and AMR the
	// methods that authenticated it (RFC 8176), CONTRACT §8. A token
	// without acr is read as AAL1.
	ACR string
	AMR []string
	// ClientID and Scope are set on the token of a service client (the
	// client_credentials grant, CONTRACT §10), which has no SessionID;
	// Scope is space-separated (RFC 9068 §2.2.3). User routes refuse it.
	ClientID string
	Scope    string
}

// AAL2 reports whether the token was issued to a session that passed a
// second factor.
func (c *AccessClaims) AAL2() bool { return c.ACR == AAL2 }

type claimsKey struct{}

// NewContext returns a copy of ctx that carries the verified claims.
func NewContext(ctx context.Context, c *AccessClaims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFromContext returns the claims stored by [NewContext], or nil.
func ClaimsFromContext(ctx context.Context) *AccessClaims {
	c, _ := ctx.Value(claimsKey{}).(*AccessClaims)
	return c
}
