package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// Tests of CONTRACT §5, the cookie transport.

func refreshCookie(t testing.TB, r *response) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "gatehouse_refresh" {
			return c
		}
	}
	return nil
}

func TestCookieTransport(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t, "--cors-origins", "https://app.example.com")
	c := newClient(t, g)
	email := uniqueEmail("cookie")
	c.register(email)
	cookieMode := []string{"X-Refresh-Transport", "cookie"}

	r := c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": testPassword}, cookieMode...)
	if r.Status != 200 {
		t.Fatalf("login: %s", r)
	}
	if _, ok := r.obj(t)["refresh_token"]; ok {
		t.Fatal("cookie mode returned the refresh token in the body too")
	}
	ck := refreshCookie(t, r)
	if ck == nil {
		t.Fatalf("no refresh cookie: %v", r.Header["Set-Cookie"])
	}
	raw := strings.Join(r.Header["Set-Cookie"], "; ")
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/api/auth" || ck.Secure {
		t.Fatalf("cookie attributes %q: want HttpOnly, SameSite=Strict, Path=/api/auth, no Secure on an http issuer", raw)
	}
	cookie := []string{"Cookie", "gatehouse_refresh=" + ck.Value}
	guard := []string{"X-CSRF-Guard", "1"}

	t.Run("refresh without the guard header is refused", func(t *testing.T) {
		c.do("POST", "/api/auth/refresh", nil, cookie...).wantProblem(t, 403, "csrf_failed")
	})
	t.Run("refresh from a foreign origin is refused", func(t *testing.T) {
		h := append(append(append([]string{}, cookie...), guard...), "Origin", "https://evil.example")
		c.do("POST", "/api/auth/refresh", nil, h...).wantProblem(t, 403, "csrf_failed")
		h = append(append(append([]string{}, cookie...), guard...), "Origin", "null")
		c.do("POST", "/api/auth/refresh", nil, h...).wantProblem(t, 403, "csrf_failed")
	})
	t.Run("body and cookie at once is 400", func(t *testing.T) {
		h := append(append([]string{}, cookie...), guard...)
		c.do("POST", "/api/auth/refresh", map[string]string{"refresh_token": ck.Value}, h...).wantProblem(t, 400, "invalid_request")
	})

	var next *http.Cookie
	t.Run("refresh with the cookie and the guard", func(t *testing.T) {
		h := append(append(append([]string{}, cookie...), guard...), "Origin", g.URL)
		r := c.do("POST", "/api/auth/refresh", nil, h...)
		if r.Status != 200 {
			t.Fatalf("refresh: %s", r)
		}
		if _, ok := r.obj(t)["refresh_token"]; ok {
			t.Fatal("the refreshed token is in the body")
		}
		next = refreshCookie(t, r)
		if next == nil || next.Value == ck.Value {
			t.Fatal("no rotated cookie")
		}
	})
	t.Run("an allowed CORS origin may refresh", func(t *testing.T) {
		h := []string{"Cookie", "gatehouse_refresh=" + next.Value, "X-CSRF-Guard", "1", "Origin", "https://app.example.com"}
		r := c.do("POST", "/api/auth/refresh", nil, h...)
		if r.Status != 200 {
			t.Fatalf("refresh: %s", r)
		}
		if r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || r.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("CORS headers %v", r.Header)
		}
		next = refreshCookie(t, r)
	})
	t.Run("CORS preflight", func(t *testing.T) {
		r := c.do("OPTIONS", "/api/auth/refresh", nil, "Origin", "https://app.example.com", "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "x-csrf-guard")
		if r.Status != 204 || !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "X-CSRF-Guard") {
			t.Fatalf("preflight: %d %v", r.Status, r.Header)
		}
		r = c.do("OPTIONS", "/api/auth/refresh", nil, "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
		if r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatal("a foreign origin got CORS headers")
		}
	})
	t.Run("logout with the cookie clears it", func(t *testing.T) {
		h := []string{"Cookie", "gatehouse_refresh=" + next.Value}
		c.do("POST", "/api/auth/logout", nil, h...).wantProblem(t, 403, "csrf_failed")
		r := c.do("POST", "/api/auth/logout", nil, append(h, guard...)...)
		if r.Status != 204 {
			t.Fatalf("logout: %s", r)
		}
		if gone := refreshCookie(t, r); gone == nil || gone.MaxAge >= 0 {
			t.Fatalf("logout did not clear the cookie: %v", r.Header["Set-Cookie"])
		}
		c.do("POST", "/api/auth/refresh", nil, append(h, guard...)...).wantProblem(t, 401, "session_revoked")
	})
}
