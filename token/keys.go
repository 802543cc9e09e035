package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse"
)

// The signature algorithms Gatehouse signs and verifies (RFC 7518 §3.1,
// RFC 8037 §3.1). EdDSA is the default (SECURITY.md O1); RS256 is the one
// RFC 9068 §2.1 requires every resource server to support.
const (
	EdDSA = "EdDSA"
	ES256 = "ES256"
	RS256 = "RS256"
	HS256 = "HS256"
)

// RSAKeyBits is the size of generated RSA keys: 3072 bits for 128-bit
// security (OWASP ASVS 5.0 11.2.3, NIST SP 800-57 Part 1 Table 2).
const RSAKeyBits = 3072

// minRSABits is the smallest RSA key accepted for verification (keys from a
// remote JWKS included): below 2048 bits is disallowed by NIST SP 800-131A.
const minRSABits = 2048

var b64 = base64.RawURLEncoding.Strict()

// Key is one verification key bound to exactly one algorithm (RFC 8725
// §3.1): a token verifies with it only when its header alg equals Alg.
// Public is an ed25519.PublicKey (EdDSA), an *ecdsa.PublicKey on P-256
// (ES256), an *rsa.PublicKey (RS256) or the HMAC secret as []byte (HS256).
// Treat a Key as immutable once built.
type Key struct {
	KID    string
	Alg    string
	Public crypto.PublicKey
}

// KeyLookup finds a verification key by kid. [KeySet] implements it, and
// so will a cache of a remote JWKS: the [Verifier] does not care where keys
// come from, only that kid selects from a configured set and never from
// the token itself (RFC 8725 §3.10: no jku, jwk, x5u or x5c).
// Implementations must be safe for concurrent use, and should return the
// same *Key for as long as a key is unchanged: the verified-token cache
// drops an entry whose kid now yields another *Key.
type KeyLookup interface {
	VerificationKey(kid string) (*Key, bool)
}

// KeyMap is a fixed [KeyLookup], for keys from [ParseJWKS].
type KeyMap map[string]*Key

// VerificationKey returns the key named kid.
func (m KeyMap) VerificationKey(kid string) (*Key, bool) {
	k, ok := m[kid]
	return k, ok
}

// NewKey checks that public suits alg and returns the [Key]: Ed25519 for
// EdDSA, P-256 for ES256, RSA of at least 2048 bits for RS256, a secret of
// at least [MinSecretSize] bytes for HS256.
func NewKey(kid, alg string, public crypto.PublicKey) (*Key, error) {
	if kid == "" {
		return nil, errors.New("token: key: empty kid")
	}
	switch alg {
	case EdDSA:
		pub, ok := public.(ed25519.PublicKey)
		if !ok || len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("token: key %s: EdDSA needs an Ed25519 public key", kid)
		}
	case ES256:
		pub, ok := public.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() {
			return nil, fmt.Errorf("token: key %s: ES256 needs a P-256 public key", kid)
		}
	case RS256:
		pub, ok := public.(*rsa.PublicKey)
		if !ok || pub.N == nil || pub.N.BitLen() < minRSABits || pub.E < 3 || pub.E%2 == 0 {
			return nil, fmt.Errorf("token: key %s: RS256 needs an RSA public key of at least %d bits", kid, minRSABits)
		}
	case HS256:
		secret, ok := public.([]byte)
		if !ok || len(secret) < MinSecretSize {
			return nil, fmt.Errorf("token: key %s: HS256 needs a secret of at least %d bytes", kid, MinSecretSize)
		}
	default:
		return nil, fmt.Errorf("token: key %s: unsupported alg %q", kid, alg)
	}
	return &Key{KID: kid, Alg: alg, Public: public}, nil
}

// signingMethod returns golang-jwt's implementation of alg, which does the
// signature arithmetic; nil for anything else ("none" included, RFC 9068 §4).
func signingMethod(alg string) jwt.SigningMethod {
	switch alg {
	case EdDSA:
		return jwt.SigningMethodEdDSA
	case ES256:
		return jwt.SigningMethodES256
	case RS256:
		return jwt.SigningMethodRS256
	case HS256:
		return jwt.SigningMethodHS256
	}
	return nil
}

