package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/apitest"
)

var apiSpec = apitest.MustParse(OpenAPI)

// fakeService answers every call with err, or with a fixed success.
type fakeService struct {
	err       error
	refreshed []string // refresh tokens Refresh was called with
	loginIP   string   // the client address Login saw last
	calls     []string // second-factor calls, in order
}

var testUser = &gatehouse.User{ID: "usr_1", Email: "a@example.com", CreatedAt: time.Unix(1700000000, 0)}

func (f *fakeService) grant() *gatehouse.Grant {
	return &gatehouse.Grant{
		AccessToken: "access", ExpiresIn: 900, RefreshToken: "refresh-new", User: testUser,
		Session: &gatehouse.Session{ID: "ses_1", IdleExpiresAt: time.Now().Add(time.Hour)},
	}
}

func (f *fakeService) Register(context.Context, string, string, string, gatehouse.ClientInfo) (*gatehouse.User, error) {
	return testUser, f.err
}
func (f *fakeService) Login(_ context.Context, _, _ string, client gatehouse.ClientInfo) (*gatehouse.Grant, error) {
	f.loginIP = client.IP
	if f.err != nil {
		return nil, f.err
	}
	return f.grant(), nil
}
func (f *fakeService) Refresh(_ context.Context, token string) (*gatehouse.Grant, error) {
	f.refreshed = append(f.refreshed, token)
	if f.err != nil {
		return nil, f.err
	}
	return f.grant(), nil
}
func (f *fakeService) Logout(context.Context, string) error      { return f.err }
func (f *fakeService) RevokeToken(context.Context, string) error { return f.err }
func (f *fakeService) Authenticate(context.Context, string) (*gatehouse.AccessClaims, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &gatehouse.AccessClaims{}, nil
}
func (f *fakeService) Me(context.Context, *gatehouse.AccessClaims) (*gatehouse.User, error) {
	return testUser, f.err
}
func (f *fakeService) LogoutAll(context.Context, *gatehouse.AccessClaims) error { return f.err }
func (f *fakeService) Sessions(context.Context, *gatehouse.AccessClaims) ([]gatehouse.Session, error) {
	return nil, f.err
}
func (f *fakeService) DeleteSession(context.Context, *gatehouse.AccessClaims, string) error {
	return f.err
}
func (f *fakeService) ChangePassword(context.Context, *gatehouse.AccessClaims, string, string, gatehouse.ClientInfo) error {
	return f.err
}
func (f *fakeService) CreatePost(context.Context, *gatehouse.AccessClaims, string, string) (*gatehouse.Post, error) {
	return nil, f.err
}
func (f *fakeService) ListPosts(context.Context, *gatehouse.PostCursor, int) ([]gatehouse.Post, *gatehouse.PostCursor, error) {
	return nil, nil, f.err
}
func (f *fakeService) DeletePost(context.Context, *gatehouse.AccessClaims, string) error {
	return f.err
}

const testIssuer = "http://auth.test"

func newTestHandler(svc Service) http.Handler {
	return NewHandler(Config{Service: svc, Issuer: testIssuer, App: http.NotFoundHandler()})
}

type answer struct {
	status  int
	header  http.Header
	problem Problem
	body    string
}

// do serves r and checks the exchange against the OpenAPI description
// (mark a deliberately malformed request with apitest.Malformed).
func do(t *testing.T, h http.Handler, r *http.Request) answer {
	t.Helper()
	return doWith(t, h, r)
}

// doWith is do with options of the check (apitest.Unserved for a handler
// configured without some routes).
func doWith(t *testing.T, h http.Handler, r *http.Request, opts ...apitest.Option) answer {
	t.Helper()
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	w := serve(h, r)
	apiSpec.CheckRecorded(t, r, body, w, opts...)
	return recorded(t, w)
}

