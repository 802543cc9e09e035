package token

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// The fuzz keys are fixed, so that the committed corpus under
// testdata/fuzz stays meaningful: Ed25519 and HMAC are deterministic, so
// the valid tokens are the same on every run.
var (
	fuzzEd   = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	fuzzHMAC = bytes.Repeat([]byte{9}, 32)
)

const (
	fuzzPayload = `{"iss":"https://auth.example.com","sub":"u1","aud":"gatehouse-api","exp":1893553445,"iat":1893552545,"nbf":1893552545,"jti":"j1","sid":"s1","scope":"a b"}`
)

// fuzzSetup returns a verifier over the fixed keys, with its cache on, and
// the only tokens it may accept.
func fuzzSetup(tb testing.TB) (*Verifier, []string) {
	tb.Helper()
	ed, err := NewKey("fuzz-ed", EdDSA, fuzzEd.Public())
	if err != nil {
		tb.Fatal(err)
	}
	hs, err := NewKey("fuzz-hs", HS256, fuzzHMAC)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Unix(1893552545, 0) // the tokens' iat
	v, err := NewVerifier(Config{Issuer: testIssuer, Audience: testAudience, CacheSize: 64, Now: func() time.Time { return now }},
		KeyMap{ed.KID: ed, hs.KID: hs})
	if err != nil {
		tb.Fatal(err)
	}
	valid := []string{
		signRaw(tb, EdDSA, fuzzEd, `{"alg":"EdDSA","typ":"at+jwt","kid":"fuzz-ed"}`, fuzzPayload),
		signRaw(tb, HS256, fuzzHMAC, `{"alg":"HS256","typ":"at+jwt","kid":"fuzz-hs"}`, fuzzPayload),
	}
	for _, tok := range valid {
		if _, err := v.Verify(tok); err != nil { // and now cached
			tb.Fatalf("fuzz seed refused: %v", err)
		}
	}
	return v, valid
}

// FuzzVerify mutates valid tokens: Verify must never panic, must answer
// ErrTokenInvalid for every token that differs from a valid one in any
// byte (even while the originals sit in the cache), and must accept the
// valid ones with their claims.
func FuzzVerify(f *testing.F) {
	v, valid := fuzzSetup(f)
	for _, tok := range valid {
		f.Add(tok)
		h, p, s := segments(tok)
		f.Add(h + "." + p + "." + s[:len(s)-1] + "B")
		f.Add(h + "." + p + "=." + s)
		f.Add(h + "." + p)
		f.Add(tok + "." + s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(tok)
		for _, ok := range valid {
			if tok == ok {
				if err != nil || c.Subject != "u1" || c.SessionID != "s1" {
					t.Fatalf("valid token: %+v, %v", c, err)
				}
				return
			}
		}
		if err == nil {
			t.Fatalf("accepted an altered token %q: %+v", tok, c)
		}
		if !errors.Is(err, gatehouse.ErrTokenInvalid) || errors.Is(err, gatehouse.ErrTokenExpired) {
			t.Fatalf("altered token: %v, want only ErrTokenInvalid", err)
		}
	})
}

// FuzzClaims compares the strict claims reader with encoding/json: what
// the reader accepts must be valid JSON that encoding/json reads to the
// same values, so no other parser can see other claims in a token we
// accept.
func FuzzClaims(f *testing.F) {
	f.Add([]byte(fuzzPayload))
	f.Add([]byte(`{"iss":"a","sub":"\u00e9\ud83d\ude00","aud":["x","y"],"exp":1.5e9,"iat":0,"nbf":-0,"jti":"\"","sid":"\\","z":[{"a":null}]}`))
	f.Add([]byte(`{"sub":"a","sub":"b"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c rawClaims
		if c.parse(b) != "" {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("accepted what encoding/json refuses (%v): %q", err, b)
		}
		for name, got := range map[string][]byte{"iss": c.iss, "sub": c.sub, "jti": c.jti, "sid": c.sid} {
			if m[name] != string(got) {
				t.Fatalf("%s: reader %q, encoding/json %q", name, got, m[name])
			}
		}
		for name, got := range map[string]float64{"exp": c.exp, "iat": c.iat, "nbf": c.nbf} {
			if m[name] != got {
				t.Fatalf("%s: reader %v, encoding/json %v", name, got, m[name])
			}
		}
		var aud []any
		switch a := m["aud"].(type) {
		case string:
			aud = []any{a}
		case []any:
			aud = a
		}
		if len(aud) != len(c.aud) {
			t.Fatalf("aud: reader %q, encoding/json %v", c.aud, m["aud"])
		}
		for i := range aud {
			if aud[i] != string(c.aud[i]) {
				t.Fatalf("aud: reader %q, encoding/json %v", c.aud, m["aud"])
			}
		}
	})
}

// FuzzParseJWKS checks that ParseJWKS never panics and that what it reads
// is JSON.
func FuzzParseJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"a","alg":"EdDSA","use":"sig"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"b","alg":"RS256"}],"x":[1,{"y":"\u0041"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := ParseJWKS(b)
		if err == nil && !json.Valid(b) {
			t.Fatalf("read invalid JSON %q", b)
		}
		for _, k := range keys {
			if k == nil || k.KID == "" || signingMethod(k.Alg) == nil || k.Alg == HS256 {
				t.Fatalf("unusable key %+v", k)
			}
		}
	})
}
