package client_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/ghtest"
	"github.com/gatehouse/gatehouse/internal/softauthn"
	"github.com/gatehouse/gatehouse/totp"
	"github.com/gatehouse/gatehouse/verify"
)

// The Go client through a whole second-factor life against a real server:
// enrol, log in with the challenge, step up an aal1 session for a route
// that demands aal2 (verify.RequireAAL2), turn the factor off.
func TestClientSecondFactor(t *testing.T) {
	ctx := context.Background()
	g := ghtest.Start(t, nil)
	old, email := newSession(t, g, nil) // aal1, from before the factor
	enrolling, err := client.New(client.Config{URL: g.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := enrolling.Login(ctx, email, ghtest.Password); err != nil {
		t.Fatal(err)
	}
	secret, uri, err := enrolling.EnrollTOTP(ctx, ghtest.Password)
	if err != nil || secret == "" || uri == "" {
		t.Fatalf("enrol: %v", err)
	}
	code := func(offset int64) string {
		c, err := totp.Code(secret, totp.Step(time.Now())+offset)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	codes, err := enrolling.ConfirmTOTP(ctx, code(0))
	if err != nil || len(codes) != 10 {
		t.Fatalf("confirm: %v %v", codes, err)
	}
	st, err := enrolling.MFAStatus(ctx)
	if err != nil || !st.TOTP || st.RecoveryCodesLeft != 10 {
		t.Fatalf("status %+v %v", st, err)
	}

	// A route that needs aal2.
	v, err := verify.New(ctx, verify.Config{Issuer: g.URL, Audience: "gatehouse"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin", v.Middleware(v.RequireAAL2(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	srv := ts.URL
	status := func(s *client.Session) int {
		resp, err := (&http.Client{Transport: &client.Transport{Source: s}}).Get(srv + "/admin")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(enrolling); got != 200 {
		t.Fatalf("the enrolling session (aal2 since its confirmation): %d", got)
	}
	if got := status(old); got != 403 {
		t.Fatalf("an aal1 session: %d", got)
	}
	if err := old.StepUp(ctx, gatehouse.MFAAnswer{RecoveryCode: codes[0]}); err != nil {
		t.Fatal(err)
	}
	if got := status(old); got != 200 {
		t.Fatalf("after step-up: %d", got)
	}

	// A fresh login meets the challenge and completes it.
	fresh, err := client.New(client.Config{URL: g.URL})
	if err != nil {
		t.Fatal(err)
	}
	err = fresh.Login(ctx, email, ghtest.Password)
	var ce *client.Error
	if !errors.Is(err, gatehouse.ErrMFARequired) || !errors.As(err, &ce) || ce.MFAToken == "" || len(ce.Methods) != 2 {
		t.Fatalf("login with a factor: %v", err)
	}
	if err := fresh.CompleteMFA(ctx, ce.MFAToken, gatehouse.MFAAnswer{Code: "00000x"}); !errors.Is(err, gatehouse.ErrMFACodeInvalid) {
		t.Fatalf("wrong code: %v", err)
	}
	if err := fresh.CompleteMFA(ctx, ce.MFAToken, gatehouse.MFAAnswer{Code: code(1)}); err != nil {
		t.Fatal(err)
	}
	if got := status(fresh); got != 200 {
		t.Fatalf("after the second step: %d", got)
	}
	if err := fresh.DisableTOTP(ctx); err != nil {
		t.Fatal(err)
	}
	if err := fresh.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if err := fresh.Login(ctx, email, ghtest.Password); err != nil {
		t.Fatalf("login after the factor was turned off: %v", err)
	}
}

// passkeyCall posts body (JSON, or nothing) to Gatehouse with an optional
// bearer token and decodes a 2xx answer into out.
func passkeyCall(t *testing.T, g *ghtest.Gatehouse, path, bearer string, body, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(http.MethodPost, g.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
}

// ceremonyOptions is what the passkey options routes answer.
type ceremonyOptions struct {
	ChallengeID string          `json:"challenge_id"`
	PublicKey   json.RawMessage `json:"publicKey"`
}

// passkeyAnswer runs a passkey sign-in ceremony's browser half with auth
// and returns it as an answer to a challenge or a step-up.
func passkeyAnswer(t *testing.T, g *ghtest.Gatehouse, auth *softauthn.Authenticator, origin string) gatehouse.MFAAnswer {
	t.Helper()
	var o ceremonyOptions
	passkeyCall(t, g, "/api/auth/passkeys/login/options", "", nil, &o)
	cred, err := auth.Login(o.PublicKey, origin)
	if err != nil {
		t.Fatal(err)
	}
	return gatehouse.MFAAnswer{ChallengeID: o.ChallengeID, Credential: cred}
}

// tokenClaims decodes the payload of a JWT (already verified by the
// server that issued it; the test only reads it).
func tokenClaims(t *testing.T, s *client.Session) map[string]any {
	t.Helper()
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok.AccessToken)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// A passkey answers a login's challenge and a step-up through the Go
// client (CompleteMFA, StepUp), against a real server.
func TestClientPasskeyAnswer(t *testing.T) {
	ctx := context.Background()
	g := ghtest.Start(t, nil)
	u, err := url.Parse(g.URL)
	if err != nil {
		t.Fatal(err)
	}
	// A loopback issuer's passkeys live on localhost (WebAuthn takes no IP
	// address as RP ID).
	origin := "http://localhost:" + u.Port()
	addPasskey := func(s *client.Session, auth *softauthn.Authenticator) {
		t.Helper()
		tok, err := s.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var o ceremonyOptions
		passkeyCall(t, g, "/api/auth/passkeys/register/options", tok.AccessToken, nil, &o)
		cred, err := auth.Register(o.PublicKey, origin)
		if err != nil {
			t.Fatal(err)
		}
		passkeyCall(t, g, "/api/auth/passkeys/register", tok.AccessToken,
			map[string]any{"challenge_id": o.ChallengeID, "credential": json.RawMessage(cred)}, nil)
	}
	old, email := newSession(t, g, nil) // aal1, from before the passkey
	auth := softauthn.New()
	addPasskey(old, auth)
	other, _ := newSession(t, g, nil)
	otherAuth := softauthn.New()
	addPasskey(other, otherAuth)

	fresh, err := client.New(client.Config{URL: g.URL})
	if err != nil {
		t.Fatal(err)
	}
	err = fresh.Login(ctx, email, ghtest.Password)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != "mfa_required" || len(ce.Methods) != 1 || ce.Methods[0] != "passkey" {
		t.Fatalf("login with a passkey as factor: %v", err)
	}
	// Another user's passkey does not answer it.
	if err := fresh.CompleteMFA(ctx, ce.MFAToken, passkeyAnswer(t, g, otherAuth, origin)); !errors.Is(err, gatehouse.ErrPasskeyInvalid) {
		t.Fatalf("another user's passkey: %v", err)
	}
	if err := fresh.CompleteMFA(ctx, ce.MFAToken, passkeyAnswer(t, g, auth, origin)); err != nil {
		t.Fatalf("CompleteMFA with a passkey: %v", err)
	}
	if c := tokenClaims(t, fresh); c["acr"] != "aal2" || !slices.Contains(c["amr"].([]any), any("hwk")) {
		t.Fatalf("after the passkey step: %v", c)
	}

	if c := tokenClaims(t, old); c["acr"] != "aal1" {
		t.Fatalf("the old session: %v", c)
	}
	if err := old.StepUp(ctx, passkeyAnswer(t, g, auth, origin)); err != nil {
		t.Fatalf("StepUp with a passkey: %v", err)
	}
	if c := tokenClaims(t, old); c["acr"] != "aal2" || !slices.Contains(c["amr"].([]any), any("hwk")) {
		t.Fatalf("after step-up with a passkey: %v", c)
	}
}
