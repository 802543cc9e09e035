package token

import (
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// The strict claims reader: what a token's payload must hold, read without
// encoding/json's leniencies (RFC 8725 §3.7, SECURITY.md §10).

// Bits of rawClaims.seen.
const (
	seenIss = 1 << iota
	seenSub
	seenAud
	seenExp
	seenIat
	seenNbf
	seenJti
	seenAll = 1<<iota - 1 // every claim every token carries
	// A user's token carries sid, a service client's client_id instead
	// (CONTRACT §10): exactly one of the two.
	seenSid      = seenAll + 1
	seenClientID = seenSid << 1
	// acr and amr are optional (CONTRACT §8): a token minted before second
	// factors existed has neither, and reads as aal1. scope is a service
	// client's (RFC 9068 §2.2.3).
	seenAcr   = seenClientID << 1
	seenAmr   = seenAcr << 1
	seenScope = seenAmr << 1
)

// rawClaims are the claims as read, before the rules are applied. The
// byte slices alias the decoded payload; aud is converted at once, reusing
// the configured audience's string when it matches.
type rawClaims struct {
	audience           string // the configured one
	iss, sub, jti, sid []byte
	acr, clientID      []byte
	scope              []byte
	aud, amr           []string
	exp, iat, nbf      float64
	seen               int
}

var claimNames = [...]string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "client_id", "acr", "amr", "scope"}

// maxNumericDate is 9999-12-31T23:59:59Z: later values overflow time
// arithmetic and no real token carries them.
const maxNumericDate = 253402300799

// parse reads the claims strictly: exact, case-sensitive names, no
// duplicates, valid UTF-8 (RFC 8725 §3.7), the JSON type each claim must
// have, and all of iss, sub, aud, exp, iat, nbf, jti and sid present
// (CONTRACT §3). Unknown claims are skipped, except names that differ from
// a known claim only in case: encoding/json would fold those onto the real
// claim (SECURITY.md §10), so another verifier could read them differently.
// It returns "" or a reason.
func (c *rawClaims) parse(b []byte) string {
	r, err := newJSONReader(b)
	if err != nil {
		return "claims not UTF-8"
	}
	if r.beginObject() != nil {
		return "claims not a JSON object"
	}
	var others []string
	for n := 0; ; n++ {
		name, ok, err := r.member(n)
		if err != nil {
			return "claims not strict JSON"
		}
		if !ok {
			break
		}
		bit := 0
		for i, known := range claimNames {
			if string(name) == known {
				bit = 1 << i
				break
			}
		}
		if bit == 0 {
			for _, known := range claimNames {
				if strings.EqualFold(string(name), known) {
					return "claim name differs from a registered one only in case"
				}
			}
			if slices.Contains(others, string(name)) {
				return "duplicate claim"
			}
			others = append(others, string(name))
			if r.skip() != nil {
				return "claims not strict JSON"
			}
			continue
		}
		if c.seen&bit != 0 {
			return "duplicate claim"
		}
		c.seen |= bit
		if reason := c.value(&r, bit); reason != "" {
			return reason
		}
	}
	if r.end() != nil {
		return "claims not strict JSON"
	}
	if c.seen&seenAll != seenAll || c.seen&(seenSid|seenClientID) == 0 {
		return "a required claim is missing"
	}
	if c.seen&seenSid != 0 && c.seen&seenClientID != 0 {
		return "sid and client_id together"
	}
	return ""
}

func (c *rawClaims) audString(s []byte) string {
	if string(s) == c.audience {
		return c.audience
	}
	return string(s)
}

// value reads the value of one registered claim.
func (c *rawClaims) value(r *jsonReader, bit int) string {
	switch bit {
	case seenExp, seenIat, seenNbf:
		if p := r.peek(); p != '-' && (p < '0' || p > '9') {
			return "exp, iat or nbf is not a number"
		}
		f, err := r.number()
		if err != nil {
			return "claims not strict JSON"
		}
		if f < 0 || f > maxNumericDate {
			return "exp, iat or nbf out of range"
		}
		switch bit {
		case seenExp:
			c.exp = f
		case seenIat:
			c.iat = f
		default:
			c.nbf = f
		}
	case seenAmr:
		// An array of strings (RFC 8176 §1, OpenID Connect Core §2).
		if r.beginArray() != nil {
			return "amr is not an array of strings"
		}
		c.amr = []string{} // present, even when empty
		return eachString(r, "amr is not an array of strings", func(s []byte) string {
			if len(c.amr) == maxAMR {
				return "amr has too many values"
			}
			c.amr = append(c.amr, amrString(s))
			return ""
		})
	case seenAud:
		// A string or an array of strings (RFC 7519 §4.1.3).
		switch r.peek() {
		case '"':
			s, err := r.str()
			if err != nil {
				return "claims not strict JSON"
			}
			c.aud = append(c.aud, c.audString(s))
		case '[':
			_ = r.beginArray()
			return eachString(r, "aud is not a string or an array of strings", func(s []byte) string {
				c.aud = append(c.aud, c.audString(s))
				return ""
			})
		default:
			return "aud is not a string or an array of strings"
		}
	default:
		if r.peek() != '"' {
			return "a string claim is not a string"
		}
		s, err := r.str()
		if err != nil {
			return "claims not strict JSON"
		}
		if len(s) == 0 {
			return "a string claim is empty"
		}
		switch bit {
		case seenAcr:
			c.acr = s
		case seenClientID:
			c.clientID = s
		case seenScope:
			c.scope = s
		case seenIss:
			c.iss = s
		case seenSub:
			c.sub = s
		case seenJti:
			c.jti = s
		default:
			c.sid = s
		}
	}
	return ""
}

// eachString reads the elements of the JSON array r is in, each of which
// must be a string (notString otherwise), and hands each to add, which may
// refuse it with a reason. It returns "" or a reason.
func eachString(r *jsonReader, notString string, add func([]byte) string) string {
	for n := 0; ; n++ {
		ok, err := r.element(n)
		if err != nil {
			return "claims not strict JSON"
		}
		if !ok {
			return ""
		}
		if r.peek() != '"' {
			return notString
		}
		s, err := r.str()
		if err != nil {
			return "claims not strict JSON"
		}
		if reason := add(s); reason != "" {
			return reason
		}
	}
}

// maxAMR bounds the amr array: RFC 8176 defines about twenty values, and a
// token is at most 8 KiB anyway.
const maxAMR = 16

// acrString returns acr as a string, without an allocation for the levels
// Gatehouse issues; an absent acr is aal1 for a user's token, and nothing
// for a service client's, which no user authenticated.
func acrString(b []byte, client bool) string {
	if len(b) == 0 && client {
		return ""
	}
	switch string(b) {
	case "", gatehouse.AAL1:
		return gatehouse.AAL1
	case gatehouse.AAL2:
		return gatehouse.AAL2
	}
	return string(b)
}

// amrString returns an amr value as a string, without an allocation for
// the values Gatehouse issues.
func amrString(b []byte) string {
	for _, v := range [...]string{gatehouse.AMRPassword, gatehouse.AMROTP, gatehouse.AMRHardwareKey, gatehouse.AMRMultiFactor} {
		if string(b) == v {
			return v
		}
	}
	return string(b)
}
