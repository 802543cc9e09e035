package gatehouse

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Service clients: creation (the CLI), the client_credentials grant
// (RFC 6749 §4.4) and the checks of a client's bearer token.

// ClientGrant is what the client_credentials grant returns: an access
// token only (RFC 6749 §4.4.3: no refresh token).
type ClientGrant struct {
	AccessToken string
	ExpiresIn   int
	Scope       string
}

var knownScopes = []string{ScopeIntrospect, ScopeRevocations}

// CreateClient registers a service client and returns it with its secret,
// which is shown once and stored only as a hash.
func (s *Service) CreateClient(ctx context.Context, name string, scopes []string) (*ServiceClient, string, error) {
	name, msg := cleanName(name)
	if msg == "" && name == "" {
		msg = "is required"
	}
	if msg != "" {
		return nil, "", Invalid("name", msg)
	}
	var clean []string
	for _, sc := range scopes {
		if !slices.Contains(knownScopes, sc) {
			return nil, "", Invalid("scope", fmt.Sprintf("%q: must be one of %s", sc, strings.Join(knownScopes, ", ")))
		}
		if !slices.Contains(clean, sc) {
			clean = append(clean, sc)
		}
	}
	if len(clean) == 0 {
		return nil, "", Invalid("scope", "at least one is required: "+strings.Join(knownScopes, ", "))
	}
	// The id names the client and is not a secret: 96 random bits keep ids
	// from colliding. The secret has 256 random bits, beyond the 2^-128
	// guessing odds RFC 6749 §10.10 asks of generated credentials.
	id := "gh_" + base64.RawURLEncoding.EncodeToString(RandomBytes(12))
	secret := "gh_secret_" + base64.RawURLEncoding.EncodeToString(RandomBytes(32))
	c := &ServiceClient{ID: id, Name: name, SecretHash: clientSecretHash(secret), Scopes: clean, CreatedAt: s.now().UTC().Truncate(time.Microsecond)}
	ctx, done := s.record(ctx, s.newEvent(ctx, EventClientCreated, "", "", "client_id", id, "name", name))
	err := s.store.CreateClient(ctx, c)
	done(err)
	if err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

func clientSecretHash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Clients lists the service clients.
func (s *Service) Clients(ctx context.Context) ([]ServiceClient, error) { return s.store.Clients(ctx) }

// DeleteClient removes a service client: its tokens are refused from then
// on (each use looks the client up).
func (s *Service) DeleteClient(ctx context.Context, id string) error {
	ctx, done := s.record(ctx, s.newEvent(ctx, EventClientDeleted, "", "", "client_id", id))
	err := s.store.DeleteClient(ctx, id)
	done(err)
	s.clients.forget(id)
	return err
}

// clientCacheTTL bounds how long an instance trusts a client it looked up:
// a follower polls the feed again after every revocation, and a thousand
// followers must not mean a thousand database reads per revocation. A
// client deleted on another instance (or by the CLI) is refused everywhere
// within it.
const clientCacheTTL = 5 * time.Second

// clientCache holds service clients briefly (clientCacheTTL).
type clientCache struct {
	mu sync.Mutex
	m  map[string]cachedClient
}

type cachedClient struct {
	c       *ServiceClient
	expires time.Time
}

func (cc *clientCache) get(ctx context.Context, id string, load func(context.Context, string) (*ServiceClient, error), now time.Time) (*ServiceClient, error) {
	cc.mu.Lock()
	e, ok := cc.m[id]
	cc.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.c, nil
	}
	c, err := load(ctx, id)
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	if cc.m == nil || len(cc.m) > 10_000 {
		cc.m = map[string]cachedClient{} // clients are few; a flood of ids is not kept
	}
	cc.m[id] = cachedClient{c: c, expires: now.Add(clientCacheTTL)}
	cc.mu.Unlock()
	return c, nil
}

func (cc *clientCache) forget(id string) {
	cc.mu.Lock()
	delete(cc.m, id)
	cc.mu.Unlock()
}

