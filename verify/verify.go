package verify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/token"
)

// Config configures a [Verifier] built by [New].
type Config struct {
	// Issuer is Gatehouse's issuer URL (its --issuer): the iss every token
	// must carry, and the base of its RFC 8414 metadata URL. Required.
	Issuer string
	// Audience must be one of every token's aud (Gatehouse's --audience,
	// "gatehouse" by default). Required.
	Audience string
	// HTTPClient fetches the metadata and the JWK Set; nil means a client
	// with a 10 s timeout.
	HTTPClient *http.Client
	// Algorithms, when set, narrows the keys used to those of these
	// algorithms (EdDSA, ES256, RS256); a key of another algorithm in the
	// JWK Set is ignored. Nil accepts each published key with the one
	// algorithm it is published with.
	Algorithms []string
	// Leeway is the clock skew allowed on exp, nbf and iat: 0 means 5 s,
	// negative means none; more than 5 s is refused (CONTRACT §3).
	Leeway time.Duration
	// RefetchInterval is the least time between two JWK Set fetches that
	// tokens with an unknown kid trigger; 0 means 10 s.
	RefetchInterval time.Duration
	// CacheSize bounds the verified-token cache: 0 means 100 000 entries,
	// negative turns it off.
	CacheSize int
	// Realm is the realm of the WWW-Authenticate challenge; "" means
	// "gatehouse", as Gatehouse's own routes send.
	Realm string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives key fetches and their failures; nil discards them.
	// Tokens are never logged.
	Logger *slog.Logger

	// ClientID and ClientSecret are the credentials of a Gatehouse service
	// client with scope revocations (gatehouse clients create). Given both,
	// [New] starts a follower of Gatehouse's revocation feed, and Verify
	// refuses the tokens of revoked sessions (see the package
	// documentation); stop it with [Verifier.Close]. Without them nothing
	// changes.
	ClientID     string
	ClientSecret string
	// MaxTokenLifetime is the longest access-token lifetime Gatehouse
	// issues (its --access-ttl, or more): a revoked session is remembered
	// that long after its revocation. 0 means 1 h.
	MaxTokenLifetime time.Duration
	// FeedStaleAfter is how long the follower may go without an answer
	// from the feed before Verify refuses every token with 503; it bounds
	// how long a revocation can go unseen. 0 means 10 s.
	FeedStaleAfter time.Duration
}

// Authenticator checks a bearer token in process. *gatehouse.Service (and
// so an embedded Gatehouse's server.Server.Service()) implements it.
type Authenticator interface {
	Authenticate(ctx context.Context, bearer string) (*gatehouse.AccessClaims, error)
}

// Verifier checks Gatehouse access tokens and serves as HTTP middleware.
// It is safe for concurrent use.
type Verifier struct {
	realm  string
	log    *slog.Logger
	local  Authenticator   // set by Local
	tokens *token.Verifier // set by New
	keys   *remoteKeys     // set by New
	feed   *follower       // set by New given client credentials
	closed sync.Once
}

// fetchTimeout bounds one fetch of the metadata or the JWK Set when the
// HTTPClient has no timeout of its own.
const fetchTimeout = 10 * time.Second

// maxDocument bounds the metadata and JWK Set documents read.
const maxDocument = 1 << 20

