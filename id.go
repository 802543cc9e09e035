package gatehouse

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// NewID returns a random UUIDv7 (RFC 9562): time-ordered, so that new rows
// land at the end of an index, with 74 random bits.
func NewID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	ms := uint64(time.Now().UnixMilli())
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], ms)
	copy(u[:6], ts[2:])
	u[6] = u[6]&0x0f | 0x70 // version 7
	u[8] = u[8]&0x3f | 0x80 // variant 10
	return formatUUID(u)
}

// RandomBytes returns n bytes from crypto/rand.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func formatUUID(u [16]byte) string {
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], u[10:])
	return string(buf[:])
}

var errBadUUID = errors.New("not a UUID")

func parseUUID(s string) ([16]byte, error) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, errBadUUID
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if strings.ToLower(h) != h {
		return u, errBadUUID
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, errBadUUID
	}
	return u, nil
}

// ValidID reports whether s has the form of an id made by [NewID]; lookups
// of anything else can answer "not found" without asking the database.
func ValidID(s string) bool {
	_, err := parseUUID(s)
	return err == nil
}

// MaxEmailBytes bounds an email address: RFC 5321 §4.5.3.1 limits a path
// to 256 octets, which leaves 254 for the address. Longer input is refused
// before anything is stored or hashed.
const MaxEmailBytes = 254

// CanonicalEmail returns the form an email is stored and looked up in, one
// function for registration, login and uniqueness, so that two spellings of
// one address are one account: trimmed, Unicode-normalised to NFC before
// lower-casing (a composed and a decomposed "josé" are the same address,
// UAX #15), with the domain in its ASCII (IDNA, RFC 5891) form. It returns
// an error when the address is not a plain addr-spec (no display name, no
// control characters, at most MaxEmailBytes bytes).
func CanonicalEmail(email string) (string, error) {
	e := strings.TrimSpace(email)
	if e == "" {
		return "", errors.New("is required")
	}
	// Checked before normalising, so that a megabyte costs nothing.
	if len(e) > MaxEmailBytes || !utf8.ValidString(e) {
		return "", errors.New("is not a valid email address")
	}
	e = norm.NFC.String(strings.ToLower(norm.NFC.String(e)))
	for _, r := range e {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == unicode.ReplacementChar {
			return "", errors.New("is not a valid email address")
		}
	}
	at := strings.LastIndexByte(e, '@')
	if at <= 0 || at == len(e)-1 {
		return "", errors.New("is not a valid email address")
	}
	local, domain := e[:at], e[at+1:]
	if strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", errors.New("is not a valid email address")
	}
	ascii, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return "", errors.New("is not a valid email address")
	}
	e = local + "@" + ascii
	if len(e) > MaxEmailBytes {
		return "", errors.New("is not a valid email address")
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" {
		return "", errors.New("is not a valid email address")
	}
	return e, nil
}
