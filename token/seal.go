package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
)

// MinSecretSize is the shortest --key-secret (and HS256 secret) accepted:
// 256 bits, the strength of the keys derived from it (RFC 7518 §3.2 asks an
// HMAC key to be at least as long as the hash output).
const MinSecretSize = 32

// ErrWrongKeySecret means sealed data was sealed under another key secret.
var ErrWrongKeySecret = errors.New("sealed under another key secret")

// errSealedCorrupt means the secret is right but the sealed bytes, or the
// additional data they are bound to, were altered.
var errSealedCorrupt = errors.New("sealed data altered or bound to other data")

// DeriveKey derives a 32-byte key for one purpose ("seal", "refresh") from
// the key secret with HKDF-SHA256 (RFC 5869). Each purpose gets an
// independent key, so the refresh-token MAC key and the key that seals
// private keys never coincide (NIST SP 800-108: one key, one purpose).
func DeriveKey(keySecret []byte, purpose string) []byte {
	key, err := hkdf.Key(sha256.New, keySecret, nil, "gatehouse/v1/"+purpose, 32)
	if err != nil {
		// Only an output longer than 255 hash blocks fails.
		panic("token: hkdf: " + err.Error())
	}
	return key
}

// Sealer encrypts private signing keys at rest with AES-256-GCM under
// DeriveKey(secret, "seal"), so that a database dump cannot mint tokens
// (CONTRACT §3). It is safe for concurrent use.
//
// A sealed value is version (1 byte) ‖ key check (8 bytes) ‖ nonce (12
// bytes) ‖ ciphertext and tag. The key check, derived separately from the
// secret, lets Open tell a wrong secret from altered data; the random
// 96-bit nonce is safe for far more keys than a key ring ever holds (NIST
// SP 800-38D §8.3).
type Sealer struct {
	aead  cipher.AEAD
	check [8]byte
}

const (
	sealVersion  = 1
	sealOverhead = 1 + 8 // version and key check, before the AEAD's own
)

// NewSealer returns a Sealer keyed by keySecret, which must hold at least
// [MinSecretSize] bytes.
func NewSealer(keySecret []byte) (*Sealer, error) {
	if len(keySecret) < MinSecretSize {
		return nil, fmt.Errorf("token: key secret: need at least %d bytes", MinSecretSize)
	}
	block, err := aes.NewCipher(DeriveKey(keySecret, "seal"))
	if err != nil {
		return nil, fmt.Errorf("token: sealer: %w", err)
	}
	// NewGCMWithRandomNonce draws and prepends a fresh nonce on every Seal.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("token: sealer: %w", err)
	}
	s := &Sealer{aead: aead}
	copy(s.check[:], DeriveKey(keySecret, "seal-check"))
	return s, nil
}

// Seal encrypts plaintext and binds it to additionalData (for signing
// keys, the kid), which Open must be given again.
func (s *Sealer) Seal(plaintext, additionalData []byte) []byte {
	out := make([]byte, 0, sealOverhead+s.aead.Overhead()+len(plaintext))
	out = append(out, sealVersion)
	out = append(out, s.check[:]...)
	return s.aead.Seal(out, nil, plaintext, additionalData)
}

// Open decrypts what Seal returned. The error wraps [ErrWrongKeySecret]
// when the value was sealed under another secret; any other error means the
// value was altered or is bound to other additional data.
func (s *Sealer) Open(sealed, additionalData []byte) ([]byte, error) {
	if len(sealed) < sealOverhead+s.aead.Overhead() || sealed[0] != sealVersion {
		return nil, fmt.Errorf("token: open: %w", errSealedCorrupt)
	}
	if subtle.ConstantTimeCompare(sealed[1:sealOverhead], s.check[:]) != 1 {
		return nil, fmt.Errorf("token: open: %w", ErrWrongKeySecret)
	}
	plain, err := s.aead.Open(nil, nil, sealed[sealOverhead:], additionalData)
	if err != nil {
		return nil, fmt.Errorf("token: open: %w", errSealedCorrupt)
	}
	return plain, nil
}
