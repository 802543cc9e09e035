package gatehouse

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Grant is what a login or a refresh returns.
type Grant struct {
	AccessToken  string
	ExpiresIn    int // seconds
	RefreshToken string
	User         *User // set by Login
	Session      *Session
	// Reissued is true when a retired token was presented within the grace
	// period and the session's current refresh token was handed out again.
	Reissued bool
}

// startSession stores a new session authenticated at acr by the methods amr.
func (s *Service) startSession(ctx context.Context, user *User, client ClientInfo, acr string, amr []string) (*Grant, error) {
	now := s.now().UTC()
	expires := now.Add(s.cfg.SessionTTL)
	sess := &Session{
		ID:            NewID(),
		UserID:        user.ID,
		Secret:        RandomBytes(32),
		Generation:    1,
		CreatedAt:     now,
		LastUsedAt:    now,
		RotatedAt:     now,
		IdleExpiresAt: minTime(now.Add(s.cfg.RefreshTTL), expires),
		ExpiresAt:     expires,
		UserAgent:     truncate(client.UserAgent, 512),
		IP:            client.IP,
		ACR:           acr,
		AMR:           amr,
	}
	if user.Disabled {
		return nil, ErrUserDisabled
	}
	ctx, done := s.record(ctx, s.newEvent(ctx, EventLoginSucceeded, user.ID, sess.ID, "acr", acr, "amr", strings.Join(amr, " ")))
	err := s.store.CreateSession(ctx, sess)
	done(err)
	if err != nil {
		return nil, err
	}
	s.guard.remember(sess)
	return s.grant(sess, sess.Generation, now)
}

// grant mints an access token for the session and returns it with the
// refresh token of the given generation.
func (s *Service) grant(sess *Session, generation int64, now time.Time) (*Grant, error) {
	access, err := s.accessToken(sess, now)
	if err != nil {
		return nil, err
	}
	refresh, err := s.cfg.RefreshTokens.Encode(sess, generation)
	if err != nil {
		return nil, err
	}
	return &Grant{
		AccessToken:  access,
		ExpiresIn:    int(s.cfg.AccessTTL / time.Second),
		RefreshToken: refresh,
		Session:      sess,
	}, nil
}

// accessToken mints an access token for the session, carrying its acr and
// amr (a session stored before second factors existed reads as aal1).
func (s *Service) accessToken(sess *Session, now time.Time) (string, error) {
	acr := sess.ACR
	if acr == "" {
		acr = AAL1
	}
	claims := &AccessClaims{
		Issuer:    s.cfg.Issuer,
		Subject:   sess.UserID,
		Audience:  []string{s.cfg.Audience},
		IssuedAt:  now,
		NotBefore: now,
		ExpiresAt: now.Add(s.cfg.AccessTTL),
		ID:        NewID(),
		SessionID: sess.ID,
		ACR:       acr,
		AMR:       sess.AMR,
	}
	access, err := s.cfg.Tokens.Issue(claims)
	if err != nil {
		return "", fmt.Errorf("issue access token: %w", err)
	}
	return access, nil
}

// Refresh rotates a refresh token (CONTRACT §4). It returns
// ErrRefreshTokenInvalid, ErrRefreshTokenExpired, ErrRefreshTokenReused
// (and then the session is revoked) or ErrSessionRevoked.
func (s *Service) Refresh(ctx context.Context, token string) (*Grant, error) {
	parsed, err := s.cfg.RefreshTokens.Parse(token)
	if err != nil {
		return nil, ErrRefreshTokenInvalid
	}
	if g, err, done := s.refreshCached(ctx, parsed); done {
		return g, err
	}
	sess, err := s.loadSession(ctx, parsed)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		now := s.now().UTC()
		if sess.Revoked() {
			return nil, ErrSessionRevoked
		}
		if !now.Before(sess.ExpiresAt) || !now.Before(sess.IdleExpiresAt) {
			return nil, ErrRefreshTokenExpired
		}
		switch {
		case parsed.Generation > sess.Generation:
			// A valid MAC for a generation never issued: the database was
			// restored from an older copy. Refuse, but do not revoke.
			return nil, ErrRefreshTokenInvalid
		case parsed.Generation < sess.Generation:
			return s.refreshRetired(ctx, sess, parsed.Generation, now)
		}
		rotated, err := s.rotate(ctx, sess.ID, sess.Generation, sess.ExpiresAt, now)
		if err != nil || rotated != nil {
			return rotated, err
		}
		// Another refresh of this token, a revocation or an expiry won the
		// race: read the session again and judge the token against it.
		if attempt > 0 {
			return nil, fmt.Errorf("refresh: session %s changed twice under us", sess.ID)
		}
		if sess, err = s.store.Session(ctx, sess.ID); err != nil {
			return nil, err
		}
	}
}

