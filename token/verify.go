package token

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// MaxTokenSize caps the tokens Verify reads: an access token of ours is
// well under 1 KiB, and a cap keeps a huge bearer from costing parse time
// (SECURITY.md §10: a 1 MiB token took 15 ms in golang-jwt).
const MaxTokenSize = 8 << 10

// MaxLeeway is the largest clock-skew allowance (CONTRACT §3).
const MaxLeeway = 5 * time.Second

// Config configures a [Verifier] and [Tokens].
type Config struct {
	// Issuer and Audience must match iss exactly and be one of aud
	// (RFC 9068 §4, RFC 8725 §3.8–3.9).
	Issuer, Audience string
	// Leeway is the clock skew allowed on exp, nbf and iat: 0 means 5 s,
	// negative means none, more than 5 s is an error (CONTRACT §3).
	Leeway time.Duration
	// CacheSize bounds the verified-token cache: 0 means 100 000 entries,
	// negative turns the cache off. Each entry holds the token and its
	// claims, about 1 KiB for an EdDSA token.
	CacheSize int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (c *Config) defaults() error {
	if c.Issuer == "" || c.Audience == "" {
		return errors.New("token: Issuer and Audience are required")
	}
	switch {
	case c.Leeway == 0:
		c.Leeway = MaxLeeway
	case c.Leeway < 0:
		c.Leeway = 0
	case c.Leeway > MaxLeeway:
		return fmt.Errorf("token: leeway %v exceeds %v (CONTRACT §3)", c.Leeway, MaxLeeway)
	}
	if c.CacheSize == 0 {
		c.CacheSize = 100_000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Verifier checks access tokens against the keys of a [KeyLookup]. It is
// the verification half of [Tokens], usable alone by a resource server
// whose keys come from a remote JWKS. It is safe for concurrent use.
//
// Verify returns errors that wrap [gatehouse.ErrTokenInvalid] (with a
// short reason for logs, never token content) or, only for a token that
// passed every other check, [gatehouse.ErrTokenExpired].
type Verifier struct {
	issuer, audience string
	leeway           time.Duration
	now              func() time.Time
	keys             KeyLookup
	cache            *tokenCache // nil when off
}

// NewVerifier returns a Verifier over keys.
func NewVerifier(cfg Config, keys KeyLookup) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("token: verifier needs a KeyLookup")
	}
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	v := &Verifier{issuer: cfg.Issuer, audience: cfg.Audience, leeway: cfg.Leeway, now: cfg.Now, keys: keys}
	if cfg.CacheSize > 0 {
		v.cache = newTokenCache(cfg.CacheSize)
	}
	return v, nil
}

// tokenError is a refusal: the sentinel and a short internal reason.
type tokenError struct {
	kind   error
	reason string
}

func (e *tokenError) Error() string { return e.kind.Error() + ": " + e.reason }
func (e *tokenError) Unwrap() error { return e.kind }

func invalid(reason string) error { return &tokenError{gatehouse.ErrTokenInvalid, reason} }

var errExpired = &tokenError{gatehouse.ErrTokenExpired, "exp passed"}

// Verify checks a compact JWS access token and returns its claims. The
// caller owns the returned claims.
func (v *Verifier) Verify(token string) (*gatehouse.AccessClaims, error) {
	if len(token) > MaxTokenSize {
		return nil, invalid("longer than 8 KiB")
	}
	now := v.now()
	if v.cache != nil {
		if c, err, hit := v.cache.get(token, now, v.keys); hit {
			return c, err
		}
	}
	e, err := v.verify(token, now)
	if err != nil {
		return nil, err
	}
	if v.cache == nil {
		return &e.claims, nil // e is fresh and shared with no one
	}
	v.cache.put(token, e, now)
	return e.copyClaims(), nil
}

// verify is the full check. Order matters: everything that depends only
// on the header and the key ring first, then the signature, and only then
// the claims, so that no claim-derived answer (above all "expired") is
// given for a token whose signature was not checked.
func (v *Verifier) verify(token string, now time.Time) (*cacheEntry, error) {
	// RFC 8725bis §3.14: only the base64url alphabet and exactly two
	// dots, which also refuses the JSON serialization and JWE's five
	// segments (RFC 8725 §3.3, RFC 7519 §1).
	dot1, dot2 := -1, -1
	for i := 0; i < len(token); i++ {
		c := token[i]
		if c == '.' {
			if dot1 < 0 {
				dot1 = i
			} else if dot2 < 0 {
				dot2 = i
			} else {
				return nil, invalid("more than 3 segments")
			}
			continue
		}
		if !isB64URL[c] {
			return nil, invalid("character outside base64url")
		}
	}
	if dot2 < 0 {
		return nil, invalid("fewer than 3 segments")
	}
	if dot1 == 0 || dot2 == dot1+1 || dot2 == len(token)-1 {
		return nil, invalid("empty segment")
	}

	var hbuf [256]byte
	hb, ok := decodeSegment(hbuf[:], token[:dot1])
	if !ok {
		return nil, invalid("header not canonical base64url")
	}
	h, reason := parseHeader(hb)
	if reason != "" {
		return nil, invalid(reason)
	}
	// kid only selects from the configured ring (RFC 8725 §3.10), and the
	// key it selects fixes the one algorithm allowed (RFC 8725 §3.1): the
	// allowlist is per key, exact and case-sensitive (RFC 8725bis §3.1).
	key, found := v.keys.VerificationKey(string(h.kid))
	if !found || key == nil {
		return nil, invalid("unknown kid")
	}
	if string(h.alg) != key.Alg {
		return nil, invalid("alg is not the key's alg")
	}
	method := signingMethod(key.Alg)
	if method == nil {
		return nil, invalid("key of an unsupported alg")
	}
	// The signature and the payload are decoded into exact-size heap
	// slices: a stack buffer would escape through the SigningMethod
	// interface anyway.
	sig, ok := decodeSegment(nil, token[dot2+1:])
	if !ok {
		return nil, invalid("signature not canonical base64url")
	}
	if err := method.Verify(token[:dot2], sig, key.Public); err != nil {
		return nil, invalid("bad signature")
	}

	payload, ok := decodeSegment(nil, token[dot1+1:dot2])
	if !ok {
		return nil, invalid("payload not canonical base64url")
	}
	c := rawClaims{audience: v.audience}
	if reason := c.parse(payload); reason != "" {
		return nil, invalid(reason)
	}
	return v.check(&c, key, now)
}

// check applies the claim rules (RFC 9068 §4, CONTRACT §3) to signed claims.
func (v *Verifier) check(c *rawClaims, key *Key, now time.Time) (*cacheEntry, error) {
	if string(c.iss) != v.issuer {
		return nil, invalid("wrong iss")
	}
	if !slices.Contains(c.aud, v.audience) {
		return nil, invalid("wrong aud")
	}
	exp, iat, nbf := numericDate(c.exp), numericDate(c.iat), numericDate(c.nbf)
	limit := now.Add(v.leeway)
	if nbf.After(limit) {
		return nil, invalid("nbf in the future")
	}
	if iat.After(limit) {
		return nil, invalid("iat in the future")
	}
	// One allocation for the three strings the claims keep.
	var sb strings.Builder
	sb.Grow(len(c.sub) + len(c.jti) + len(c.sid))
	sb.Write(c.sub)
	sb.Write(c.jti)
	sb.Write(c.sid)
	all := sb.String()
	sub, jti, sid := all[:len(c.sub)], all[len(c.sub):len(c.sub)+len(c.jti)], all[len(c.sub)+len(c.jti):]
	e := &cacheEntry{
		kid:     key.KID,
		key:     key,
		expires: exp.Add(v.leeway),
		claims: gatehouse.AccessClaims{
			Issuer:    v.issuer,
			Subject:   sub,
			Audience:  c.aud,
			ExpiresAt: exp,
			IssuedAt:  iat,
			NotBefore: nbf,
			ID:        jti,
			SessionID: sid,
			ACR:       acrString(c.acr, c.clientID != nil),
			AMR:       c.amr,
			ClientID:  string(c.clientID),
			Scope:     string(c.scope),
		},
	}
	// Checked last: "expired" is reported only for a token that is
	// otherwise entirely valid.
	if !now.Before(e.expires) {
		return nil, errExpired
	}
	return e, nil
}

// numericDate converts a NumericDate (RFC 7519 §2) already range-checked
// by rawClaims.parse.
func numericDate(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9))
}

