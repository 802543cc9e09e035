package gatehouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"
)

// AccessTokens mints and verifies access tokens (implemented by the token
// package). Verify returns errors wrapping ErrTokenInvalid or ErrTokenExpired.
type AccessTokens interface {
	Issue(c *AccessClaims) (string, error)
	Verify(token string) (*AccessClaims, error)
}

// Passwords checks, hashes and compares passwords (implemented by the
// password package). Hash, Compare and CompareDummy may return ErrServerBusy
// when the bounded hashing pool is full.
type Passwords interface {
	// Check returns a message saying why a new password is refused, or "".
	Check(password string) string
	Hash(ctx context.Context, password string) (string, error)
	// Compare reports whether password matches hash, and whether the hash
	// should be replaced because the parameters in force changed.
	Compare(ctx context.Context, hash, password string) (match, rehash bool, err error)
	// CompareDummy costs what Compare costs, for logins of unknown emails
	// (CONTRACT §4: same answer and same time as a wrong password).
	CompareDummy(ctx context.Context, password string) error
}

// Limit is an attempt limit: N attempts per Window. N == 0 turns it off.
type Limit struct {
	N      int
	Window time.Duration
}

// Config configures a [Service]. Zero durations take the CONTRACT §1 defaults.
type Config struct {
	Store         Store
	Tokens        AccessTokens
	Passwords     Passwords
	RefreshTokens *RefreshTokenCodec

	Issuer     string
	Audience   string
	AccessTTL  time.Duration // default 15m
	RefreshTTL time.Duration // idle lifetime; default 168h
	SessionTTL time.Duration // absolute lifetime; default 720h
	ReuseGrace time.Duration // default 10s; negative means none

	LoginLimit    Limit
	RegisterLimit Limit

	// SessionCacheSize bounds the session states kept in memory (default 100 000).
	SessionCacheSize int
	// RevocationPoll is how often the revocation feed is read (default 250ms).
	RevocationPoll time.Duration

	Now    func() time.Time // default time.Now
	Logger *slog.Logger     // default discards

	// OnRevoke, when set, is called after sessions end, with the reason
	// (one of the Reason* constants) and how many ended; for metrics.
	OnRevoke func(reason string, sessions int)
}

// Service runs the token lifecycle. It is safe for concurrent use.
type Service struct {
	cfg   Config
	store Store
	log   *slog.Logger
	now   func() time.Time
	guard *sessionGuard
}

// New returns a Service. Call [Service.Run] to follow revocations made
// elsewhere (other instances, the CLI).
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Tokens == nil || cfg.Passwords == nil || cfg.RefreshTokens == nil {
		return nil, errors.New("gatehouse: Store, Tokens, Passwords and RefreshTokens are required")
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = 15 * time.Minute
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = 168 * time.Hour
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 720 * time.Hour
	}
	if cfg.ReuseGrace == 0 {
		cfg.ReuseGrace = 10 * time.Second
	} else if cfg.ReuseGrace < 0 {
		cfg.ReuseGrace = 0
	}
	if cfg.SessionCacheSize <= 0 {
		cfg.SessionCacheSize = 100_000
	}
	if cfg.RevocationPoll <= 0 {
		cfg.RevocationPoll = 250 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{
		cfg:   cfg,
		store: cfg.Store,
		log:   cfg.Logger,
		now:   cfg.Now,
		guard: newSessionGuard(cfg.Store, cfg.Logger, cfg.SessionCacheSize, cfg.RevocationPoll),
	}, nil
}

// Run follows the revocation feed and prunes what has expired, until ctx
// ends. Call it once, in its own goroutine after [Service.Start].
func (s *Service) Run(ctx context.Context) {
	go s.guard.run(ctx)
	prune := time.NewTicker(10 * time.Minute)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-prune.C:
			s.prune(ctx)
		}
	}
}

// Start positions the revocation-feed reader; call it before serving.
func (s *Service) Start(ctx context.Context) error {
	if err := s.guard.start(ctx); err != nil {
		return fmt.Errorf("gatehouse: read revocation feed: %w", err)
	}
	return nil
}

