package e2e

import (
	"regexp"
	"strings"
	"testing"
)

var scriptTag = regexp.MustCompile(`(?i)<script\b[^>]*>`)

// Browser-facing defences of the cookie transport (CONTRACT §5) that the
// Chromium tests in web/e2e cannot provoke from a well-behaved page.

func TestCookieTransportFetchMetadata(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t, "--cors-origins", "https://app.example.com")
	c := newClient(t, g)
	email := uniqueEmail("fetchmeta")
	c.register(email)
	r := c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": testPassword}, "X-Refresh-Transport", "cookie")
	ck := refreshCookie(t, r)
	if r.Status != 200 || ck == nil {
		t.Fatalf("login: %s", r)
	}
	value := ck.Value
	refresh := func(extra ...string) *response {
		h := append([]string{"Cookie", "gatehouse_refresh=" + value, "X-CSRF-Guard", "1"}, extra...)
		r := c.do("POST", "/api/auth/refresh", nil, h...)
		if next := refreshCookie(t, r); r.Status == 200 && next != nil {
			value = next.Value
		}
		return r
	}
	t.Run("a request the browser marks cross-site without an Origin is refused", func(t *testing.T) {
		refresh("Sec-Fetch-Site", "cross-site").wantProblem(t, 403, "csrf_failed")
	})
	t.Run("same-site from an origin not allowed is refused", func(t *testing.T) {
		refresh("Sec-Fetch-Site", "same-site", "Origin", "https://other.example.com").wantProblem(t, 403, "csrf_failed")
	})
	t.Run("cross-site from an allowed origin passes", func(t *testing.T) {
		if r := refresh("Sec-Fetch-Site", "cross-site", "Origin", "https://app.example.com"); r.Status != 200 {
			t.Fatalf("refresh: %s", r)
		}
	})
	t.Run("same-origin passes", func(t *testing.T) {
		if r := refresh("Sec-Fetch-Site", "same-origin", "Origin", g.URL); r.Status != 200 {
			t.Fatalf("refresh: %s", r)
		}
	})
	t.Run("logout is guarded the same way", func(t *testing.T) {
		h := []string{"Cookie", "gatehouse_refresh=" + value, "X-CSRF-Guard", "1", "Sec-Fetch-Site", "cross-site"}
		c.do("POST", "/api/auth/logout", nil, h...).wantProblem(t, 403, "csrf_failed")
	})
}

func TestAppIsServedWithItsSecurityHeaders(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	for _, p := range []string{"/", "/login", "/register", "/dashboard", "/sessions", "/deep/client/route"} {
		r := c.do("GET", p, nil)
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", p, r.Status, r.Header.Get("Content-Type"))
		}
		for name, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "no-referrer",
			"Cache-Control":          "no-cache",
		} {
			if got := r.Header.Get(name); got != want {
				t.Errorf("%s: %s = %q, want %q", p, name, got, want)
			}
		}
		csp := r.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-") {
			t.Errorf("%s: CSP %q", p, csp)
		}
		// Whether or not the app was built into this binary, the page has no
		// inline script for the CSP to block.
		for _, tag := range scriptTag.FindAllString(string(r.Body), -1) {
			if !strings.Contains(tag, "src=") {
				t.Errorf("%s: inline script %q", p, tag)
			}
		}
	}
	// API answers keep their own CSP, which allows nothing.
	r := c.do("GET", "/api/users/me", nil)
	if csp := r.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
		t.Errorf("API CSP %q", csp)
	}
}