// GenerateKey makes a new signing key: EdDSA = Ed25519, ES256 = P-256,
// RS256 = RSA 3072 (OWASP ASVS 5.0 11.2.3). The kid is the key's RFC 7638
// JWK thumbprint, so that it names the key material and nothing else;
// SealedPrivate is the PKCS#8 private key sealed by s with the kid as
// additional data, so that a sealed key cannot be passed off under another
// kid; PublicKey is PKIX DER.
func GenerateKey(alg string, s *Sealer, now time.Time) (*gatehouse.SigningKey, error) {
	if s == nil {
		return nil, errors.New("token: generate key: no sealer")
	}
	var priv crypto.Signer
	var err error
	switch alg {
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, RSAKeyBits)
	case HS256:
		return nil, errors.New("token: generate key: HS256 signs with the configured HMAC secret")
	default:
		return nil, fmt.Errorf("token: generate key: unsupported alg %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("token: generate %s key: %w", alg, err)
	}
	kid, err := Thumbprint(priv.Public())
	if err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("token: generate key: %w", err)
	}
	pkix, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, fmt.Errorf("token: generate key: %w", err)
	}
	return &gatehouse.SigningKey{
		KID:           kid,
		Alg:           alg,
		PublicKey:     pkix,
		SealedPrivate: s.Seal(pkcs8, []byte(kid)),
		CreatedAt:     now,
	}, nil
}

// Thumbprint returns the RFC 7638 JWK thumbprint of a public key, base64url
// without padding: SHA-256 over the key's required JWK members, in
// lexicographic order, without white space (RFC 7638 §3.2, RFC 8037 §2).
func Thumbprint(public crypto.PublicKey) (string, error) {
	var canonical string
	switch pub := public.(type) {
	case ed25519.PublicKey:
		canonical = `{"crv":"Ed25519","kty":"OKP","x":"` + b64.EncodeToString(pub) + `"}`
	case *ecdsa.PublicKey:
		x, y, err := ecPoint(pub)
		if err != nil {
			return "", err
		}
		canonical = `{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`
	case *rsa.PublicKey:
		canonical = `{"e":"` + rsaExponent(pub.E) + `","kty":"RSA","n":"` + b64.EncodeToString(pub.N.Bytes()) + `"}`
	default:
		return "", fmt.Errorf("token: thumbprint: unsupported key type %T", public)
	}
	sum := sha256.Sum256([]byte(canonical))
	return b64.EncodeToString(sum[:]), nil
}

// ecPoint returns the base64url x and y coordinates of a P-256 key, each
// the full 32 bytes long (RFC 7518 §6.2.1.2).
func ecPoint(pub *ecdsa.PublicKey) (x, y string, err error) {
	if pub.Curve != elliptic.P256() {
		return "", "", errors.New("token: only P-256 EC keys are supported")
	}
	raw, err := pub.Bytes() // 0x04 ‖ X ‖ Y
	if err != nil {
		return "", "", fmt.Errorf("token: EC key: %w", err)
	}
	return b64.EncodeToString(raw[1:33]), b64.EncodeToString(raw[33:65]), nil
}

// rsaExponent encodes e in the fewest big-endian bytes (RFC 7518 §6.3.1.2).
func rsaExponent(e int) string {
	return b64.EncodeToString(big.NewInt(int64(e)).Bytes())
}

// hmacKID names an HS256 secret without revealing it: a domain-separated
// SHA-256 of the secret, truncated. A token's MAC already lets anyone test
// guesses of the secret offline, so the kid discloses nothing more; the
// secret must be random (RFC 8725 §3.5).
func hmacKID(secret []byte) string {
	h := sha256.New()
	h.Write([]byte("gatehouse hs256 kid\x00"))
	h.Write(secret)
	return "hs256-" + b64.EncodeToString(h.Sum(nil)[:16])
}
