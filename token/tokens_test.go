package token

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

func TestRoundTrip(t *testing.T) {
	for _, alg := range []string{EdDSA, ES256, RS256, HS256} {
		t.Run(alg, func(t *testing.T) {
			ts, _ := newTokens(t, alg, -1)
			in := testClaims(testStart.Add(300 * time.Millisecond)) // truncated to seconds
			in.ACR, in.AMR = gatehouse.AAL2, []string{gatehouse.AMRPassword, gatehouse.AMROTP, gatehouse.AMRMultiFactor}
			tok := mustIssue(t, ts, in)
			h, p, _ := segments(tok)

			// The header is exactly alg, typ, kid (RFC 9068 §2.1).
			hb, _ := b64.DecodeString(h)
			wantHeader := `{"alg":"` + alg + `","typ":"at+jwt","kid":"` + ts.Keys().SignerKID() + `"}`
			if string(hb) != wantHeader {
				t.Fatalf("header %s, want %s", hb, wantHeader)
			}
			// The claims are exactly the eight of CONTRACT §3 and acr, amr (§8).
			pb, _ := b64.DecodeString(p)
			var claims map[string]any
			if err := json.Unmarshal(pb, &claims); err != nil {
				t.Fatal(err)
			}
			if len(claims) != 10 || claims["acr"] != "aal2" || claims["aud"] != testAudience || claims["exp"] != float64(testStart.Add(15*time.Minute).Unix()) {
				t.Fatalf("claims %s", pb)
			}

			got, err := ts.Verify(tok)
			if err != nil {
				t.Fatal(err)
			}
			want := *in
			want.IssuedAt, want.NotBefore, want.ExpiresAt = testStart, testStart, testStart.Add(15*time.Minute)
			if !got.IssuedAt.Equal(want.IssuedAt) || !got.NotBefore.Equal(want.NotBefore) || !got.ExpiresAt.Equal(want.ExpiresAt) {
				t.Fatalf("times %v %v %v", got.IssuedAt, got.NotBefore, got.ExpiresAt)
			}
			got.IssuedAt, got.NotBefore, got.ExpiresAt = want.IssuedAt, want.NotBefore, want.ExpiresAt
			if !reflect.DeepEqual(*got, want) {
				t.Fatalf("got %+v\nwant %+v", *got, want)
			}
		})
	}
}

func TestIssueSeveralAudiences(t *testing.T) {
	ts, _ := newTokens(t, EdDSA, -1)
	c := testClaims(testStart)
	c.Audience = []string{"other", testAudience}
	got, err := ts.Verify(mustIssue(t, ts, c))
	if err != nil || !reflect.DeepEqual(got.Audience, c.Audience) {
		t.Fatalf("%v, %v", got, err)
	}
}

func TestIssueRefuses(t *testing.T) {
	ts, _ := newTokens(t, EdDSA, -1)
	tests := []struct {
		name   string
		change func(c *gatehouse.AccessClaims)
	}{
		{"other issuer", func(c *gatehouse.AccessClaims) { c.Issuer += "/" }},
		{"other audience", func(c *gatehouse.AccessClaims) { c.Audience = []string{"x"} }},
		{"no audience", func(c *gatehouse.AccessClaims) { c.Audience = nil }},
		{"empty audience too", func(c *gatehouse.AccessClaims) { c.Audience = append(c.Audience, "") }},
		{"no subject", func(c *gatehouse.AccessClaims) { c.Subject = "" }},
		{"no jti", func(c *gatehouse.AccessClaims) { c.ID = "" }},
		{"no sid", func(c *gatehouse.AccessClaims) { c.SessionID = "" }},
		{"no nbf", func(c *gatehouse.AccessClaims) { c.NotBefore = time.Time{} }},
		{"exp before iat", func(c *gatehouse.AccessClaims) { c.ExpiresAt = c.IssuedAt }},
		{"subject not UTF-8", func(c *gatehouse.AccessClaims) { c.Subject = "u\xff" }},
		{"year 10000", func(c *gatehouse.AccessClaims) { c.ExpiresAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testClaims(testStart)
			tc.change(c)
			if tok, err := ts.Issue(c); err == nil {
				t.Fatalf("issued %s", tok)
			}
		})
	}
	if _, err := ts.Issue(nil); err == nil {
		t.Fatal("issued nil claims")
	}
}

