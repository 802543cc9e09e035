package gatehouse

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Introspection is the answer of RFC 7662 token introspection. An
// inactive token says nothing else (RFC 7662 §2.2: no hint why).
type Introspection struct {
	Active    bool
	TokenType string // "Bearer" (an access token) or "Refresh"
	Subject   string
	SessionID string // a user's token
	ClientID  string // a service client's token
	Scope     string
	Issuer    string
	Audience  []string
	ExpiresAt time.Time
	IssuedAt  time.Time
	ACR       string
	AMR       []string
}

var inactive = &Introspection{}

// Introspect says whether a token is live now: an access token whose
// signature and claims verify, of a live session of an existing user (or
// of an existing service client), or the current refresh token of a live
// session. It never changes anything: introspecting a rotated refresh token
// does not count as its reuse. Only the database being unreachable is an
// error.
func (s *Service) Introspect(ctx context.Context, token string) (*Introspection, error) {
	if strings.HasPrefix(token, RefreshTokenPrefix) {
		return s.introspectRefresh(ctx, token)
	}
	claims, err := s.cfg.Tokens.Verify(token)
	if err != nil || !s.now().Before(claims.ExpiresAt) {
		// Verify allows other servers' clocks some leeway; here Gatehouse
		// judges its own token by its own clock, so an exp that has passed
		// is inactive at once (RFC 7662 §2.2).
		return inactive, nil
	}
	out := &Introspection{
		Active: true, TokenType: "Bearer", Subject: claims.Subject, SessionID: claims.SessionID,
		ClientID: claims.ClientID, Scope: claims.Scope, Issuer: claims.Issuer, Audience: claims.Audience,
		ExpiresAt: claims.ExpiresAt, IssuedAt: claims.IssuedAt, ACR: claims.ACR, AMR: claims.AMR,
	}
	if claims.ClientID != "" {
		if _, err := s.clients.get(ctx, claims.ClientID, s.store.Client, s.now()); err != nil {
			return inactiveUnless(err)
		}
		return out, nil
	}
	st, err := s.guard.state(ctx, claims.SessionID)
	if err != nil {
		return inactiveUnless(err)
	}
	if st.Revoked || st.UserID != claims.Subject || !s.now().Before(st.ExpiresAt) {
		return inactive, nil
	}
	if _, err := s.Me(ctx, claims); err != nil {
		return inactiveUnless(err)
	}
	return out, nil
}

func (s *Service) introspectRefresh(ctx context.Context, token string) (*Introspection, error) {
	parsed, sess, err := s.loadRefreshToken(ctx, token)
	if err != nil {
		return inactiveUnless(err)
	}
	now := s.now()
	if !sess.Live(now) || parsed.Generation != sess.Generation {
		return inactive, nil
	}
	if _, err := s.store.UserByID(ctx, sess.UserID); err != nil {
		return inactiveUnless(err)
	}
	acr := sess.ACR
	if acr == "" {
		acr = AAL1
	}
	return &Introspection{
		Active: true, TokenType: "Refresh", Subject: sess.UserID, SessionID: sess.ID,
		Issuer: s.cfg.Issuer, Audience: []string{s.cfg.Audience},
		ExpiresAt: minTime(sess.IdleExpiresAt, sess.ExpiresAt), IssuedAt: sess.RotatedAt,
		ACR: acr, AMR: sess.AMR,
	}, nil
}

// inactiveUnless answers inactive for an error that says the token is no
// good, and returns the others (an unreachable database).
func inactiveUnless(err error) (*Introspection, error) {
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrTokenInvalid) || errors.Is(err, ErrRefreshTokenInvalid) || errors.Is(err, ErrTokenExpired) {
		return inactive, nil
	}
	return nil, err
}
