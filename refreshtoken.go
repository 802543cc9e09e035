package gatehouse

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// RefreshTokenPrefix starts every refresh token, so that one sent where an
// access token is expected fails fast and is easy to spot (RFC 8725 §3.12:
// refresh and access tokens must never be mistaken for each other).
const RefreshTokenPrefix = "gate_rt_"

const (
	refreshMACSize  = 32
	refreshBodySize = 16 + 8 + refreshMACSize // session id, generation, MAC
)

// RefreshTokenCodec makes and reads refresh tokens.
//
// A refresh token is RefreshTokenPrefix + base64url(session id ‖ generation ‖
// MAC), where MAC = HMAC-SHA256(key, label ‖ session id ‖ generation ‖
// session secret). The key is derived from --key-secret and never stored in
// the database, so a dump yields no usable token (CONTRACT §3), and the MAC
// protects the session id carried inside the token (RFC 9700 §4.14.2).
// Tokens are 256-bit unguessable (RFC 6749 §10.10).
type RefreshTokenCodec struct {
	key []byte
}

// NewRefreshTokenCodec returns a codec keyed by key (at least 32 bytes).
func NewRefreshTokenCodec(key []byte) (*RefreshTokenCodec, error) {
	if len(key) < 32 {
		return nil, errors.New("refresh token key: need at least 32 bytes")
	}
	return &RefreshTokenCodec{key: append([]byte(nil), key...)}, nil
}

// Encode returns the refresh token of a session's generation.
func (c *RefreshTokenCodec) Encode(s *Session, generation int64) (string, error) {
	id, err := parseUUID(s.ID)
	if err != nil {
		return "", fmt.Errorf("refresh token: session id: %w", err)
	}
	var body [refreshBodySize]byte
	copy(body[:16], id[:])
	binary.BigEndian.PutUint64(body[16:24], uint64(generation))
	copy(body[24:], c.mac(body[:24], s.Secret))
	return RefreshTokenPrefix + base64.RawURLEncoding.EncodeToString(body[:]), nil
}

// ParsedRefreshToken is a token whose shape is right; its MAC is checked by
// [RefreshTokenCodec.Verify] once the session is loaded.
type ParsedRefreshToken struct {
	SessionID  string
	Generation int64
	body       []byte
}

// Parse checks the shape of a token. It returns ErrRefreshTokenInvalid for
// anything that is not a token of this format.
func (c *RefreshTokenCodec) Parse(token string) (*ParsedRefreshToken, error) {
	rest, ok := strings.CutPrefix(token, RefreshTokenPrefix)
	if !ok || len(rest) != base64.RawURLEncoding.EncodedLen(refreshBodySize) {
		return nil, ErrRefreshTokenInvalid
	}
	body, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	if err != nil || len(body) != refreshBodySize {
		return nil, ErrRefreshTokenInvalid
	}
	gen := binary.BigEndian.Uint64(body[16:24])
	if gen == 0 || gen > 1<<62 {
		return nil, ErrRefreshTokenInvalid
	}
	var id [16]byte
	copy(id[:], body[:16])
	return &ParsedRefreshToken{SessionID: formatUUID(id), Generation: int64(gen), body: body}, nil
}

// Verify reports whether the parsed token was made for session s.
// The comparison is constant-time.
func (c *RefreshTokenCodec) Verify(t *ParsedRefreshToken, s *Session) bool {
	return t.SessionID == s.ID && c.macValid(t, s.Secret)
}

// macValid reports whether the token's MAC is right for a session secret
// (a cached one: the secret of the session the token names).
func (c *RefreshTokenCodec) macValid(t *ParsedRefreshToken, secret []byte) bool {
	return hmac.Equal(t.body[24:], c.mac(t.body[:24], secret))
}

func (c *RefreshTokenCodec) mac(idAndGeneration, secret []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("gatehouse refresh token v1\x00"))
	m.Write(idAndGeneration)
	m.Write(secret)
	return m.Sum(nil)
}
