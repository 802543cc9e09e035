package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Token is a Gatehouse token pair as a [Session] keeps it. Treat it as
// read-only; the refresh token is a long-lived credential: never log it.
type Token struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	Expiry       time.Time `json:"expiry"`     // when the access token expires
	ExpiresIn    int       `json:"expires_in"` // its lifetime in seconds, as issued
}

// Config configures a [Session].
type Config struct {
	// URL is Gatehouse's base URL (its issuer). Required.
	URL string
	// HTTPClient carries the login, refresh and logout calls; nil means
	// a client with a 30 s timeout. Do not give it a [Transport] of this
	// same session.
	HTTPClient *http.Client
	// Store keeps the tokens; nil means a new [MemoryStore].
	Store TokenStore
	// EarlyRefresh is how long before expiry the access token is renewed;
	// 0 means 30 s or a tenth of its lifetime, whichever is shorter. It is
	// capped at half the lifetime.
	EarlyRefresh time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives warnings (a token that could not be saved); nil
	// discards them. Tokens and passwords are never logged.
	Logger *slog.Logger
}

// Session is a login to Gatehouse: it holds a token pair, renews it and
// persists it. It implements [TokenSource] and [Refresher] for a
// [Transport]. It is safe for concurrent use: at most one login, refresh
// or logout runs at a time, and callers arriving meanwhile wait for its
// result instead of starting their own.
type Session struct {
	cfg Config

	mu     sync.RWMutex // guards tok and loaded
	tok    *Token
	loaded bool

	// turn is held (a one-slot semaphore, so waiting honours ctx) by the
	// one goroutine loading, logging in, refreshing or logging out.
	turn chan struct{}
}

// New returns a Session. It does no I/O: tokens are loaded from the store
// on first use.
func New(cfg Config) (*Session, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: URL %q: must be an http(s) URL", cfg.URL)
	}
	cfg.URL = strings.TrimSuffix(cfg.URL, "/")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Store == nil {
		cfg.Store = &MemoryStore{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Session{cfg: cfg, turn: make(chan struct{}, 1)}, nil
}

func (s *Session) acquire(ctx context.Context) error {
	select {
	case s.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Session) release() { <-s.turn }

// refreshAt is when t should be renewed.
func (s *Session) refreshAt(t *Token) time.Time {
	life := time.Duration(t.ExpiresIn) * time.Second
	early := s.cfg.EarlyRefresh
	if early <= 0 {
		early = min(30*time.Second, life/10)
	}
	// A margin as long as the lifetime would refresh on every call.
	early = min(early, life/2)
	return t.Expiry.Add(-early)
}

// current returns a copy of the token when it is loaded and needs no
// refresh yet: the lock-free-ish fast path of every request.
func (s *Session) current() *Token {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.tok == nil || !s.cfg.Now().Before(s.refreshAt(s.tok)) {
		return nil
	}
	t := *s.tok
	return &t
}

func (s *Session) set(t *Token) {
	s.mu.Lock()
	s.tok, s.loaded = t, true
	s.mu.Unlock()
}

// loadLocked reads the store once; the caller holds the turn.
func (s *Session) loadLocked(ctx context.Context) (*Token, error) {
	s.mu.RLock()
	t, loaded := s.tok, s.loaded
	s.mu.RUnlock()
	if loaded {
		return t, nil
	}
	t, err := s.cfg.Store.Load(ctx)
	if err != nil {
		return nil, err
	}
	s.set(t)
	return t, nil
}

// Token returns a valid access token, refreshing it first when it expires
// within the early-refresh margin. It returns [ErrLoggedOut] when there
// are no tokens, a [*SessionError] when Gatehouse ended the session, and
// other errors (network, 5xx) without dropping the tokens. When an early
// refresh fails for such a reason, the current token is returned as long
// as it has not expired. The caller must not change the returned Token.
func (s *Session) Token(ctx context.Context) (*Token, error) {
	if t := s.current(); t != nil {
		return t, nil
	}
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	t, err := s.loadLocked(ctx)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, ErrLoggedOut
	}
	if s.cfg.Now().Before(s.refreshAt(t)) {
		c := *t
		return &c, nil // another caller refreshed while we waited
	}
	nt, err := s.refreshLocked(ctx, t)
	if err != nil {
		var se *SessionError
		if !errors.As(err, &se) && s.cfg.Now().Before(t.Expiry) {
			s.cfg.Logger.WarnContext(ctx, "gatehouse: early refresh failed; using the current access token", "err", err)
			c := *t
			return &c, nil
		}
		return nil, err
	}
	return nt, nil
}

// Refresh renews the token pair now, unless the access token rejected
// (the one an API just refused) has already been replaced: then it returns
// the replacement. So concurrent callers refused with one expired token
// cause one refresh between them. An empty rejected always refreshes. It
// returns the errors of [Session.Token].
func (s *Session) Refresh(ctx context.Context, rejected string) (*Token, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	t, err := s.loadLocked(ctx)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, ErrLoggedOut
	}
	if rejected != "" && t.AccessToken != rejected {
		c := *t
		return &c, nil
	}
	return s.refreshLocked(ctx, t)
}

