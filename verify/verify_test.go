package verify_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/ghtest"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/verify"
)

const jwksPath = "/.well-known/jwks.json"

// hello is the protected handler of the tests: it answers the claims.
var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c := verify.ClaimsFromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"sub": c.Subject, "sid": c.SessionID})
})

// service starts a resource server that trusts g through v.
func service(t *testing.T, v *verify.Verifier) string {
	t.Helper()
	ts := httptest.NewServer(v.Middleware(hello))
	t.Cleanup(ts.Close)
	return ts.URL
}

func newVerifier(t *testing.T, g *ghtest.Gatehouse, mod func(*verify.Config)) *verify.Verifier {
	t.Helper()
	cfg := verify.Config{Issuer: g.URL, Audience: "gatehouse"}
	if mod != nil {
		mod(&cfg)
	}
	v, err := verify.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// user registers and logs in a fresh user.
func user(t *testing.T, g *ghtest.Gatehouse) ghtest.Tokens {
	t.Helper()
	email := ghtest.Email(t)
	g.Register(t, email)
	return g.Login(t, email)
}

func TestMiddlewareAcceptsGatehouseTokens(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, nil)
	url := service(t, newVerifier(t, g, nil))
	tok := user(t, g)

	status, _, body := ghtest.Do(t, "GET", url, tok.AccessToken, nil)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var got struct{ Sub, Sid string }
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	status, _, me := ghtest.Do(t, "GET", g.URL+"/api/users/me", tok.AccessToken, nil)
	var u struct{ ID string }
	if err := json.Unmarshal(me, &u); err != nil || status != 200 {
		t.Fatalf("users/me: %d %s", status, me)
	}
	if got.Sub != u.ID || got.Sid == "" {
		t.Fatalf("claims %+v, want sub %s and a sid", got, u.ID)
	}
	// Repeated (cached) verification answers the same.
	for range 3 {
		if status, _, b := ghtest.Do(t, "GET", url, tok.AccessToken, nil); status != 200 || string(b) != string(body) {
			t.Fatalf("repeat: %d %s", status, b)
		}
	}
	if n := g.Count("GET", jwksPath); n != 1 {
		t.Fatalf("JWKS fetched %d times, want 1", n)
	}
}

// TestRefusalsMatchGatehouse sends the same requests to Gatehouse's own
// protected route and to the middleware: status, headers and problem must
// be the same.
func TestRefusalsMatchGatehouse(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, nil)
	url := service(t, newVerifier(t, g, nil))
	tok := user(t, g)
	parts := strings.Split(tok.AccessToken, ".")

	cases := []struct {
		name    string
		headers []string
		code    string
	}{
		{"no header", nil, "token_missing"},
		{"empty bearer", []string{"Bearer "}, "token_invalid"},
		{"bearer and spaces", []string{"Bearer    "}, "token_invalid"},
		{"basic", []string{"Basic dXNlcjpwdw=="}, "token_invalid"},
		{"two headers", []string{"Bearer " + tok.AccessToken, "Bearer " + tok.AccessToken}, "token_invalid"},
		{"garbage", []string{"Bearer not-a-token"}, "token_invalid"},
		{"refresh token", []string{"Bearer " + tok.RefreshToken}, "token_invalid"},
		{"altered payload", []string{"Bearer " + parts[0] + "." + parts[1] + "x." + parts[2]}, "token_invalid"},
		{"alg none", []string{"Bearer " + unsigned(t, `{"alg":"none","typ":"at+jwt","kid":"x"}`, parts[1])}, "token_invalid"},
		{"forged kid", []string{"Bearer " + forged(t, "forged-kid", parts[1])}, "token_invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := refusal(t, g.URL+"/api/users/me", tc.headers)
			got := refusal(t, url, tc.headers)
			if want.Body["code"] != tc.code {
				t.Fatalf("Gatehouse answered %v, the test expects %s", want.Body, tc.code)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("middleware:\n%+v\nGatehouse:\n%+v", got, want)
			}
		})
	}
}

