package e2e

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// segments splits a compact JWS.
func segments(t testing.TB, jwt string) []string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d segments", len(parts))
	}
	return parts
}

func decodeSegment(t testing.TB, seg string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func encodeSegment(t testing.TB, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func headerOf(t testing.TB, jwt string) map[string]any { return decodeSegment(t, segments(t, jwt)[0]) }
func claimsOf(t testing.TB, jwt string) map[string]any { return decodeSegment(t, segments(t, jwt)[1]) }

func sidOf(t testing.TB, jwt string) string {
	t.Helper()
	sid, _ := claimsOf(t, jwt)["sid"].(string)
	if sid == "" {
		t.Fatal("token has no sid")
	}
	return sid
}

// tamper changes the subject of a token and keeps its signature.
func tamper(jwt string) string {
	p := strings.Split(jwt, ".")
	b, _ := base64.RawURLEncoding.DecodeString(p[1])
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["sub"] = "0190aaaa-bbbb-7ccc-8ddd-eeeeffff0000"
	b, _ = json.Marshal(m)
	return p[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + p[2]
}

// algNone rewrites a token as an unsigned alg "none" token.
func algNone(jwt string) string {
	p := strings.Split(jwt, ".")
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`))
	return h + "." + p[1] + "."
}

// swapSignature puts b's signature on a's header and claims.
func swapSignature(a, b string) string {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	return pa[0] + "." + pa[1] + "." + pb[2]
}

func decodeList(t testing.TB, r *response) []map[string]any {
	t.Helper()
	var list []map[string]any
	if err := json.Unmarshal(r.Body, &list); err != nil {
		t.Fatalf("not a JSON array: %v: %s", err, r.Body)
	}
	return list
}