// refreshLocked rotates t's refresh token; the caller holds the turn.
func (s *Session) refreshLocked(ctx context.Context, t *Token) (*Token, error) {
	nt, err := s.call(ctx, "/api/auth/refresh", map[string]string{"refresh_token": t.RefreshToken})
	if err != nil {
		var e *Error
		if errors.As(err, &e) && sessionOver(e) {
			// Gatehouse refused the refresh token: the session is over
			// (CONTRACT §4, "Refresh failures"). Keeping the dead token
			// would only make every later call fail the same way.
			s.set(nil)
			if cerr := s.cfg.Store.Clear(ctx); cerr != nil {
				s.cfg.Logger.WarnContext(ctx, "gatehouse: could not clear the stored tokens", "err", cerr)
			}
			return nil, &SessionError{Err: e}
		}
		return nil, err
	}
	// Gatehouse has retired the old refresh token: the new one must be
	// saved before anyone uses it (RFC 9700 §4.14.2). If saving fails, it
	// is still used from memory, since the old one is dead anyway; the
	// next run may then present a retired token and have to log in again.
	s.set(nt)
	if err := s.cfg.Store.Save(ctx, nt); err != nil {
		s.cfg.Logger.WarnContext(ctx, "gatehouse: could not save the rotated tokens", "err", err)
	}
	c := *nt
	return &c, nil
}

// Login logs in with a password (POST /api/auth/login) and saves the new
// token pair, replacing any previous one. It returns an [*Error]: for a
// wrong password errors.Is(err, gatehouse.ErrInvalidCredentials), after
// too many errors.Is(err, gatehouse.ErrRateLimited).
func (s *Session) Login(ctx context.Context, email, password string) error {
	return s.signIn(ctx, "/api/auth/login", map[string]string{"email": email, "password": password})
}

// signIn posts body to an endpoint that answers a new token pair (a
// login, or its second step) and saves the pair, replacing any other.
func (s *Session) signIn(ctx context.Context, path string, body any) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	t, err := s.call(ctx, path, body)
	if err != nil {
		return err
	}
	if err := s.cfg.Store.Save(ctx, t); err != nil {
		return err
	}
	s.set(t)
	return nil
}

// Logout ends the session at Gatehouse (POST /api/auth/logout) and clears
// the stored tokens. The local tokens are cleared even when Gatehouse
// cannot be reached; the error then says the session may still be live
// there until its refresh token expires.
func (s *Session) Logout(ctx context.Context) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	t, err := s.loadLocked(ctx)
	if err != nil {
		return err
	}
	s.set(nil)
	cerr := s.cfg.Store.Clear(ctx)
	if t == nil {
		return cerr
	}
	resp, err := s.post(ctx, "/api/auth/logout", map[string]string{"refresh_token": t.RefreshToken})
	if err != nil {
		return errors.Join(fmt.Errorf("client: logout: %w", err), cerr)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return errors.Join(readError(resp), cerr)
	}
	return cerr
}

// tokenResponse is Gatehouse's Tokens object (CONTRACT §2).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

// call posts a JSON body to an endpoint that answers Tokens.
func (s *Session) call(ctx context.Context, path string, body any) (*Token, error) {
	start := s.cfg.Now()
	resp, err := s.post(ctx, path, body)
	if err != nil {
		return nil, fmt.Errorf("client: %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, readError(resp)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxProblem)).Decode(&tr); err != nil {
		return nil, fmt.Errorf("client: %s: bad response: %w", path, err)
	}
	if tr.AccessToken == "" || tr.RefreshToken == "" || tr.ExpiresIn <= 0 || !strings.EqualFold(tr.TokenType, "bearer") {
		return nil, fmt.Errorf("client: %s: response lacks a bearer token pair", path)
	}
	// Counted from before the request, so that the token is renewed early
	// rather than late.
	return &Token{
		AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken,
		Expiry: start.Add(time.Duration(tr.ExpiresIn) * time.Second), ExpiresIn: tr.ExpiresIn,
	}, nil
}

func (s *Session) post(ctx context.Context, path string, body any) (*http.Response, error) {
	return s.postAuth(ctx, path, "", body)
}

// postAuth posts a JSON body, with a bearer access token when one is given.
func (s *Session) postAuth(ctx context.Context, path, access string, body any) (*http.Response, error) {
	return s.send(ctx, http.MethodPost, path, access, body)
}

// send sends a JSON body with method, with a bearer token when one is given.
func (s *Session) send(ctx context.Context, method, path, access string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.cfg.URL+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if access != "" {
		req.Header.Set("Authorization", "Bearer "+access)
	}
	return s.cfg.HTTPClient.Do(req)
}

// sessionOver reports whether a refresh failure means the session ended
// (CONTRACT §4, "Refresh failures"), as opposed to a 401 from something
// in between that knows nothing of Gatehouse's codes.
func sessionOver(e *Error) bool {
	return e.Status == http.StatusUnauthorized &&
		(strings.HasPrefix(e.Code, "refresh_token_") || e.Code == "session_revoked")
}