// TestExpiredMatchesGatehouse waits for a real token to expire at
// Gatehouse (1 s lifetime plus the 5 s leeway) and compares the answers.
func TestExpiredMatchesGatehouse(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, func(c *server.Config) { c.AccessTTL = time.Second })
	url := service(t, newVerifier(t, g, nil))
	tok := user(t, g)
	h := []string{"Bearer " + tok.AccessToken}
	// Verified (and cached) while valid: the cache must not outlive exp.
	if status, _, body := ghtest.Do(t, "GET", url, tok.AccessToken, nil); status != 200 {
		t.Fatalf("fresh token: %d %s", status, body)
	}
	deadline := time.Now().Add(20 * time.Second)
	var want response
	for {
		want = refusal(t, g.URL+"/api/users/me", h)
		if want.Body["code"] == "token_expired" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("token still not expired at Gatehouse: %+v", want)
		}
		time.Sleep(100 * time.Millisecond) // polling Gatehouse
	}
	if got := refusal(t, url, h); !reflect.DeepEqual(got, want) {
		t.Fatalf("middleware:\n%+v\nGatehouse:\n%+v", got, want)
	}
}

type response struct {
	Status                         int
	ContentType, Challenge, Expiry string
	Body                           map[string]any
}

func refusal(t *testing.T, url string, authorization []string) response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for _, h := range authorization {
		req.Header.Add("Authorization", h)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := response{
		Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"),
		Challenge: resp.Header.Get("WWW-Authenticate"), Expiry: resp.Header.Get("Cache-Control"),
	}
	if err := json.NewDecoder(resp.Body).Decode(&r.Body); err != nil {
		t.Fatalf("%s: body: %v", url, err)
	}
	return r
}

// forged returns a token signed by a key Gatehouse never had, under kid.
func forged(t testing.TB, kid, payload string) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","typ":"at+jwt","kid":"` + kid + `"}`))
	sig := ed25519.Sign(priv, []byte(h+"."+payload))
	return h + "." + payload + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func unsigned(t testing.TB, header, payload string) string {
	t.Helper()
	return base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + payload + "."
}

// TestKeyRotationWhileVerifying rotates Gatehouse's signing key while
// clients keep calling the service: tokens of the old key stay valid, the
// first token of the new key triggers one JWKS refetch.
func TestKeyRotationWhileVerifying(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, nil)
	url := service(t, newVerifier(t, g, nil))
	old := user(t, g)
	oldKID := g.Server.Tokens().Keys().SignerKID()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls, failures atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("Authorization", "Bearer "+old.AccessToken)
				resp, err := http.DefaultClient.Do(req)
				calls.Add(1)
				if err != nil || resp.StatusCode != 200 {
					failures.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}
	newKID := g.Rotate(t)
	if newKID == oldKID {
		t.Fatal("rotation kept the kid")
	}
	fresh := user(t, g)
	if kid := kidOf(t, fresh.AccessToken); kid != newKID {
		t.Fatalf("new token has kid %s, want %s", kid, newKID)
	}
	if status, _, body := ghtest.Do(t, "GET", url, fresh.AccessToken, nil); status != 200 {
		t.Fatalf("token of the new key: %d %s", status, body)
	}
	for calls.Load() < 20 { // let the old-token callers run past the rotation
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d of %d calls with the old key's token failed across the rotation", n, calls.Load())
	}
	if n := g.Count("GET", jwksPath); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2 (start, then the new kid)", n)
	}
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct{ KID string }
	if err := json.Unmarshal(b, &hdr); err != nil {
		t.Fatal(err)
	}
	return hdr.KID
}

// TestForgedKidFlood sends a thousand tokens with made-up kids: the service
// refuses them all and asks Gatehouse for its JWKS once per interval.
func TestForgedKidFlood(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, nil)
	clk := ghtest.NewClock()
	url := service(t, newVerifier(t, g, func(cfg *verify.Config) { cfg.Now = clk.Now }))
	real := user(t, g)
	payload := strings.Split(real.AccessToken, ".")[1]

	flood := func(n int) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		var accepted atomic.Int64
		for i := range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("Authorization", "Bearer "+forged(t, fmt.Sprint("forged-", i), payload))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 401 {
					accepted.Add(1)
				}
			}()
		}
		wg.Wait()
		if accepted.Load() != 0 {
			t.Fatalf("%d forged tokens were not refused", accepted.Load())
		}
	}
	flood(1000)
	if n := g.Count("GET", jwksPath); n != 2 {
		t.Fatalf("JWKS fetched %d times for a flood within one interval, want 2 (start + one refetch)", n)
	}
	// The budget returns after the interval: one more fetch, not more.
	clk.Add(10 * time.Second)
	flood(200)
	if n := g.Count("GET", jwksPath); n != 3 {
		t.Fatalf("JWKS fetched %d times after the interval passed, want 3", n)
	}
	// The real token still passes (from the cache or not).
	if status, _, body := ghtest.Do(t, "GET", url, real.AccessToken, nil); status != 200 {
		t.Fatalf("real token: %d %s", status, body)
	}
}