func (s *Service) prune(ctx context.Context) {
	now := s.now()
	// Keep the feed and ended sessions for longer than any access token
	// lives, so that every instance sees a revocation before it is pruned.
	keep := 2*s.cfg.AccessTTL + time.Hour
	if err := s.store.Prune(ctx, now, now.Add(-keep), now.Add(-keep), now.Add(-keep)); err != nil {
		s.log.WarnContext(ctx, "prune failed", "err", err)
	}
}

// AccessTTL returns the lifetime of access tokens.
func (s *Service) AccessTTL() time.Duration { return s.cfg.AccessTTL }

// ClientInfo describes the client of a request, for the sessions page and
// the rate limits.
type ClientInfo struct {
	IP        string
	UserAgent string
}

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

// Register creates an account. It counts against the register limit of the
// client address and returns a *ValidationError, ErrEmailTaken,
// *RateLimitError or ErrServerBusy.
func (s *Service) Register(ctx context.Context, email, password, name string, client ClientInfo) (*User, error) {
	if l := s.cfg.RegisterLimit; l.N > 0 {
		count, resetAt, err := s.store.AddAttempt(ctx, "register|"+client.IP, s.now(), l.Window)
		if err != nil {
			return nil, err
		}
		if count > l.N {
			return nil, &RateLimitError{RetryAfter: retryAfter(resetAt, s.now())}
		}
	}
	return s.CreateUser(ctx, email, password, name)
}