// New fetches the issuer's RFC 8414 metadata and JWK Set and returns a
// Verifier for its tokens. It fails when Gatehouse cannot be reached, when
// the metadata names another issuer, or when the JWK Set holds no key this
// package can use: a service should not start up unable to verify tokens.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	issuer, err := checkIssuer(cfg.Issuer)
	if err != nil {
		return nil, err
	}
	if cfg.Audience == "" {
		return nil, errors.New("verify: Audience is required")
	}
	for _, alg := range cfg.Algorithms {
		if alg != token.EdDSA && alg != token.ES256 && alg != token.RS256 {
			return nil, fmt.Errorf("verify: algorithm %q: must be EdDSA, ES256 or RS256 (HS256 keys are never published)", alg)
		}
	}
	if strings.ContainsAny(cfg.Realm, "\"\\\r\n") {
		return nil, errors.New("verify: Realm must not hold quotes, backslashes or line breaks")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: fetchTimeout}
	}
	if cfg.RefetchInterval <= 0 {
		cfg.RefetchInterval = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if (cfg.ClientID == "") != (cfg.ClientSecret == "") {
		return nil, errors.New("verify: ClientID and ClientSecret go together")
	}
	if cfg.MaxTokenLifetime <= 0 {
		cfg.MaxTokenLifetime = time.Hour
	}
	if cfg.FeedStaleAfter <= 0 {
		cfg.FeedStaleAfter = 10 * time.Second
	}
	jwksURI, err := fetchMetadata(ctx, cfg.HTTPClient, issuer)
	if err != nil {
		return nil, err
	}
	keys := &remoteKeys{
		client: cfg.HTTPClient, jwksURI: jwksURI, algs: cfg.Algorithms,
		interval: cfg.RefetchInterval, now: cfg.Now, log: cfg.Logger,
	}
	fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	if err := keys.fetch(fctx); err != nil {
		return nil, err
	}
	tv, err := token.NewVerifier(token.Config{
		Issuer: issuer, Audience: cfg.Audience, Leeway: cfg.Leeway,
		CacheSize: cfg.CacheSize, Now: cfg.Now,
	}, keys)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	v := &Verifier{realm: realmOr(cfg.Realm), log: cfg.Logger, tokens: tv, keys: keys}
	if cfg.ClientID != "" {
		// The follower outlives ctx, which bounds only these fetches.
		v.feed = newFollower(&cfg, issuer)
		v.feed.start()
	}
	return v, nil
}

// Close stops the revocation-feed follower, if any, and waits for it.
// Verify refuses every token afterwards (the feed is no longer followed).
// It is safe to call more than once, and a no-op without a follower.
func (v *Verifier) Close() error {
	if v.feed != nil {
		v.closed.Do(func() {
			v.feed.close()
			v.feed.live.Store(false)
		})
	}
	return nil
}

// Local returns a Verifier that asks an in-process Gatehouse (library mode)
// instead of verifying tokens itself. Unlike [New]'s, it refuses the tokens
// of a revoked session within a second (CONTRACT §4), answering 401
// session_revoked.
func Local(a Authenticator) *Verifier {
	return &Verifier{realm: realmOr(""), log: slog.New(slog.DiscardHandler), local: a}
}

func realmOr(r string) string {
	if r == "" {
		return "gatehouse"
	}
	return r
}

// checkIssuer returns the issuer as tokens carry it: an http(s) URL with
// no query, fragment or trailing slash (Gatehouse trims it the same way).
func checkIssuer(s string) (string, error) {
	if s == "" {
		return "", errors.New("verify: Issuer is required")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("verify: issuer %q: must be an http(s) URL without query or fragment", s)
	}
	return strings.TrimSuffix(s, "/"), nil
}

// Verify checks a bearer access token and returns its claims. It returns
// errors that wrap [gatehouse.ErrTokenMissing], [gatehouse.ErrTokenInvalid]
// or [gatehouse.ErrTokenExpired]; a [Local] verifier, or one that follows
// the revocation feed, may also return [gatehouse.ErrSessionRevoked] or
// [gatehouse.ErrUnavailable]. The caller owns the returned claims.
func (v *Verifier) Verify(ctx context.Context, bearer string) (*gatehouse.AccessClaims, error) {
	if bearer == "" {
		return nil, gatehouse.ErrTokenMissing
	}
	if v.local != nil {
		return v.local.Authenticate(ctx, bearer)
	}
	c, err := v.tokens.Verify(bearer)
	if err == nil || !errors.Is(err, gatehouse.ErrTokenInvalid) {
		return v.checkFeed(c, err)
	}
	// Refused: if only because its kid is new to us, the key ring may have
	// rotated. The kid is read here only to decide whether to refetch; it
	// selects among keys fetched from the issuer, never anything else
	// (RFC 8725 §3.10).
	kid, ok := headerKID(bearer)
	if !ok {
		return nil, err
	}
	if _, known := v.keys.VerificationKey(kid); known {
		return nil, err
	}
	if ferr := v.keys.refetch(ctx); ferr != nil {
		if !errors.Is(ferr, errRefetchLimited) {
			v.log.WarnContext(ctx, "jwks refetch failed", "err", ferr)
		}
		return nil, err
	}
	if _, known := v.keys.VerificationKey(kid); !known {
		return nil, err
	}
	return v.checkFeed(v.tokens.Verify(bearer))
}