// refreshCached is the common refresh, of the current token of a session
// this instance knows, in one write: the session's secret and absolute
// expiry never change, so the cache checks the token's MAC and expiry, and
// the rotation's compare-and-swap checks the rest (current generation, not
// revoked, not idle) in the database. The MAC is checked before anything
// is written: a session id is public (it is in every access token), only
// the MAC proves the token (RFC 9700 §4.14). It is done when it has the
// answer; otherwise (a session not cached, a retired generation, a
// revocation the cache has not heard of) Refresh reads the session and
// judges it.
func (s *Service) refreshCached(ctx context.Context, parsed *ParsedRefreshToken) (*Grant, error, bool) {
	e, ok := s.guard.cached(parsed.SessionID)
	if !ok {
		return nil, nil, false
	}
	if !s.cfg.RefreshTokens.macValid(parsed, e.secret) {
		return nil, ErrRefreshTokenInvalid, true
	}
	now := s.now().UTC()
	if e.Revoked || !now.Before(e.ExpiresAt) {
		return nil, nil, false // the read says which answer (a deleted user's session is unknown)
	}
	g, err := s.rotate(ctx, parsed.SessionID, parsed.Generation, e.ExpiresAt, now)
	return g, err, err != nil || g != nil
}

// rotate advances a session from generation from and grants its next
// tokens; nil, nil when the store did not rotate.
func (s *Service) rotate(ctx context.Context, id string, from int64, expiresAt, now time.Time) (*Grant, error) {
	idle := minTime(now.Add(s.cfg.RefreshTTL), expiresAt)
	sess, err := s.store.RotateSession(ctx, id, from, now, idle)
	if err != nil || sess == nil {
		return nil, err
	}
	return s.grant(sess, sess.Generation, now)
}

// refreshRetired handles a token that was rotated away: within the grace
// period it gets the session's current token (racing tabs converge on one
// token); after it, it is theft and the session ends (RFC 9700 §4.14.2).
func (s *Service) refreshRetired(ctx context.Context, sess *Session, generation int64, now time.Time) (*Grant, error) {
	if s.cfg.ReuseGrace > 0 {
		retired, err := s.store.RetiredAt(ctx, sess.ID, generation)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if err == nil && now.Sub(retired) <= s.cfg.ReuseGrace {
			g, err := s.grant(sess, sess.Generation, now)
			if g != nil {
				g.Reissued = true
			}
			return g, err
		}
	}
	if err := s.revokeSession(ctx, sess.UserID, sess.ID, ReasonReuse); err != nil {
		return nil, err
	}
	s.log.WarnContext(ctx, "refresh token reuse: session revoked", "session_id", sess.ID, "user_id", sess.UserID, "generation", generation)
	return nil, ErrRefreshTokenReused
}

// loadRefreshToken parses a token and loads its session, checking the MAC.
func (s *Service) loadRefreshToken(ctx context.Context, token string) (*ParsedRefreshToken, *Session, error) {
	parsed, err := s.cfg.RefreshTokens.Parse(token)
	if err != nil {
		return nil, nil, ErrRefreshTokenInvalid
	}
	sess, err := s.loadSession(ctx, parsed)
	if err != nil {
		return nil, nil, err
	}
	return parsed, sess, nil
}

// loadSession reads the session of a parsed token (caching it for the next
// refresh) and checks the token's MAC.
func (s *Service) loadSession(ctx context.Context, parsed *ParsedRefreshToken) (*Session, error) {
	sess, err := s.guard.load(ctx, parsed.SessionID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrRefreshTokenInvalid
	}
	if err != nil {
		return nil, err
	}
	if !s.cfg.RefreshTokens.Verify(parsed, sess) {
		return nil, ErrRefreshTokenInvalid
	}
	return sess, nil
}

// Logout ends the session of a refresh token. It is idempotent: a token
// that is unknown, expired or already logged out is not an error.
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	return s.revokeByRefreshToken(ctx, refreshToken, ReasonLogout)
}

func (s *Service) revokeByRefreshToken(ctx context.Context, refreshToken, reason string) error {
	_, sess, err := s.loadRefreshToken(ctx, refreshToken)
	if errors.Is(err, ErrRefreshTokenInvalid) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.revokeSession(ctx, sess.UserID, sess.ID, reason)
}