// decodeSegment decodes one segment with the strict base64url decoder,
// which also refuses non-canonical trailing bits (what golang-jwt's
// WithStrictDecoding does; RFC 7515 §2). It uses buf when it is big enough.
func decodeSegment(buf []byte, seg string) ([]byte, bool) {
	n := b64.DecodedLen(len(seg))
	if n > len(buf) {
		buf = make([]byte, n)
	}
	n, err := b64.Decode(buf[:n], []byte(seg))
	if err != nil {
		return nil, false
	}
	return buf[:n], true
}

var isB64URL = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[c] = true
	}
	return t
}()

// header holds the JOSE header members, aliasing the decoded bytes.
type header struct{ alg, typ, kid []byte }

// parseHeader reads the JOSE header. Only alg, typ and kid are allowed,
// each once and each a string: the server is the only issuer, so anything
// else (crit, jku, jwk, x5u, x5c, cty, zip, b64, ...) is refused rather
// than ignored (SECURITY.md §2.4; RFC 7515 §4.1.11 for crit; RFC 8725
// §3.10 for key-locating members). It returns "" or a reason.
func parseHeader(b []byte) (h header, reason string) {
	r, err := newJSONReader(b)
	if err != nil {
		return h, "header not UTF-8"
	}
	if r.beginObject() != nil {
		return h, "header not a JSON object"
	}
	var seen [3]bool
	for n := 0; ; n++ {
		name, ok, err := r.member(n)
		if err != nil {
			return h, "header not strict JSON"
		}
		if !ok {
			break
		}
		var slot int
		switch string(name) {
		case "alg":
			slot = 0
		case "typ":
			slot = 1
		case "kid":
			slot = 2
		default:
			return h, "unexpected header member"
		}
		if seen[slot] {
			return h, "duplicate header member"
		}
		seen[slot] = true
		v, err := r.str()
		if err != nil {
			return h, "header member not a string"
		}
		switch slot {
		case 0:
			h.alg = v
		case 1:
			h.typ = v
		case 2:
			h.kid = v
		}
	}
	if r.end() != nil {
		return h, "header not strict JSON"
	}
	if !seen[0] || !seen[1] || !seen[2] {
		return h, "header lacks alg, typ or kid"
	}
	// RFC 9068 §2.1 and §4; media types compare case-insensitively and
	// "application/" may be omitted (RFC 7515 §4.1.9, RFC 8725bis §3.11).
	typ := h.typ
	if len(typ) > len("application/") && bytes.EqualFold(typ[:len("application/")], []byte("application/")) {
		typ = typ[len("application/"):]
	}
	if !bytes.EqualFold(typ, []byte("at+jwt")) {
		return h, "typ is not at+jwt"
	}
	return h, ""
}