// doUnlisted serves r without the description's check: for a fake service
// that answers a route with an error the route never meets in earnest.
func doUnlisted(t *testing.T, h http.Handler, r *http.Request) answer {
	t.Helper()
	return recorded(t, serve(h, r))
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func recorded(t *testing.T, w *httptest.ResponseRecorder) answer {
	t.Helper()
	a := answer{status: w.Code, header: w.Header(), body: w.Body.String()}
	if strings.HasPrefix(w.Header().Get("Content-Type"), "application/problem+json") {
		if err := json.Unmarshal(w.Body.Bytes(), &a.problem); err != nil {
			t.Fatalf("problem body %q: %v", a.body, err)
		}
	}
	return a
}

func jsonRequest(method, path, body string) *http.Request {
	r := httptest.NewRequest(method, testIssuer+path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// Every row of the code table, returned by the service, reaches the
// client as its status and code, in an RFC 9457 body.
func TestEveryErrorCodeOverHTTP(t *testing.T) {
	for _, c := range gatehouse.ErrorCodes() {
		t.Run(c.Code, func(t *testing.T) {
			h := newTestHandler(&fakeService{err: fmt.Errorf("deep in the service: %w", c.Err)})
			a := doUnlisted(t, h, jsonRequest("POST", "/api/auth/login", `{"email":"a@example.com","password":"pw"}`))
			if a.status != c.Status || a.problem.Code != c.Code || a.problem.Status != c.Status {
				t.Fatalf("got %d %q (%s), want %d %q", a.status, a.problem.Code, a.body, c.Status, c.Code)
			}
			if a.problem.Type != "urn:gatehouse:problem:"+c.Code || a.problem.Title != http.StatusText(c.Status) {
				t.Fatalf("type %q title %q", a.problem.Type, a.problem.Title)
			}
			if a.header.Get("Cache-Control") != "no-store" {
				t.Fatal("a problem may be cached")
			}
			if strings.Contains(a.body, "deep in the service") {
				t.Fatal("the wrapped internal message leaked into the answer")
			}
			if c.Status == http.StatusServiceUnavailable && a.header.Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
		})
	}
}

func TestTypedErrorsOverHTTP(t *testing.T) {
	h := newTestHandler(&fakeService{err: &gatehouse.RateLimitError{RetryAfter: 42}})
	a := do(t, h, jsonRequest("POST", "/api/auth/login", `{"email":"a@example.com","password":"pw"}`))
	if a.status != 429 || a.header.Get("Retry-After") != "42" {
		t.Fatalf("rate limit: %d Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
	verr := gatehouse.Invalid("password", "too short").Add("email", "not an email")
	h = newTestHandler(&fakeService{err: verr})
	a = do(t, h, jsonRequest("POST", "/api/auth/register", `{"email":"x","password":"y"}`))
	if a.status != 422 || len(a.problem.Errors) != 2 || a.problem.Errors[0].Field != "email" {
		t.Fatalf("validation: %d %+v", a.status, a.problem.Errors)
	}
	h = newTestHandler(&fakeService{err: errors.New("disk on fire: /var/lib/secret")})
	a = do(t, h, jsonRequest("POST", "/api/auth/login", `{"email":"a@example.com","password":"pw"}`))
	if a.status != 500 || a.problem.Code != "internal_error" || a.problem.Detail != "" || strings.Contains(a.body, "disk") {
		t.Fatalf("unknown error: %d %s", a.status, a.body)
	}
}

// A bearer route refuses with the code and an RFC 6750 challenge.
func TestBearerRouteChallenges(t *testing.T) {
	for _, err := range []error{gatehouse.ErrTokenInvalid, gatehouse.ErrTokenExpired, gatehouse.ErrSessionRevoked} {
		h := newTestHandler(&fakeService{err: err})
		r := httptest.NewRequest("GET", testIssuer+"/api/users/me", nil)
		r.Header.Set("Authorization", "Bearer x.y.z")
		a := do(t, h, r)
		want, _ := gatehouse.Code(err)
		if a.status != 401 || a.problem.Code != want.Code || !strings.Contains(a.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("%v: %d %q %q", err, a.status, a.problem.Code, a.header.Get("WWW-Authenticate"))
		}
	}
	a := do(t, newTestHandler(&fakeService{}), httptest.NewRequest("GET", testIssuer+"/api/users/me", nil))
	if a.status != 401 || a.problem.Code != "token_missing" || strings.Contains(a.header.Get("WWW-Authenticate"), "error=") {
		t.Fatalf("no token: %d %q %q", a.status, a.problem.Code, a.header.Get("WWW-Authenticate"))
	}
}

// Errors of the HTTP edge itself, before any service call.
func TestEdgeErrors(t *testing.T) {
	h := newTestHandler(&fakeService{})
	cases := []struct {
		name string
		req  func() *http.Request
		code string
	}{
		{"method", func() *http.Request { return httptest.NewRequest("GET", testIssuer+"/api/auth/login", nil) }, "method_not_allowed"},
		{"media type", func() *http.Request {
			r := jsonRequest("POST", "/api/auth/login", `{}`)
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, "unsupported_media_type"},
		{"too large", func() *http.Request {
			return jsonRequest("POST", "/api/auth/login", `{"email":"`+strings.Repeat("a", 2<<20)+`"}`)
		}, "payload_too_large"},
		{"duplicate member", func() *http.Request {
			return jsonRequest("POST", "/api/auth/login", `{"email":"a","email":"b","password":"x"}`)
		}, "invalid_request"},
		{"unknown endpoint", func() *http.Request { return httptest.NewRequest("GET", testIssuer+"/api/nope", nil) }, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, h, apitest.Malformed(tc.req(), "an edge error"))
			want := tc.code
			if a.problem.Code != want {
				t.Fatalf("got %d %q, want %q: %.200s", a.status, a.problem.Code, want, a.body)
			}
		})
	}
}

func cookieRefresh(body string, headers map[string]string) *http.Request {
	r := jsonRequest("POST", "/api/auth/refresh", body)
	r.AddCookie(&http.Cookie{Name: cookieName, Value: "refresh-from-cookie"})
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	return r
}

// The cookie transport's CSRF guard (OWASP CSRF cheat sheet: custom
// request header plus origin check) and the body/cookie conflict.
func TestCookieRefreshGuards(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		headers map[string]string
		status  int
		code    string
	}{
		{"no guard header", `{}`, nil, 403, "csrf_failed"},
		{"guard from a foreign origin", `{}`, map[string]string{"X-CSRF-Guard": "1", "Origin": "https://evil.example"}, 403, "csrf_failed"},
		{"cross-site fetch", `{}`, map[string]string{"X-CSRF-Guard": "1", "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403, "csrf_failed"},
		{"body and cookie", `{"refresh_token":"from-body"}`, map[string]string{"X-CSRF-Guard": "1"}, 400, "invalid_request"},
		{"guarded, same origin", `{}`, map[string]string{"X-CSRF-Guard": "1", "Origin": testIssuer}, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := &fakeService{}
			a := do(t, newTestHandler(svc), cookieRefresh(tc.body, tc.headers))
			if a.status != tc.status || a.problem.Code != tc.code {
				t.Fatalf("got %d %q, want %d %q: %s", a.status, a.problem.Code, tc.status, tc.code, a.body)
			}
			if tc.status != 200 && len(svc.refreshed) > 0 {
				t.Fatalf("a refused request reached the service with %v", svc.refreshed)
			}
			if tc.status == 200 {
				if len(svc.refreshed) != 1 || svc.refreshed[0] != "refresh-from-cookie" {
					t.Fatalf("refreshed %v", svc.refreshed)
				}
				if strings.Contains(a.body, "refresh-new") || !strings.Contains(a.header.Get("Set-Cookie"), "refresh-new") {
					t.Fatal("the cookie transport must move the new token in the cookie only")
				}
			}
		})
	}
}

// A refresh token that will never work again clears the cookie; a busy
// database does not.
func TestCookieClearedOnlyOnTerminalFailure(t *testing.T) {
	guard := map[string]string{"X-CSRF-Guard": "1"}
	a := do(t, newTestHandler(&fakeService{err: gatehouse.ErrRefreshTokenReused}), cookieRefresh(`{}`, guard))
	if a.status != 401 || !strings.Contains(a.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("reused: %d cookie %q", a.status, a.header.Get("Set-Cookie"))
	}
	a = do(t, newTestHandler(&fakeService{err: gatehouse.ErrUnavailable}), cookieRefresh(`{}`, guard))
	if a.status != 503 || a.header.Get("Set-Cookie") != "" {
		t.Fatalf("unavailable: %d cookie %q", a.status, a.header.Get("Set-Cookie"))
	}
}

func TestForwardedForOnlyFromTrustedProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	cases := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"untrusted peer: header ignored", "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5"},
		{"trusted proxy", "10.0.0.2:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"spoofed left part ignored", "10.0.0.2:4000", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted hops", "10.0.0.2:4000", []string{"198.51.100.1, 10.0.0.7"}, "198.51.100.1"},
		{"split headers", "10.0.0.2:4000", []string{"1.2.3.4", "198.51.100.1"}, "198.51.100.1"},
		{"malformed hop", "10.0.0.2:4000", []string{"1.2.3.4, garbage"}, "10.0.0.2"},
		{"no header", "10.0.0.2:4000", nil, "10.0.0.2"},
		{"IPv6 proxy", "[fd00::1]:4000", []string{"2001:db8::9"}, "2001:db8::9"},
		{"with a port", "10.0.0.2:4000", []string{"198.51.100.1:5555"}, "198.51.100.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := &fakeService{}
			h := NewHandler(Config{Service: svc, Issuer: testIssuer, TrustedProxies: trusted, App: http.NotFoundHandler()})
			r := jsonRequest("POST", "/api/auth/login", `{"email":"a@example.com","password":"pw"}`)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			do(t, h, r)
			if svc.loginIP != tc.want {
				t.Fatalf("client %q, want %q", svc.loginIP, tc.want)
			}
		})
	}
	// Without trusted proxies the header never counts.
	svc := &fakeService{}
	r := jsonRequest("POST", "/api/auth/login", `{"email":"a@example.com","password":"pw"}`)
	r.RemoteAddr = "10.0.0.2:4000"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	do(t, newTestHandler(svc), r)
	if svc.loginIP != "10.0.0.2" {
		t.Fatalf("no trusted proxies configured: client %q", svc.loginIP)
	}
}