// TestRotation follows a key rotation: new tokens get the new key, old
// tokens verify until their key leaves the ring, and then are refused even
// when the cache still holds them.
func TestRotation(t *testing.T) {
	fx := mustFixtures(t)
	s := mustSealer(t)
	clk := newClock(testStart)
	old := fx[EdDSA].stored
	ring1, err := NewKeySet([]gatehouse.SigningKey{old}, s, nil, clk.now(), 20*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := New(Config{Issuer: testIssuer, Audience: testAudience, Now: clk.now}, ring1)
	if err != nil {
		t.Fatal(err)
	}
	oldTok := mustIssue(t, ts, testClaims(clk.now()))
	if _, err := ts.Verify(oldTok); err != nil { // now cached
		t.Fatal(err)
	}

	// Rotate to ES256 (an algorithm change): the old key is retired.
	clk.advance(time.Minute)
	newKey, err := GenerateKey(ES256, s, clk.now())
	if err != nil {
		t.Fatal(err)
	}
	retired := old
	retired.RetiredAt = clk.now()
	ring2, err := NewKeySet([]gatehouse.SigningKey{retired, *newKey}, s, nil, clk.now(), 20*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ts.SetKeys(ring2)
	if ts.Keys() != ring2 || ts.Keys().SignerAlg() != ES256 {
		t.Fatal("SetKeys did not install the ring")
	}
	newTok := mustIssue(t, ts, testClaims(clk.now()))
	if h, _, _ := segments(newTok); !strings.Contains(string(must(b64.DecodeString(h))), newKey.KID) {
		t.Fatal("not signed by the new key")
	}
	for _, tok := range []string{oldTok, newTok} {
		if _, err := ts.Verify(tok); err != nil {
			t.Fatalf("after the rotation: %v", err)
		}
	}

	// Later the old key leaves the ring: its tokens are refused, cached or not.
	clk.advance(20 * time.Minute)
	ring3, err := NewKeySet([]gatehouse.SigningKey{retired, *newKey}, s, nil, clk.now(), 20*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if ring3.Len() != 1 {
		t.Fatalf("ring3 holds %d keys", ring3.Len())
	}
	ts.SetKeys(ring3)
	clk.set(testStart.Add(5 * time.Minute)) // back inside the old token's life
	_, err = ts.Verify(oldTok)
	wantRefused(t, err, gatehouse.ErrTokenInvalid, "unknown kid")
	ts.SetKeys(nil) // ignored
	if ts.Keys() != ring3 {
		t.Fatal("SetKeys(nil) replaced the ring")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestConfig(t *testing.T) {
	ks := ringOf(t, EdDSA)
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Issuer: testIssuer, Audience: testAudience}, true},
		{"leeway 5 s", Config{Issuer: testIssuer, Audience: testAudience, Leeway: 5 * time.Second}, true},
		{"no leeway", Config{Issuer: testIssuer, Audience: testAudience, Leeway: -1}, true},
		{"leeway 6 s", Config{Issuer: testIssuer, Audience: testAudience, Leeway: 6 * time.Second}, false},
		{"no issuer", Config{Audience: testAudience}, false},
		{"no audience", Config{Issuer: testIssuer}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, ks)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if _, err := New(Config{Issuer: testIssuer, Audience: testAudience}, nil); err == nil {
		t.Fatal("New accepted a nil KeySet")
	}
	if _, err := NewVerifier(Config{Issuer: testIssuer, Audience: testAudience}, nil); err == nil {
		t.Fatal("NewVerifier accepted nil keys")
	}
}

// TestNoLeeway checks that a negative Leeway means exactly none.
func TestNoLeeway(t *testing.T) {
	clk := newClock(testStart)
	ts, err := New(Config{Issuer: testIssuer, Audience: testAudience, Leeway: -1, Now: clk.now}, ringOf(t, EdDSA))
	if err != nil {
		t.Fatal(err)
	}
	tok := mustIssue(t, ts, testClaims(testStart))
	clk.set(testStart.Add(15*time.Minute - time.Nanosecond))
	if _, err := ts.Verify(tok); err != nil {
		t.Fatal(err)
	}
	clk.set(testStart.Add(15 * time.Minute))
	_, err = ts.Verify(tok)
	wantRefused(t, err, gatehouse.ErrTokenExpired, "exp passed")
}

// TestAbsentACRReadsAsAAL1: a token minted before second factors existed
// carries no acr; it must never read as more than aal1.
func TestAbsentACRReadsAsAAL1(t *testing.T) {
	ts, _ := newTokens(t, EdDSA, 0)
	tok := mustIssue(t, ts, testClaims(testStart))
	_, p, _ := segments(tok)
	if pb, _ := b64.DecodeString(p); strings.Contains(string(pb), `"acr"`) || strings.Contains(string(pb), `"amr"`) {
		t.Fatalf("claims without ACR/AMR still carry them: %s", pb)
	}
	for range 2 { // the second is a cache hit
		c, err := ts.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		if c.ACR != gatehouse.AAL1 || c.AAL2() || c.AMR != nil {
			t.Fatalf("acr %q amr %v", c.ACR, c.AMR)
		}
	}
}

// A service client's token: client_id and scope, no sid, no acr.
func TestClientTokenRoundTrip(t *testing.T) {
	ts, _ := newTokens(t, EdDSA, 0)
	in := testClaims(testStart)
	in.SessionID, in.ClientID, in.Scope = "", "svc-1", "introspect revocations"
	tok := mustIssue(t, ts, in)
	_, p, _ := segments(tok)
	if pb, _ := b64.DecodeString(p); strings.Contains(string(pb), `"sid"`) || strings.Contains(string(pb), `"acr"`) {
		t.Fatalf("client token claims %s", pb)
	}
	c, err := ts.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientID != "svc-1" || c.Scope != "introspect revocations" || c.SessionID != "" || c.ACR != "" {
		t.Fatalf("claims %+v", c)
	}
	in.SessionID = "s1"
	if _, err := ts.Issue(in); err == nil {
		t.Fatal("issued a token with both sid and client_id")
	}
	in.SessionID, in.ClientID = "", ""
	if _, err := ts.Issue(in); err == nil {
		t.Fatal("issued a token with neither sid nor client_id")
	}
}