// ClientCredentials authenticates a client by its secret and issues an
// access token for the scopes asked (all of the client's when none are).
// Failures count like failed logins, per client and address, so a secret
// cannot be guessed faster than a password. Returns ErrInvalidClient,
// ErrInvalidScope, *RateLimitError.
func (s *Service) ClientCredentials(ctx context.Context, id, secret, scope string, client ClientInfo) (*ClientGrant, error) {
	c, err := s.clientBySecret(ctx, id, secret, client)
	if err != nil {
		return nil, err
	}
	granted := c.Scopes
	if scope != "" {
		granted = strings.Fields(scope)
		for _, sc := range granted {
			if !slices.Contains(c.Scopes, sc) {
				return nil, fmt.Errorf("%w: %q is not a scope of this client", ErrInvalidScope, sc)
			}
		}
	}
	now := s.now().UTC()
	tok, err := s.cfg.Tokens.Issue(&AccessClaims{
		Issuer: s.cfg.Issuer, Subject: c.ID, Audience: []string{s.cfg.Audience},
		IssuedAt: now, NotBefore: now, ExpiresAt: now.Add(s.cfg.AccessTTL), ID: NewID(),
		ClientID: c.ID, Scope: strings.Join(granted, " "),
	})
	if err != nil {
		return nil, fmt.Errorf("issue client token: %w", err)
	}
	return &ClientGrant{AccessToken: tok, ExpiresIn: int(s.cfg.AccessTTL / time.Second), Scope: strings.Join(granted, " ")}, nil
}

// AuthenticateClient checks a service client's bearer token and that the
// client still exists and holds scope. A user's token is ErrTokenInvalid;
// a client's without the scope, ErrInsufficientScope.
func (s *Service) AuthenticateClient(ctx context.Context, bearer, scope string) (*AccessClaims, error) {
	if bearer == "" {
		return nil, ErrTokenMissing
	}
	claims, err := s.cfg.Tokens.Verify(bearer)
	if err != nil {
		return nil, err
	}
	if claims.ClientID == "" {
		return nil, fmt.Errorf("%w: not a service client's token", ErrTokenInvalid)
	}
	c, err := s.clients.get(ctx, claims.ClientID, s.store.Client, s.now())
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: the client was deleted", ErrTokenInvalid)
	}
	if err != nil {
		return nil, err
	}
	if !slices.Contains(strings.Fields(claims.Scope), scope) || !slices.Contains(c.Scopes, scope) {
		return nil, fmt.Errorf("%w: needs scope %q", ErrInsufficientScope, scope)
	}
	return claims, nil
}

// clientBySecret authenticates a client by id and secret. Failures count
// like failed logins, per client and address.
func (s *Service) clientBySecret(ctx context.Context, id, secret string, client ClientInfo) (*ServiceClient, error) {
	if id == "" || secret == "" || len(id) > 200 {
		return nil, ErrInvalidClient
	}
	gate, err := s.reserveLogin(ctx, "client|"+id, client.IP)
	if err != nil {
		return nil, err
	}
	c, err := s.store.Client(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	want := clientSecretHash(secret)
	have := make([]byte, len(want)) // the same comparison for an unknown client
	if c != nil {
		have = c.SecretHash
	}
	if subtle.ConstantTimeCompare(want, have) != 1 || c == nil {
		return nil, errors.Join(ErrInvalidClient, gate.failed(ctx, s.store, s.now()))
	}
	return c, gate.succeeded(ctx, s.store)
}

// ClientBySecret authenticates a client by id and secret (HTTP Basic on
// the introspection endpoint) and checks it holds scope. Returns
// ErrInvalidClient, *RateLimitError, ErrInsufficientScope.
func (s *Service) ClientBySecret(ctx context.Context, id, secret, scope string, client ClientInfo) error {
	c, err := s.clientBySecret(ctx, id, secret, client)
	if err != nil {
		return err
	}
	if !slices.Contains(c.Scopes, scope) {
		return fmt.Errorf("%w: needs scope %q", ErrInsufficientScope, scope)
	}
	return nil
}