// CreateUser creates an account without counting attempts (the CLI's
// "user create"). Errors as [Service.Register].
func (s *Service) CreateUser(ctx context.Context, email, password, name string) (*User, error) {
	var verr *ValidationError
	canonical, err := CanonicalEmail(email)
	if err != nil {
		verr = verr.Add("email", err.Error())
	}
	if msg := s.cfg.Passwords.Check(password); msg != "" {
		verr = verr.Add("password", msg)
	} else if resemblesAccount(password, canonical, name) {
		verr = verr.Add("password", msgResemblesAccount)
	}
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > 100 || !utf8.ValidString(name) || strings.ContainsFunc(name, isControl) {
		verr = verr.Add("name", "must be at most 100 printable characters")
	}
	if err := verr.Err(); err != nil {
		return nil, err
	}
	hash, err := s.cfg.Passwords.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	u := &User{ID: NewID(), Email: canonical, Name: name, PasswordHash: hash, CreatedAt: s.now().UTC().Truncate(time.Microsecond)} // µs: what both stores keep
	if err := s.store.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// Login checks a password and starts a session. It returns
// ErrInvalidCredentials alike for an unknown email and a wrong password
// (same answer, and the same hashing cost), *RateLimitError once the
// (account, client address) pair is over the login limit, even with the
// right password, and ErrServerBusy when the hashing pool is full.
func (s *Service) Login(ctx context.Context, email, password string, client ClientInfo) (*Grant, error) {
	var verr *ValidationError
	if strings.TrimSpace(email) == "" {
		verr = verr.Add("email", "is required")
	}
	if password == "" {
		verr = verr.Add("password", "is required")
	}
	if err := verr.Err(); err != nil {
		return nil, err
	}
	canonical, emailErr := CanonicalEmail(email)
	if emailErr != nil {
		canonical = strings.ToLower(strings.TrimSpace(email)) // still counted, still hashed
	}
	key := "login|" + canonical + "|" + client.IP
	if err := s.checkLoginLimit(ctx, key); err != nil {
		return nil, err
	}
	user, err := s.verifyPassword(ctx, canonical, emailErr == nil, password)
	if err != nil {
		if errors.Is(err, ErrInvalidCredentials) {
			if err := s.countLoginFailure(ctx, key); err != nil {
				return nil, err
			}
		}
		return nil, err
	}
	if s.cfg.LoginLimit.N > 0 {
		if err := s.store.ClearAttempts(ctx, key); err != nil {
			return nil, err
		}
	}
	grant, err := s.startSession(ctx, user, client)
	if err != nil {
		return nil, err
	}
	grant.User = user
	return grant, nil
}

func (s *Service) checkLoginLimit(ctx context.Context, key string) error {
	if s.cfg.LoginLimit.N <= 0 {
		return nil
	}
	now := s.now()
	count, resetAt, err := s.store.Attempts(ctx, key, now)
	if err != nil {
		return err
	}
	if count >= s.cfg.LoginLimit.N {
		return &RateLimitError{RetryAfter: retryAfter(resetAt, now)}
	}
	return nil
}

func (s *Service) countLoginFailure(ctx context.Context, key string) error {
	if s.cfg.LoginLimit.N <= 0 {
		return nil
	}
	_, _, err := s.store.AddAttempt(ctx, key, s.now(), s.cfg.LoginLimit.Window)
	return err
}

// verifyPassword returns the user whose email and password these are, or
// ErrInvalidCredentials after the same hashing work either way.
func (s *Service) verifyPassword(ctx context.Context, email string, wellFormed bool, password string) (*User, error) {
	var user *User
	if wellFormed {
		u, err := s.store.UserByEmail(ctx, email)
		switch {
		case err == nil:
			user = u
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
	}
	if user == nil {
		if err := s.cfg.Passwords.CompareDummy(ctx, password); err != nil {
			return nil, err
		}
		return nil, ErrInvalidCredentials
	}
	match, rehash, err := s.cfg.Passwords.Compare(ctx, user.PasswordHash, password)
	if err != nil {
		return nil, err
	}
	if !match {
		return nil, ErrInvalidCredentials
	}
	if rehash {
		// OWASP Password Storage: upgrade the parameters at the next login.
		if h, err := s.cfg.Passwords.Hash(ctx, password); err == nil {
			if err := s.store.SetPasswordHash(ctx, user.ID, h); err == nil {
				user.PasswordHash = h
			} else {
				s.log.WarnContext(ctx, "rehash not stored", "user_id", user.ID, "err", err)
			}
		}
	}
	return user, nil
}

func (s *Service) startSession(ctx context.Context, user *User, client ClientInfo) (*Grant, error) {
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
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return nil, err
	}
	s.guard.remember(sess)
	return s.grant(sess, sess.Generation, now)
}

// grant mints an access token for the session and returns it with the
// refresh token of the given generation.
func (s *Service) grant(sess *Session, generation int64, now time.Time) (*Grant, error) {
	claims := &AccessClaims{
		Issuer:    s.cfg.Issuer,
		Subject:   sess.UserID,
		Audience:  []string{s.cfg.Audience},
		IssuedAt:  now,
		NotBefore: now,
		ExpiresAt: now.Add(s.cfg.AccessTTL),
		ID:        NewID(),
		SessionID: sess.ID,
	}
	access, err := s.cfg.Tokens.Issue(claims)
	if err != nil {
		return nil, fmt.Errorf("issue access token: %w", err)
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

// Refresh rotates a refresh token (CONTRACT §4). It returns
// ErrRefreshTokenInvalid, ErrRefreshTokenExpired, ErrRefreshTokenReused
// (and then the session is revoked) or ErrSessionRevoked.
func (s *Service) Refresh(ctx context.Context, token string) (*Grant, error) {
	parsed, sess, err := s.loadRefreshToken(ctx, token)
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
		idle := minTime(now.Add(s.cfg.RefreshTTL), sess.ExpiresAt)
		rotated, err := s.store.RotateSession(ctx, sess.ID, sess.Generation, now, idle, now.Add(-s.cfg.ReuseGrace))
		if err != nil {
			return nil, err
		}
		if rotated {
			sess.Generation++
			sess.RotatedAt, sess.LastUsedAt, sess.IdleExpiresAt = now, now, idle
			return s.grant(sess, sess.Generation, now)
		}
		// Another refresh of this token, or a revocation, won the race:
		// read the session again and judge the token against what won.
		if attempt > 0 {
			return nil, fmt.Errorf("refresh: session %s changed twice under us", sess.ID)
		}
		if sess, err = s.store.Session(ctx, sess.ID); err != nil {
			return nil, err
		}
	}
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
	if err := s.revokeSession(ctx, sess.ID, ReasonReuse); err != nil {
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
	sess, err := s.store.Session(ctx, parsed.SessionID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, ErrRefreshTokenInvalid
	}
	if err != nil {
		return nil, nil, err
	}
	if !s.cfg.RefreshTokens.Verify(parsed, sess) {
		return nil, nil, ErrRefreshTokenInvalid
	}
	return parsed, sess, nil
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
	return s.revokeSession(ctx, sess.ID, reason)
}

func (s *Service) revokeSession(ctx context.Context, id, reason string) error {
	ended, err := s.store.RevokeSession(ctx, id, reason, s.now().UTC())
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
	return s.revokeSession(ctx, claims.SessionID, ReasonOAuthRevoke)
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

// Me returns the user of verified claims.
func (s *Service) Me(ctx context.Context, c *AccessClaims) (*User, error) {
	u, err := s.store.UserByID(ctx, c.Subject)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: user gone", ErrTokenInvalid)
	}
	return u, err
}

// LogoutAll ends every session of the user.
func (s *Service) LogoutAll(ctx context.Context, c *AccessClaims) error {
	ids, err := s.store.RevokeUserSessions(ctx, c.Subject, "", ReasonLogoutAll, s.now().UTC())
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
	return s.revokeSession(ctx, id, ReasonSessionDelete)
}

// ChangePassword replaces the user's password after checking the current
// one, and ends every other session of the user (OWASP ASVS 5.0 7.4.3).
// Failures count against the login limit like failed logins. Returns
// ErrInvalidCredentials, *ValidationError, *RateLimitError, ErrServerBusy.
func (s *Service) ChangePassword(ctx context.Context, c *AccessClaims, current, next string, client ClientInfo) error {
	user, err := s.store.UserByID(ctx, c.Subject)
	if err != nil {
		return err
	}
	var verr *ValidationError
	if current == "" {
		verr = verr.Add("current_password", "is required")
	}
	if msg := s.cfg.Passwords.Check(next); msg != "" {
		verr = verr.Add("new_password", msg)
	} else if resemblesAccount(next, user.Email, user.Name) {
		verr = verr.Add("new_password", msgResemblesAccount)
	}
	if err := verr.Err(); err != nil {
		return err
	}
	key := "login|" + user.Email + "|" + client.IP
	if err := s.checkLoginLimit(ctx, key); err != nil {
		return err
	}
	match, _, err := s.cfg.Passwords.Compare(ctx, user.PasswordHash, current)
	if err != nil {
		return err
	}
	if !match {
		if err := s.countLoginFailure(ctx, key); err != nil {
			return err
		}
		return ErrInvalidCredentials
	}
	hash, err := s.cfg.Passwords.Hash(ctx, next)
	if err != nil {
		return err
	}
	ids, err := s.store.ChangePassword(ctx, user.ID, hash, c.SessionID, s.now().UTC())
	if err != nil {
		return err
	}
	s.revokedSessions(ReasonPasswordChange, ids)
	return nil
}

// RevokeUserByEmail ends every session of a user (the CLI's
// "sessions revoke"). It returns how many sessions it ended.
func (s *Service) RevokeUserByEmail(ctx context.Context, email string) (int, error) {
	canonical, err := CanonicalEmail(email)
	if err != nil {
		return 0, Invalid("email", err.Error())
	}
	u, err := s.store.UserByEmail(ctx, canonical)
	if err != nil {
		return 0, err
	}
	ids, err := s.store.RevokeUserSessions(ctx, u.ID, "", ReasonAdmin, s.now().UTC())
	if err != nil {
		return 0, err
	}
	s.revokedSessions(ReasonAdmin, ids)
	return len(ids), nil
}

func retryAfter(resetAt, now time.Time) int {
	secs := int(resetAt.Sub(now).Seconds() + 0.999)
	if secs < 1 {
		secs = 1
	}
	return secs
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

const msgResemblesAccount = "must not be built on your email address or name"

// resemblesAccount reports whether password is mostly the account's own
// email, its local part or the user's name: NIST SP 800-63B §5.1.1.2 asks
// verifiers to refuse context-specific words such as the username. What is
// left after removing those words must itself be long enough to count.
func resemblesAccount(password, email, name string) bool {
	p := strings.ToLower(strings.Join(strings.Fields(password), ""))
	local, _, _ := strings.Cut(email, "@")
	words := []string{strings.ToLower(email), strings.ToLower(local), strings.ToLower(strings.Join(strings.Fields(name), ""))}
	left := p
	for _, w := range words {
		if utf8.RuneCountInString(w) >= 4 {
			left = strings.ReplaceAll(left, w, "")
		}
	}
	return left != p && utf8.RuneCountInString(left) < 8
}
