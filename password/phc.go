package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// phc is a parsed argon2id hash in the PHC string format, the one the
// reference implementation (RFC 9106 §7 points to it) writes:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// with salt and key in standard base64 without padding. Storing the
// parameters beside the hash lets them be raised later and old hashes be
// upgraded at the next login (OWASP Password Storage CS).
type phc struct {
	params Params // SaltLen and KeyLen are those of salt and key
	salt   []byte
	key    []byte
}

// b64 is the PHC format's base64: standard alphabet, no padding, and
// (Strict) no stray bits in the last character, so that each salt and key
// has exactly one spelling.
var b64 = base64.RawStdEncoding.Strict()

// maxPHCLen bounds the input before any work: the longest valid string
// (maximal parameters, 64-byte salt, 128-byte key) is under 300 bytes.
const maxPHCLen = 512

// Errors of parsePHC. They never quote the input: a stored hash is a
// secret of sorts and has no business in logs.
var (
	errNotArgon2id = errors.New("not an argon2id PHC string")
	errVersion     = errors.New("unsupported argon2 version (want v=19)")
	errParams      = errors.New("malformed parameters (want m=<KiB>,t=<passes>,p=<lanes>)")
	errBase64      = errors.New("salt or key is not unpadded standard base64")
)

func (p *phc) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.params.Memory, p.params.Time, p.params.Threads,
		b64.EncodeToString(p.salt), b64.EncodeToString(p.key))
}

// parsePHC parses s strictly: exactly the fields above, in that order,
// decimal numbers without sign or leading zeros, canonical base64, and
// parameters within the limits of [Params.validate], so that a tampered
// row can neither crash nor exhaust the server. It never panics.
func parsePHC(s string) (*phc, error) {
	if len(s) > maxPHCLen {
		return nil, errNotArgon2id
	}
	fields := strings.Split(s, "$")
	if len(fields) != 6 || fields[0] != "" || fields[1] != "argon2id" {
		return nil, errNotArgon2id
	}
	// Only version 0x13 exists in x/crypto; 0x10 (no v= field in the
	// reference implementation) gives different keys.
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, errVersion
	}
	var p phc
	ps := strings.Split(fields[3], ",")
	if len(ps) != 3 {
		return nil, errParams
	}
	m, okM := decimal(ps[0], "m=")
	t, okT := decimal(ps[1], "t=")
	lanes, okP := decimal(ps[2], "p=")
	if !okM || !okT || !okP || lanes > 255 {
		return nil, errParams
	}
	p.params.Memory, p.params.Time, p.params.Threads = m, t, uint8(lanes)

	var ok bool
	if p.salt, ok = decodeB64(fields[4]); !ok {
		return nil, errBase64
	}
	if p.key, ok = decodeB64(fields[5]); !ok {
		return nil, errBase64
	}
	p.params.SaltLen, p.params.KeyLen = uint32(len(p.salt)), uint32(len(p.key))
	if err := p.params.Validate(); err != nil {
		return nil, fmt.Errorf("parameters out of range: %w", err)
	}
	return &p, nil
}

// decimal parses "<prefix><digits>" into a uint32: ASCII digits only, no
// sign, no leading zero, no overflow.
func decimal(s, prefix string) (uint32, bool) {
	digits, ok := strings.CutPrefix(s, prefix)
	if !ok || digits == "" || len(digits) > 10 || (digits[0] == '0' && len(digits) > 1) {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(n), true
}

// decodeB64 decodes s, refusing what encoding/base64 would let through:
// it skips '\r' and '\n', which are not part of the PHC alphabet.
func decodeB64(s string) ([]byte, bool) {
	if s == "" || strings.ContainsAny(s, "\r\n") {
		return nil, false
	}
	b, err := b64.DecodeString(s)
	return b, err == nil
}