func TestHSTSOnlyUnderHTTPS(t *testing.T) {
	for issuer, want := range map[string]bool{"https://auth.example.com": true, "http://localhost:8080": false} {
		h := NewHandler(Config{Service: &fakeService{}, Issuer: issuer, App: http.NotFoundHandler()})
		for _, path := range []string{"/healthz", "/api/users/me", "/anything"} {
			a := do(t, h, httptest.NewRequest("GET", issuer+path, nil))
			got := a.header.Get("Strict-Transport-Security")
			if (got == "max-age=63072000; includeSubDomains") != want || (!want && got != "") {
				t.Fatalf("%s%s: HSTS %q", issuer, path, got)
			}
		}
	}
}

func TestPrivateMetricsAreNotPublic(t *testing.T) {
	for _, private := range []bool{false, true} {
		h := NewHandler(Config{Service: &fakeService{}, Issuer: testIssuer, Metrics: NewMetrics(), PrivateMetrics: private, App: http.NotFoundHandler()})
		var opts []apitest.Option
		if private {
			opts = append(opts, apitest.Unserved("GET /metrics"))
		}
		a := doWith(t, h, httptest.NewRequest("GET", testIssuer+"/metrics", nil), opts...)
		if served := a.status == 200 && strings.Contains(a.body, "# HELP"); served == private {
			t.Fatalf("private=%v: /metrics answered %d", private, a.status)
		}
	}
}

func (f *fakeService) SendVerification(context.Context, *gatehouse.AccessClaims) error { return f.err }
func (f *fakeService) VerifyEmail(context.Context, string) (*gatehouse.User, error) {
	return testUser, f.err
}
func (f *fakeService) ForgotPassword(context.Context, string) error        { return f.err }
func (f *fakeService) ResetPassword(context.Context, string, string) error { return f.err }
func (f *fakeService) ChangeEmail(context.Context, *gatehouse.AccessClaims, string, string, gatehouse.ClientInfo) error {
	return f.err
}
func (f *fakeService) ConfirmEmailChange(context.Context, string) (*gatehouse.User, error) {
	return testUser, f.err
}

func (f *fakeService) UpdateProfile(context.Context, *gatehouse.AccessClaims, string) (*gatehouse.User, error) {
	return testUser, f.err
}

func (f *fakeService) AsAdmin(context.Context, *gatehouse.AccessClaims) (*gatehouse.Admin, error) {
	return nil, gatehouse.ErrForbidden
}
func (f *fakeService) MyEvents(context.Context, *gatehouse.AccessClaims, *gatehouse.EventCursor, int) ([]gatehouse.Event, *gatehouse.EventCursor, error) {
	return nil, nil, f.err
}