// revokeSession ends a session of userID, recording it in the audit log:
// refresh.reused for a theft (RFC 9700 §4.14.2), session.revoked else.
func (s *Service) revokeSession(ctx context.Context, userID, id, reason string) error {
	ev := s.newEvent(ctx, EventSessionRevoked, userID, id, "reason", reason)
	if reason == ReasonReuse {
		ev = s.newEvent(ctx, EventRefreshReused, userID, id)
	}
	ctx, done := s.record(ctx, ev)
	ended, err := s.store.RevokeSession(ctx, id, reason, s.now().UTC())
	if ended {
		done(err) // the store keeps no event of a session already ended
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	s.guard.revoked(id)
	if ended {
		s.revokedCount(reason, 1)
	}
	return nil
}

// revokedSessions updates the guard and the metrics hook after a store
// call ended the sessions ids.
func (s *Service) revokedSessions(reason string, ids []string) {
	s.guard.revoked(ids...)
	s.revokedCount(reason, len(ids))
}

func (s *Service) revokedCount(reason string, n int) {
	if s.cfg.OnRevoke != nil && n > 0 {
		s.cfg.OnRevoke(reason, n)
	}
}

// RevokeToken implements RFC 7009: a refresh token ends its session, and so
// does a valid access token. Anything else is ignored.
func (s *Service) RevokeToken(ctx context.Context, token string) error {
	if strings.HasPrefix(token, RefreshTokenPrefix) {
		return s.revokeByRefreshToken(ctx, token, ReasonOAuthRevoke)
	}
	claims, err := s.cfg.Tokens.Verify(token)
	if err != nil {
		return nil
	}
	st, err := s.guard.state(ctx, claims.SessionID)
	if err != nil || st.UserID != claims.Subject {
		return nil
	}
	return s.revokeSession(ctx, claims.Subject, claims.SessionID, ReasonOAuthRevoke)
}

// Authenticate verifies a bearer access token and checks that its session
// is live and belongs to its subject. It returns ErrTokenMissing,
// ErrTokenInvalid, ErrTokenExpired or ErrSessionRevoked.
func (s *Service) Authenticate(ctx context.Context, bearer string) (*AccessClaims, error) {
	if bearer == "" {
		return nil, ErrTokenMissing
	}
	claims, err := s.cfg.Tokens.Verify(bearer)
	if err != nil {
		return nil, err
	}
	if claims.ClientID != "" {
		// User routes serve users: a service client's token names no
		// session (CONTRACT §10).
		return nil, fmt.Errorf("%w: a service client's token", ErrTokenInvalid)
	}
	st, err := s.guard.state(ctx, claims.SessionID)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: unknown session", ErrTokenInvalid)
	}
	if err != nil {
		return nil, err
	}
	if st.UserID != claims.Subject {
		return nil, fmt.Errorf("%w: session of another user", ErrTokenInvalid)
	}
	if st.Revoked {
		return nil, ErrSessionRevoked
	}
	return claims, nil
}

// Me returns the public profile of the user of verified claims, from the
// user cache: no database read once the user is known.
func (s *Service) Me(ctx context.Context, c *AccessClaims) (*User, error) {
	u, err := s.guard.users.get(ctx, c.Subject, s.store.UserByID)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: user gone", ErrTokenInvalid)
	}
	return u, err
}

// LogoutAll ends every session of the user.
func (s *Service) LogoutAll(ctx context.Context, c *AccessClaims) error {
	ctx, done := s.record(ctx, s.newEvent(ctx, EventSessionRevoked, c.Subject, c.SessionID, "reason", ReasonLogoutAll))
	ids, err := s.store.RevokeUserSessions(ctx, c.Subject, "", ReasonLogoutAll, s.now().UTC())
	if len(ids) > 0 {
		done(err)
	}
	if err != nil {
		return err
	}
	s.revokedSessions(ReasonLogoutAll, ids)
	s.guard.revoked(c.SessionID)
	return nil
}

// Sessions lists the user's live sessions.
func (s *Service) Sessions(ctx context.Context, c *AccessClaims) ([]Session, error) {
	return s.store.LiveSessions(ctx, c.Subject, s.now().UTC())
}

// DeleteSession ends one live session of the user. It returns ErrNotFound
// for an unknown session, another user's session or one already ended.
func (s *Service) DeleteSession(ctx context.Context, c *AccessClaims, id string) error {
	if !ValidID(id) {
		return ErrNotFound
	}
	sess, err := s.store.Session(ctx, id)
	if err != nil {
		return err
	}
	if sess.UserID != c.Subject || !sess.Live(s.now()) {
		return ErrNotFound
	}
	return s.revokeSession(ctx, c.Subject, id, ReasonSessionDelete)
}

// RevokeUserByEmail ends every session of a user (the CLI's
// "sessions revoke"). It returns how many sessions it ended.
func (s *Service) RevokeUserByEmail(ctx context.Context, email string) (int, error) {
	u, err := s.userOfOperator(ctx, email)
	if err != nil {
		return 0, err
	}
	return s.Operator().LogoutUser(ctx, u.ID)
}

// userOfOperator finds the user an operator named by email (the CLI's
// verbs): a *ValidationError for a malformed address, ErrNotFound.
func (s *Service) userOfOperator(ctx context.Context, email string) (*User, error) {
	canonical, err := CanonicalEmail(email)
	if err != nil {
		return nil, Invalid("email", err.Error())
	}
	return s.store.UserByEmail(ctx, canonical)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
