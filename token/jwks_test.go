package token

import (
	"crypto"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

func TestJWKS(t *testing.T) {
	ks := ringOf(t, EdDSA) // EdDSA signs; ES256 and RS256 retired but live
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(ks.JWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 3 {
		t.Fatalf("%d keys, want 3", len(doc.Keys))
	}
	want := map[string][]string{
		EdDSA: {"kty", "crv", "x", "kid", "alg", "use"},
		ES256: {"kty", "crv", "x", "y", "kid", "alg", "use"},
		RS256: {"kty", "n", "e", "kid", "alg", "use"},
	}
	for _, k := range doc.Keys {
		alg, _ := k["alg"].(string)
		members := want[alg]
		if members == nil || len(k) != len(members) {
			t.Fatalf("key %v: members %v", k, members)
		}
		for _, m := range members {
			if s, ok := k[m].(string); !ok || s == "" {
				t.Fatalf("key %s: member %s missing", alg, m)
			}
		}
		if k["use"] != "sig" {
			t.Fatalf("use %v", k["use"])
		}
	}
	if doc.Keys[0]["kid"] != ks.SignerKID() {
		t.Fatal("the signer is not listed first (newest first)")
	}
	j := ks.JWKS()
	j[0] = 'X'
	if ks.JWKS()[0] != '{' {
		t.Fatal("JWKS returns the ring's own buffer")
	}
}

// TestJWKSRoundTrip publishes a ring and verifies its tokens with keys
// read back by ParseJWKS, as a resource server would.
func TestJWKSRoundTrip(t *testing.T) {
	for _, alg := range []string{EdDSA, ES256, RS256} {
		t.Run(alg, func(t *testing.T) {
			ts, clk := newTokens(t, alg, -1)
			keys, err := ParseJWKS(ts.Keys().JWKS())
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 3 {
				t.Fatalf("%d keys", len(keys))
			}
			m := KeyMap{}
			for _, k := range keys {
				orig, ok := ts.Keys().VerificationKey(k.KID)
				if !ok || orig.Alg != k.Alg {
					t.Fatalf("key %s (%s) not in the ring", k.KID, k.Alg)
				}
				if !orig.Public.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public) {
					t.Fatalf("key %s differs after the round trip", k.KID)
				}
				m[k.KID] = k
			}
			v, err := NewVerifier(Config{Issuer: testIssuer, Audience: testAudience, Now: clk.now}, m)
			if err != nil {
				t.Fatal(err)
			}
			c, err := v.Verify(mustIssue(t, ts, testClaims(testStart)))
			if err != nil || c.Subject != testClaims(testStart).Subject {
				t.Fatalf("%+v, %v", c, err)
			}
		})
	}
}

func TestParseJWKS(t *testing.T) {
	ks := ringOf(t, EdDSA)
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(ks.JWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	byAlg := map[string]map[string]any{}
	for _, k := range doc.Keys {
		byAlg[k["alg"].(string)] = k
	}
	// key returns a published key as JSON with members changed (nil
	// deletes one).
	key := func(alg string, change map[string]any) string {
		k := map[string]any{}
		for n, v := range byAlg[alg] {
			k[n] = v
		}
		for n, v := range change {
			if v == nil {
				delete(k, n)
			} else {
				k[n] = v
			}
		}
		b, _ := json.Marshal(k)
		return string(b)
	}
	ed, es, rs := key(EdDSA, nil), key(ES256, nil), key(RS256, nil)
	set := func(keys ...string) string { return `{"keys":[` + strings.Join(keys, ",") + `]}` }
	tests := []struct {
		name  string
		doc   string
		count int    // keys read, when accepted
		err   string // substring, when refused
	}{
		{"all three", set(ed, es, rs), 3, ""},
		{"empty", `{"keys":[]}`, 0, ""},
		{"other top-level members", `{"x":1,"keys":[` + ed + `]}`, 1, ""},
		{"unknown kty skipped", set(ed, `{"kty":"XYZ","kid":"a","alg":"XYZ1"}`), 1, ""},
		{"unknown alg skipped", set(ed, key(RS256, map[string]any{"alg": "RS512"})), 1, ""},
		{"encryption key skipped", set(ed, key(RS256, map[string]any{"use": "enc"})), 1, ""},
		{"key_ops without verify skipped", set(ed, key(ES256, map[string]any{"use": nil, "key_ops": []string{"encrypt"}})), 1, ""},
		{"key_ops with verify", set(key(ES256, map[string]any{"use": nil, "key_ops": []string{"verify"}})), 1, ""},
		{"no alg skipped", set(ed, key(ES256, map[string]any{"alg": nil})), 1, ""},
		{"no kid skipped", set(ed, key(ES256, map[string]any{"kid": nil})), 1, ""},
		{"HS256 key skipped", set(ed, `{"kty":"oct","kid":"h","alg":"HS256"}`), 1, ""},
		{"x5u ignored", set(key(EdDSA, map[string]any{"x5u": "https://evil.example/x"})), 1, ""},
		{"private d", set(key(EdDSA, map[string]any{"d": "AAAA"})), 0, "private member"},
		{"private RSA p", set(key(RS256, map[string]any{"p": "AAAA"})), 0, "private member"},
		{"symmetric k", set(`{"kty":"oct","kid":"h","alg":"HS256","k":"c2VjcmV0"}`), 0, "private member"},
		{"duplicate kid", set(ed, key(ES256, map[string]any{"kid": byAlg[EdDSA]["kid"]})), 0, "appears twice"},
		{"duplicate member", `{"keys":[` + strings.TrimSuffix(ed, "}") + `,"alg":"ES256"}]}`, 0, "duplicate member"},
		{"duplicate keys", `{"keys":[],"keys":[` + ed + `]}`, 0, "duplicate member"},
		{"EdDSA with kty EC", set(key(EdDSA, map[string]any{"kty": "EC"})), 0, "kty OKP"},
		{"ES256 on P-384", set(key(ES256, map[string]any{"crv": "P-384"})), 0, "crv P-256"},
		{"ES256 point off the curve", set(key(ES256, map[string]any{"y": b64.EncodeToString(make([]byte, 32))})), 0, "not on P-256"},
		{"ES256 short x", set(key(ES256, map[string]any{"x": "AAAA"})), 0, "bad x"},
		{"RSA 1024", set(key(RS256, map[string]any{"n": b64.EncodeToString(append([]byte{0xc1}, make([]byte, 127)...))})), 0, "at least 2048"},
		{"RSA n with a leading zero", set(key(RS256, map[string]any{"n": b64.EncodeToString(append([]byte{0}, make([]byte, 300)...))})), 0, "bad n"},
		{"RSA even e", set(key(RS256, map[string]any{"e": "AQAA"})), 0, "RS256 needs"},
		{"n not base64url", set(key(RS256, map[string]any{"n": "++++"})), 0, "bad n"},
		{"x with a line break", set(key(EdDSA, map[string]any{"x": byAlg[EdDSA]["x"].(string)[:20] + "\n" + byAlg[EdDSA]["x"].(string)[20:]})), 0, "bad x"},
		{"kid a number", set(key(EdDSA, map[string]any{"kid": 5})), 0, "not a string"},
		{"no keys member", `{}`, 0, `no "keys"`},
		{"keys not an array", `{"keys":{}}`, 0, "not an array"},
		{"trailing data", set(ed) + "x", 0, "after the document"},
		{"not UTF-8", "{\"keys\":[],\"x\":\"\xff\"}", 0, "UTF-8"},
		{"not JSON", `keys`, 0, "not a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := ParseJWKS([]byte(tc.doc))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || len(keys) != tc.count {
				t.Fatalf("%d keys, %v; want %d", len(keys), err, tc.count)
			}
		})
	}
	if _, err := ParseJWKS(make([]byte, 2<<20)); err == nil {
		t.Fatal("a 2 MiB document was read")
	}
}

// TestVerifierKeyMap verifies against keys from elsewhere: a Verifier
// needs only a KeyLookup.
func TestVerifierKeyMap(t *testing.T) {
	ts, _ := newTokens(t, ES256, -1)
	tok := mustIssue(t, ts, testClaims(testStart))
	k, _ := ts.Keys().VerificationKey(ts.Keys().SignerKID())
	now := func() time.Time { return testStart }
	v, err := NewVerifier(Config{Issuer: testIssuer, Audience: testAudience, Now: now}, KeyMap{k.KID: k})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(tok); err != nil {
		t.Fatal(err)
	}
	empty, _ := NewVerifier(Config{Issuer: testIssuer, Audience: testAudience, Now: now}, KeyMap{})
	_, err = empty.Verify(tok)
	wantRefused(t, err, gatehouse.ErrTokenInvalid, "unknown kid")
}
