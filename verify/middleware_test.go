package verify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/ghtest"
	"github.com/gatehouse/gatehouse/verify"
)

// authFunc is an Authenticator from a function, for the error mapping of
// a Local verifier.
type authFunc func(ctx context.Context, bearer string) (*gatehouse.AccessClaims, error)

func (f authFunc) Authenticate(ctx context.Context, bearer string) (*gatehouse.AccessClaims, error) {
	return f(ctx, bearer)
}

// TestWriteErrorMapping: the problem of each error an Authenticator may
// return; an unknown error is a 500 that tells nothing.
func TestWriteErrorMapping(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err        error
		status     int
		code       string
		retryAfter string
	}{
		{fmt.Errorf("%w: unknown session", gatehouse.ErrTokenInvalid), 401, "token_invalid", ""},
		{gatehouse.ErrTokenExpired, 401, "token_expired", ""},
		{gatehouse.ErrSessionRevoked, 401, "session_revoked", ""},
		{fmt.Errorf("sqlite: %w", gatehouse.ErrUnavailable), 503, "unavailable", "1"},
		{errors.New("secret internal detail"), 500, "internal_error", ""},
	}
	for _, tc := range cases {
		v := verify.Local(authFunc(func(context.Context, string) (*gatehouse.AccessClaims, error) { return nil, tc.err }))
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer x")
		v.Middleware(http.NotFoundHandler()).ServeHTTP(rec, req)
		var p map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if rec.Code != tc.status || p["code"] != tc.code || p["status"] != float64(tc.status) ||
			p["type"] != "urn:gatehouse:problem:"+tc.code || rec.Header().Get("Retry-After") != tc.retryAfter {
			t.Errorf("%v: %d %v %v", tc.err, rec.Code, rec.Header(), p)
		}
		if strings.Contains(rec.Body.String(), "secret") || strings.Contains(rec.Body.String(), "sqlite") {
			t.Errorf("%v: the wrapped chain leaked: %s", tc.err, rec.Body)
		}
		if (tc.status == 401) != (rec.Header().Get("WWW-Authenticate") != "") {
			t.Errorf("%v: WWW-Authenticate %q", tc.err, rec.Header().Get("WWW-Authenticate"))
		}
	}
}

// FuzzMiddleware: whatever the Authorization header, the middleware
// answers 200 only for the real token, and otherwise a 401 problem;
// never a 5xx, never a panic.
func FuzzMiddleware(f *testing.F) {
	g := ghtest.Start(f, nil)
	email := ghtest.Email(f)
	g.Register(f, email)
	tok := g.Login(f, email)
	v, err := verify.New(context.Background(), verify.Config{Issuer: g.URL, Audience: "gatehouse", RefetchInterval: 1 << 62})
	if err != nil {
		f.Fatal(err)
	}
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, s := range []string{"Bearer " + tok.AccessToken, "Bearer " + tok.RefreshToken, "bearer " + tok.AccessToken + "x", "Bearer a.b.c", "Basic x", "", "Bearer"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, authorization string) {
		req := httptest.NewRequest("GET", "/", nil)
		if authorization != "" {
			req.Header["Authorization"] = []string{authorization}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		real := false
		if scheme, rest, ok := strings.Cut(strings.TrimSpace(authorization), " "); ok && strings.EqualFold(scheme, "bearer") {
			real = strings.TrimSpace(rest) == tok.AccessToken
		}
		switch {
		case rec.Code == 200 && !real:
			t.Fatalf("accepted %q", authorization)
		case rec.Code != 200 && real:
			t.Fatalf("refused the real token: %d", rec.Code)
		case rec.Code != 200 && (rec.Code != 401 || rec.Header().Get("Content-Type") != "application/problem+json"):
			t.Fatalf("%q: %d %s", authorization, rec.Code, rec.Body)
		}
	})
}

// TestRequireAAL2: an aal1 token (or one minted before acr existed) gets
// RFC 9470's 403 challenge; an aal2 token passes.
func TestRequireAAL2(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		acr    string
		status int
	}{{gatehouse.AAL2, 200}, {gatehouse.AAL1, 403}, {"", 403}, {"urn:other", 403}} {
		v := verify.Local(authFunc(func(context.Context, string) (*gatehouse.AccessClaims, error) {
			return &gatehouse.AccessClaims{Subject: "u", SessionID: "s", ACR: tc.acr}, nil
		}))
		h := v.Middleware(v.RequireAAL2(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
		})))
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer x")
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Fatalf("acr %q: %d", tc.acr, rec.Code)
		}
		if tc.status == 403 {
			var p map[string]any
			_ = json.Unmarshal(rec.Body.Bytes(), &p)
			wa := rec.Header().Get("WWW-Authenticate")
			if p["code"] != "insufficient_user_authentication" || !strings.Contains(wa, `error="insufficient_user_authentication"`) || !strings.Contains(wa, `acr_values="aal2"`) {
				t.Fatalf("acr %q: %v %q", tc.acr, p, wa)
			}
		}
	}
	// Without Middleware in front there are no claims: 401, not a pass.
	v := verify.Local(authFunc(func(context.Context, string) (*gatehouse.AccessClaims, error) { return nil, nil }))
	rec := httptest.NewRecorder()
	v.RequireAAL2(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 401 {
		t.Fatalf("no claims: %d", rec.Code)
	}
}