// TestUnknownKidWhileLimitedIsRefused: a rotation right after a refetch
// is seen only once the interval has passed.
func TestUnknownKidWhileLimitedIsRefused(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, nil)
	clk := ghtest.NewClock()
	url := service(t, newVerifier(t, g, func(cfg *verify.Config) { cfg.Now = clk.Now }))
	payload := strings.Split(user(t, g).AccessToken, ".")[1]
	if status, _, _ := ghtest.Do(t, "GET", url, forged(t, "spend-the-budget", payload), nil); status != 401 {
		t.Fatal("forged token accepted")
	}
	g.Rotate(t)
	fresh := user(t, g)
	if status, _, _ := ghtest.Do(t, "GET", url, fresh.AccessToken, nil); status != 401 {
		t.Fatalf("new kid accepted while the refetch budget was spent: %d", status)
	}
	clk.Add(10 * time.Second)
	if status, _, body := ghtest.Do(t, "GET", url, fresh.AccessToken, nil); status != 200 {
		t.Fatalf("new kid after the interval: %d %s", status, body)
	}
	if n := g.Count("GET", jwksPath); n != 3 {
		t.Fatalf("JWKS fetched %d times, want 3", n)
	}
}

// TestNeverFetchesWhatTheTokenNames: jku, x5u and jwk headers are refused
// and never followed (RFC 8725 §3.10).
func TestNeverFetchesWhatTheTokenNames(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, nil)
	url := service(t, newVerifier(t, g, nil))
	var hits atomic.Int64
	bait := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[]}`))
	}))
	defer bait.Close()
	payload := strings.Split(user(t, g).AccessToken, ".")[1]
	kid := g.Server.Tokens().Keys().SignerKID()
	for _, h := range []string{
		`{"alg":"EdDSA","typ":"at+jwt","kid":"` + kid + `","jku":"` + bait.URL + `"}`,
		`{"alg":"EdDSA","typ":"at+jwt","kid":"other","jku":"` + bait.URL + `"}`,
		`{"alg":"EdDSA","typ":"at+jwt","kid":"` + kid + `","x5u":"` + bait.URL + `"}`,
		`{"alg":"RS256","typ":"at+jwt","kid":"x","jwk":{"kty":"RSA","n":"AQAB","e":"AQAB"}}`,
	} {
		tok := base64.RawURLEncoding.EncodeToString([]byte(h)) + "." + payload + ".c2ln"
		if status, _, _ := ghtest.Do(t, "GET", url, tok, nil); status != 401 {
			t.Fatalf("header %s: status %d", h, status)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the verifier fetched a URL a token named (%d times)", hits.Load())
	}
}

// TestNewRefusesBadMetadata uses stand-ins for broken or hostile issuers.
func TestNewRefusesBadMetadata(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, nil)
	status, _, realJWKS := ghtest.Do(t, "GET", g.URL+jwksPath, "", nil)
	if status != 200 {
		t.Fatal(status)
	}
	cases := []struct {
		name            string
		issuer, jwksURI string // "" issuer: the stand-in's own URL
		jwks            string
		ctype           string
	}{
		{name: "other issuer", issuer: "https://evil.example", jwks: string(realJWKS)},
		{name: "issuer with slash", issuer: "SELF/", jwks: string(realJWKS)},
		{name: "relative jwks_uri", jwksURI: "/keys", jwks: string(realJWKS)},
		{name: "no usable key", jwks: `{"keys":[{"kty":"EC","crv":"P-384","kid":"p","alg":"ES384","x":"AA","y":"AA"},{"kty":"OKP","crv":"Ed25519","kid":"e","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`},
		{name: "private key published", jwks: `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","alg":"EdDSA","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}]}`},
		{name: "not JSON", jwks: `<html>`, ctype: "text/html"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var self string
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/.well-known/oauth-authorization-server":
					iss := strings.ReplaceAll(tc.issuer, "SELF", self)
					if iss == "" {
						iss = self
					}
					uri := tc.jwksURI
					if uri == "" {
						uri = self + "/keys"
					}
					w.Header().Set("Content-Type", "application/json")
					_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": uri})
				case "/keys":
					ct := tc.ctype
					if ct == "" {
						ct = "application/jwk-set+json"
					}
					w.Header().Set("Content-Type", ct)
					_, _ = w.Write([]byte(tc.jwks))
				default:
					http.NotFound(w, r)
				}
			}))
			defer ts.Close()
			self = ts.URL
			if _, err := verify.New(context.Background(), verify.Config{Issuer: ts.URL, Audience: "gatehouse"}); err == nil {
				t.Fatal("New accepted it")
			} else {
				t.Log(err)
			}
		})
	}
	// And the same stand-in serving the real JWKS is accepted, so the
	// cases above fail for their own reason.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/keys" {
			_, _ = w.Write(realJWKS)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": "http://" + r.Host, "jwks_uri": "http://" + r.Host + "/keys"})
	}))
	defer ts.Close()
	if _, err := verify.New(context.Background(), verify.Config{Issuer: ts.URL, Audience: "gatehouse"}); err != nil {
		t.Fatalf("control case: %v", err)
	}
}

