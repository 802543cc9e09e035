package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse"
)

// Tokens issues access tokens with the signer of its [KeySet] and verifies
// them against the same ring. It implements [gatehouse.AccessTokens] and is
// safe for concurrent use.
type Tokens struct {
	issuer, audience string
	keys             atomic.Pointer[KeySet]
	verifier         *Verifier
	onUnknownKID     atomic.Pointer[func()]
}

// liveKeys is the [KeyLookup] of a Tokens: whatever ring is current, and
// when a kid is not in it, the ring after [Tokens.OnUnknownKID]'s reload.
type liveKeys struct{ t *Tokens }

func (l liveKeys) VerificationKey(kid string) (*Key, bool) {
	if k, ok := l.t.keys.Load().VerificationKey(kid); ok {
		return k, true
	}
	reload := l.t.onUnknownKID.Load()
	if reload == nil {
		return nil, false
	}
	(*reload)()
	return l.t.keys.Load().VerificationKey(kid)
}

// OnUnknownKID installs reload, called (synchronously) when a token names
// a kid the current ring lacks, before the token is refused: another
// instance may already sign with a key this one has not loaded yet. reload
// must bound its own cost (rate limit, single flight): the kid comes from
// an unauthenticated header and is only ever looked up in the ring, never
// fetched (RFC 8725 §3.10).
func (t *Tokens) OnUnknownKID(reload func()) {
	if reload == nil {
		t.onUnknownKID.Store(nil)
		return
	}
	t.onUnknownKID.Store(&reload)
}

// New returns Tokens over ks. See [Config] for the defaults.
func New(cfg Config, ks *KeySet) (*Tokens, error) {
	if ks == nil {
		return nil, errors.New("token: New needs a KeySet")
	}
	t := &Tokens{issuer: cfg.Issuer, audience: cfg.Audience}
	t.keys.Store(ks)
	v, err := NewVerifier(cfg, liveKeys{t})
	if err != nil {
		return nil, err
	}
	t.verifier = v
	return t, nil
}

// SetKeys replaces the key ring atomically: tokens issued afterwards are
// signed by its signer, and tokens of keys that left the ring are refused,
// cached or not. A nil ks is ignored.
func (t *Tokens) SetKeys(ks *KeySet) {
	if ks != nil {
		t.keys.Store(ks)
	}
}

// Keys returns the current key ring.
func (t *Tokens) Keys() *KeySet { return t.keys.Load() }

// Verify checks a token as [Verifier.Verify] does, against the current ring.
func (t *Tokens) Verify(token string) (*gatehouse.AccessClaims, error) {
	return t.verifier.Verify(token)
}

// wireClaims is the payload of an access token (CONTRACT §3, RFC 9068
// §2.2). aud is a single string when there is one audience, as RFC 7519
// §4.1.3 allows and most verifiers expect.
type wireClaims struct {
	Iss      string   `json:"iss"`
	Sub      string   `json:"sub"`
	Aud      any      `json:"aud"`
	Exp      int64    `json:"exp"`
	Iat      int64    `json:"iat"`
	Nbf      int64    `json:"nbf"`
	Jti      string   `json:"jti"`
	Sid      string   `json:"sid,omitempty"`
	ClientID string   `json:"client_id,omitempty"`
	Acr      string   `json:"acr,omitempty"`
	Amr      []string `json:"amr,omitempty"`
	Scope    string   `json:"scope,omitempty"`
}

// Issue signs an access token for c with the current signer. The header is
// exactly {"alg", "typ":"at+jwt", "kid"} (RFC 9068 §2.1). Every claim is
// required, iss must be the configured issuer and aud must hold the
// configured audience, so that Issue never mints a token Verify refuses.
// Times are truncated to whole seconds.
func (t *Tokens) Issue(c *gatehouse.AccessClaims) (string, error) {
	if err := t.checkClaims(c); err != nil {
		return "", err
	}
	w := wireClaims{
		Iss: c.Issuer, Sub: c.Subject, Aud: c.Audience,
		Exp: c.ExpiresAt.Unix(), Iat: c.IssuedAt.Unix(), Nbf: c.NotBefore.Unix(),
		Jti: c.ID, Sid: c.SessionID, ClientID: c.ClientID, Acr: c.ACR, Amr: c.AMR, Scope: c.Scope,
	}
	if len(c.Audience) == 1 {
		w.Aud = c.Audience[0]
	}
	payload, err := json.Marshal(w)
	if err != nil {
		return "", fmt.Errorf("token: issue: %w", err)
	}
	ks := t.keys.Load()
	buf := make([]byte, 0, len(ks.header)+2+b64.EncodedLen(len(payload))+b64.EncodedLen(512))
	buf = append(buf, ks.header...)
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, payload)
	sig, err := ks.method.Sign(string(buf), ks.priv)
	if err != nil {
		return "", fmt.Errorf("token: issue: sign: %w", err)
	}
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig)
	return string(buf), nil
}

func (t *Tokens) checkClaims(c *gatehouse.AccessClaims) error {
	switch {
	case c == nil:
		return errors.New("token: issue: nil claims")
	case c.Issuer != t.issuer:
		return errors.New("token: issue: iss is not the configured issuer")
	case !slices.Contains(c.Audience, t.audience):
		return errors.New("token: issue: aud lacks the configured audience")
	case c.Subject == "" || c.ID == "" || slices.Contains(c.Audience, ""):
		return errors.New("token: issue: sub, jti and every aud must be non-empty")
	case (c.SessionID == "") == (c.ClientID == ""):
		// A user's token names its session; a service client's, the client.
		return errors.New("token: issue: exactly one of sid and client_id is required")
	case !validUTF8(c.Subject, c.ID, c.SessionID, c.ACR, c.ClientID, c.Scope) || !validUTF8(c.Audience...) || !validUTF8(c.AMR...):
		// encoding/json would silently replace the bad bytes (RFC 8725 §3.7).
		return errors.New("token: issue: sub, jti, sid, aud, acr and amr must be UTF-8")
	case len(c.AMR) > maxAMR || slices.Contains(c.AMR, ""):
		return errors.New("token: issue: amr holds an empty value or too many")
	case c.ExpiresAt.IsZero() || c.IssuedAt.IsZero() || c.NotBefore.IsZero():
		return errors.New("token: issue: exp, iat and nbf are required")
	case c.ExpiresAt.Unix() < 0 || c.ExpiresAt.Unix() > maxNumericDate || c.IssuedAt.Unix() < 0 || c.NotBefore.Unix() < 0:
		return errors.New("token: issue: exp, iat or nbf out of range")
	case !c.ExpiresAt.After(c.IssuedAt):
		return errors.New("token: issue: exp must be after iat")
	}
	return nil
}

func validUTF8(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

var _ gatehouse.AccessTokens = (*Tokens)(nil)