// checkFeed passes a verified token through the revocation follower, if any.
func (v *Verifier) checkFeed(c *gatehouse.AccessClaims, err error) (*gatehouse.AccessClaims, error) {
	if err != nil {
		return nil, err
	}
	if c.SessionID == "" {
		// A service client's own token (client credentials) belongs to no
		// user session: it is not a user's token, as Gatehouse's user
		// routes refuse it too.
		return nil, fmt.Errorf("%w: not a user's token (no sid)", gatehouse.ErrTokenInvalid)
	}
	if v.feed == nil {
		return c, nil
	}
	if err := v.feed.check(c); err != nil {
		return nil, err
	}
	return c, nil
}

// headerKID reads the kid of a compact JWS's header, leniently: the strict
// check is the token package's, this only decides whether a refetch may help.
func headerKID(tok string) (string, bool) {
	if len(tok) > token.MaxTokenSize {
		return "", false
	}
	h, _, ok := strings.Cut(tok, ".")
	if !ok {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return "", false
	}
	var hdr struct {
		KID string `json:"kid"`
	}
	if json.Unmarshal(b, &hdr) != nil || hdr.KID == "" {
		return "", false
	}
	return hdr.KID, true
}

// metadata is the part of RFC 8414 §2 metadata this package reads.
type metadata struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

// fetchMetadata reads <issuer>/.well-known/oauth-authorization-server, the
// path Gatehouse serves its metadata at (for an issuer without a path this
// is exactly RFC 8414 §3.1's URL), and returns its jwks_uri.
func fetchMetadata(ctx context.Context, client *http.Client, issuer string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	body, err := get(ctx, client, issuer+"/.well-known/oauth-authorization-server", "application/json")
	if err != nil {
		return "", fmt.Errorf("verify: metadata: %w", err)
	}
	var m metadata
	if err := json.Unmarshal(body, &m); err != nil {
		return "", fmt.Errorf("verify: metadata: not JSON: %w", err)
	}
	// RFC 8414 §3.3: the issuer in the metadata must be identical to the
	// one the metadata URL was built from, or the document is not used
	// (it would let one server impersonate another).
	if m.Issuer != issuer {
		return "", fmt.Errorf("verify: metadata names issuer %q, not the configured %q (RFC 8414 §3.3)", m.Issuer, issuer)
	}
	u, err := url.Parse(m.JWKSURI)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("verify: metadata: jwks_uri %q is not an absolute URL", m.JWKSURI)
	}
	// Keys fetched over plain HTTP could be swapped in transit: only an
	// http:// issuer (development) may name an http:// jwks_uri
	// (RFC 8414 §2: jwks_uri, RFC 8725 §3.10).
	if u.Scheme != "https" && !(u.Scheme == "http" && strings.HasPrefix(issuer, "http://")) {
		return "", fmt.Errorf("verify: metadata: jwks_uri %q must be https", m.JWKSURI)
	}
	return m.JWKSURI, nil
}

// get fetches a document of at most maxDocument bytes with status 200.
func get(ctx context.Context, client *http.Client, uri, accept string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("GET %s: status %d", uri, resp.StatusCode)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil, fmt.Errorf("GET %s: content type %q is not JSON", uri, resp.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", uri, err)
	}
	if len(body) > maxDocument {
		return nil, fmt.Errorf("GET %s: document larger than 1 MiB", uri)
	}
	return body, nil
}

// allowed reports whether alg passes the configured allowlist.
func allowed(algs []string, alg string) bool {
	return len(algs) == 0 || slices.Contains(algs, alg)
}
