package token

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse"
)

// KeySet is an immutable snapshot of the key ring: the key that signs and
// every key whose tokens may still be live. It is safe for concurrent use;
// a new ring is a new KeySet (see [Tokens.SetKeys]).
type KeySet struct {
	keys   map[string]*Key
	order  []*Key // newest first, for the JWKS
	signer *Key
	priv   any // private half of signer, as golang-jwt's Sign takes it
	method jwt.SigningMethod
	header string // base64url of the signer's JOSE header
	jwks   []byte
}

// NewKeySet builds the key ring from the stored keys.
//
// It keeps keys not retired, and retired keys while a token they signed may
// still be live (RetiredAt + maxTokenLife > now), so that a rotation never
// invalidates a token early and the JWKS stays minimal (RFC 9068 §5). Every
// kept key is opened with s, which proves it was sealed under our key
// secret: a row written into the database without the secret cannot plant
// a verification key. Its kid must be its RFC 7638 thumbprint and its
// sealed private half must match its public half.
//
// The signer is the newest non-retired stored key, unless hmacSecret is
// non-nil: then HS256 with that secret (at least [MinSecretSize] bytes)
// signs, under a kid derived from a hash of the secret, and verifies too;
// it is never published in the JWKS.
func NewKeySet(stored []gatehouse.SigningKey, s *Sealer, hmacSecret []byte, now time.Time, maxTokenLife time.Duration) (*KeySet, error) {
	if maxTokenLife < 0 {
		return nil, errors.New("token: key set: negative token lifetime")
	}
	sorted := slices.Clone(stored)
	slices.SortStableFunc(sorted, func(a, b gatehouse.SigningKey) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmpString(b.KID, a.KID)
	})
	ks := &KeySet{keys: make(map[string]*Key, len(sorted)+1)}
	for i := range sorted {
		sk := &sorted[i]
		retired := !sk.RetiredAt.IsZero()
		if retired && !sk.RetiredAt.Add(maxTokenLife).After(now) {
			continue // its last token has expired
		}
		if _, dup := ks.keys[sk.KID]; dup {
			return nil, fmt.Errorf("token: key set: kid %s stored twice", sk.KID)
		}
		key, priv, err := openStored(sk, s)
		if err != nil {
			return nil, err
		}
		ks.keys[key.KID] = key
		ks.order = append(ks.order, key)
		if !retired && ks.signer == nil && hmacSecret == nil {
			ks.signer, ks.priv = key, priv
		}
	}
	if hmacSecret != nil {
		secret := bytes.Clone(hmacSecret)
		key, err := NewKey(hmacKID(secret), HS256, secret)
		if err != nil {
			return nil, err
		}
		if _, dup := ks.keys[key.KID]; dup {
			return nil, fmt.Errorf("token: key set: kid %s stored twice", key.KID)
		}
		ks.keys[key.KID] = key
		ks.signer, ks.priv = key, secret
	}
	if ks.signer == nil {
		return nil, errors.New("token: key set: no signing key (every stored key is retired)")
	}
	ks.method = signingMethod(ks.signer.Alg)
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		KID string `json:"kid"`
	}{ks.signer.Alg, "at+jwt", ks.signer.KID})
	if err != nil {
		return nil, fmt.Errorf("token: key set: %w", err)
	}
	ks.header = b64.EncodeToString(h)
	if ks.jwks, err = marshalJWKS(ks.order); err != nil {
		return nil, err
	}
	return ks, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// openStored checks one stored key and returns it with its private half.
func openStored(sk *gatehouse.SigningKey, s *Sealer) (*Key, crypto.Signer, error) {
	if sk.Alg == HS256 || signingMethod(sk.Alg) == nil {
		return nil, nil, fmt.Errorf("token: stored key %s: unsupported alg %q", sk.KID, sk.Alg)
	}
	if s == nil {
		return nil, nil, errors.New("token: key set: stored keys need a sealer")
	}
	pub, err := x509.ParsePKIXPublicKey(sk.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("token: stored key %s: public key: %w", sk.KID, err)
	}
	key, err := NewKey(sk.KID, sk.Alg, pub)
	if err != nil {
		return nil, nil, err
	}
	if tp, err := Thumbprint(pub); err != nil || tp != sk.KID {
		return nil, nil, fmt.Errorf("token: stored key %s: kid is not the key's thumbprint", sk.KID)
	}
	pkcs8, err := s.Open(sk.SealedPrivate, []byte(sk.KID))
	if err != nil {
		return nil, nil, fmt.Errorf("token: stored key %s: %w", sk.KID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(pkcs8)
	clear(pkcs8)
	if err != nil {
		return nil, nil, fmt.Errorf("token: stored key %s: private key does not parse", sk.KID)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("token: stored key %s: private key cannot sign", sk.KID)
	}
	eq, ok := priv.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !eq.Equal(pub) {
		return nil, nil, fmt.Errorf("token: stored key %s: private and public halves differ", sk.KID)
	}
	return key, priv, nil
}

// VerificationKey returns the key named kid, if the ring holds it.
func (ks *KeySet) VerificationKey(kid string) (*Key, bool) {
	k, ok := ks.keys[kid]
	return k, ok
}

// SignerAlg returns the algorithm new tokens are signed with.
func (ks *KeySet) SignerAlg() string { return ks.signer.Alg }

// SignerKID returns the kid of the key new tokens are signed with.
func (ks *KeySet) SignerKID() string { return ks.signer.KID }

// Len returns how many verification keys the ring holds.
func (ks *KeySet) Len() int { return len(ks.keys) }

// JWKS returns the public keys as an RFC 7517 JWK Set, newest first: each
// with kty, crv and x (and y) or n and e, kid, alg and use "sig". Private
// parts and HMAC secrets are never published. The caller may keep or
// change the returned slice.
func (ks *KeySet) JWKS() []byte { return bytes.Clone(ks.jwks) }