func TestNewConfigErrors(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, nil)
	for _, cfg := range []verify.Config{
		{Audience: "gatehouse"},
		{Issuer: g.URL},
		{Issuer: "ftp://x", Audience: "gatehouse"},
		{Issuer: g.URL, Audience: "gatehouse", Leeway: time.Minute},
		{Issuer: g.URL, Audience: "gatehouse", Algorithms: []string{"HS256"}},
		{Issuer: g.URL, Audience: "gatehouse", Algorithms: []string{"ES256"}}, // Gatehouse signs EdDSA
		{Issuer: g.URL, Audience: "gatehouse", Realm: `a"b`},
		{Issuer: "http://127.0.0.1:1", Audience: "gatehouse"}, // nobody there
	} {
		if _, err := verify.New(context.Background(), cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

// TestWrongAudience: a service configured for another audience refuses
// Gatehouse's tokens.
func TestWrongAudience(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, nil)
	url := service(t, newVerifier(t, g, func(c *verify.Config) { c.Audience = "billing" }))
	if status, _, body := ghtest.Do(t, "GET", url, user(t, g).AccessToken, nil); status != 401 || !strings.Contains(string(body), "token_invalid") {
		t.Fatalf("status %d %s", status, body)
	}
}

// TestLocalRefusesRevokedSession: library mode asks the embedded
// Gatehouse, which refuses a logged-out session's token within a second.
func TestLocalRefusesRevokedSession(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, nil)
	ts := httptest.NewServer(verify.Local(g.Server.Service()).Middleware(hello))
	defer ts.Close()
	tok := user(t, g)
	if status, _, body := ghtest.Do(t, "GET", ts.URL, tok.AccessToken, nil); status != 200 {
		t.Fatalf("status %d %s", status, body)
	}
	req, _ := http.NewRequest("POST", g.URL+"/api/auth/logout", strings.NewReader(`{"refresh_token":"`+tok.RefreshToken+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("logout: %v %v", err, resp)
	}
	resp.Body.Close()
	deadline := time.Now().Add(time.Second)
	for {
		r := refusalOrOK(t, ts.URL, tok.AccessToken)
		if r == "session_revoked" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %q a second after logout", r)
		}
		time.Sleep(10 * time.Millisecond) // polling
	}
}

func refusalOrOK(t *testing.T, url, tok string) string {
	status, _, body := ghtest.Do(t, "GET", url, tok, nil)
	if status == 200 {
		return "ok"
	}
	var p struct{ Code string }
	_ = json.Unmarshal(body, &p)
	return p.Code
}
