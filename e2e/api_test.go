package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apitest"
)

// One test per row of CONTRACT §2, plus the cross-cutting rules of its
// preamble (problem+json, 400/413/415, WWW-Authenticate, no-store).

func TestRegister(t *testing.T) {
	g := startGatehouse(t)
	c := newClient(t, g)
	email := uniqueEmail("reg")

	r := c.do("POST", "/api/auth/register", map[string]string{"email": email, "password": testPassword, "name": "Ada"})
	if r.Status != 201 {
		t.Fatalf("register: %s", r)
	}
	u := r.obj(t)
	if u["email"] != email || u["name"] != "Ada" || u["id"] == "" || u["created_at"] == "" || u["email_verified"] != false || u["role"] != "user" {
		t.Fatalf("user %v lacks a field", u)
	}
	for k := range u {
		if k != "id" && k != "email" && k != "email_verified" && k != "name" && k != "created_at" && k != "role" {
			t.Errorf("user carries unexpected member %q (never a hash or a token): %s", k, r.Body)
		}
	}

	t.Run("email taken, whatever its case", func(t *testing.T) {
		r := c.do("POST", "/api/auth/register", map[string]string{"email": strings.ToUpper(email), "password": testPassword})
		r.wantProblem(t, 409, "email_taken")
	})
	t.Run("validation", func(t *testing.T) {
		cases := []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"bad email", map[string]any{"email": "not-an-email", "password": testPassword}, "email"},
			{"missing email", map[string]any{"password": testPassword}, "email"},
			{"short password", map[string]any{"email": uniqueEmail("v"), "password": "short"}, "password"},
			{"common password", map[string]any{"email": uniqueEmail("v"), "password": "password123"}, "password"},
			{"missing password", map[string]any{"email": uniqueEmail("v")}, "password"},
			{"password not a string", map[string]any{"email": uniqueEmail("v"), "password": 12345678}, "password"},
			{"email injection object", map[string]any{"email": map[string]any{"$ne": nil}, "password": testPassword}, "email"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := c.do("POST", "/api/auth/register", tc.body, malformed("a validation case")...)
				r.wantProblem(t, 422, "validation_failed")
				errs, _ := r.obj(t)["errors"].([]any)
				found := false
				for _, e := range errs {
					if m, _ := e.(map[string]any); m["field"] == tc.field && m["message"] != "" {
						found = true
					}
				}
				if !found {
					t.Fatalf("no error for field %q: %s", tc.field, r.Body)
				}
			})
		}
	})
}

func TestLogin(t *testing.T) {
	g := startGatehouse(t)
	c := newClient(t, g)
	email := uniqueEmail("login")
	id := c.register(email)

	r := c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": testPassword})
	if r.Status != 200 {
		t.Fatalf("login: %s", r)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store (RFC 6749 §5.1)", r.Header.Get("Cache-Control"))
	}
	m := r.obj(t)
	if m["token_type"] != "bearer" || m["expires_in"] != float64(900) || m["access_token"] == "" || m["refresh_token"] == "" {
		t.Fatalf("tokens %s", r.Body)
	}
	if u, _ := m["user"].(map[string]any); u["id"] != id || u["email"] != email {
		t.Fatalf("login user %v, want id %s", m["user"], id)
	}
	if strings.Count(m["refresh_token"].(string), ".") != 0 {
		t.Fatalf("refresh token looks like a JWT: it must be opaque")
	}

	t.Run("email is case-insensitive", func(t *testing.T) {
		c.login(strings.ToUpper(email), testPassword)
	})
	t.Run("unknown email and wrong password answer alike", func(t *testing.T) {
		wrong := c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": "wrong password here"})
		unknown := c.do("POST", "/api/auth/login", map[string]string{"email": uniqueEmail("nobody"), "password": "wrong password here"})
		wrong.wantProblem(t, 401, "invalid_credentials")
		unknown.wantProblem(t, 401, "invalid_credentials")
		if string(wrong.Body) != string(unknown.Body) {
			t.Fatalf("bodies differ:\n%s\n%s", wrong.Body, unknown.Body)
		}
	})
	t.Run("missing fields", func(t *testing.T) {
		c.do("POST", "/api/auth/login", map[string]string{"email": email}, malformed("no password")...).wantProblem(t, 422, "validation_failed")
	})
}

func TestMalformedRequests(t *testing.T) {
	g := startGatehouse(t)
	// Malformed on purpose: only the answers are checked against the description.
	c := &client{t: t, base: g.URL, hc: checkedHTTP(t, 30*time.Second, apitest.ResponsesOnly())}
	cases := []struct {
		name   string
		body   string
		ctype  string
		status int
		code   string
	}{
		{"not JSON", `{"email":`, "application/json", 400, "invalid_request"},
		{"array", `[]`, "application/json", 400, "invalid_request"},
		{"trailing data", `{"email":"a@b.c","password":"x"} {}`, "application/json", 400, "invalid_request"},
		{"duplicate member", `{"email":"a@b.c","email":"b@b.c","password":"x"}`, "application/json", 400, "invalid_request"},
		{"invalid UTF-8", "{\"email\":\"a\xff@b.c\",\"password\":\"x\"}", "application/json", 400, "invalid_request"},
		{"text/plain", `{"email":"a@b.c","password":"x"}`, "text/plain", 415, "unsupported_media_type"},
		{"form", `email=a@b.c&password=x`, "application/x-www-form-urlencoded", 415, "unsupported_media_type"},
		{"no content type", `{"email":"a@b.c","password":"x"}`, "", 415, "unsupported_media_type"},
		{"bad content type", `{}`, "application/json; ===", 415, "unsupported_media_type"},
		{"over 1 MiB", `{"email":"` + strings.Repeat("a", 1<<20) + `"}`, "application/json", 413, "payload_too_large"},
		{"deep nesting", strings.Repeat("[", 20000) + strings.Repeat("]", 20000), "application/json", 400, "invalid_request"},
	}
	for _, path := range []string{"/api/auth/login", "/api/auth/register"} {
		for _, tc := range cases {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				var hdr []string
				if tc.ctype != "" {
					hdr = []string{"Content-Type", tc.ctype}
				}
				c.do("POST", path, tc.body, hdr...).wantProblem(t, tc.status, tc.code)
			})
		}
	}
	t.Run("405 is a problem too", func(t *testing.T) {
		r := c.do("GET", "/api/auth/login", nil)
		r.wantProblem(t, 405, "method_not_allowed")
		if r.Header.Get("Allow") != "POST" {
			t.Fatalf("Allow %q", r.Header.Get("Allow"))
		}
	})
	t.Run("unknown API path is a 404 problem", func(t *testing.T) {
		c.do("GET", "/api/nope", nil).wantProblem(t, 404, "not_found")
	})
}

func TestMe(t *testing.T) {
	g := startGatehouse(t)
	c := newClient(t, g)
	email, tok := c.newUser("me")

	r := c.get("/api/users/me", tok.Access)
	if r.Status != 200 || r.str(t, "email") != email || r.str(t, "id") != tok.UserID {
		t.Fatalf("me: %s", r)
	}

	t.Run("no token", func(t *testing.T) {
		r := c.get("/api/users/me", "")
		r.wantProblem(t, 401, "token_missing")
		if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") || strings.Contains(h, "error=") {
			t.Fatalf("WWW-Authenticate %q: want Bearer without error (RFC 6750 §3.1)", h)
		}
	})
	invalid := map[string]string{
		"garbage":                    "garbage",
		"refresh token as access":    tok.Refresh,
		"tampered payload":           tamper(tok.Access),
		"alg none":                   algNone(tok.Access),
		"three dots":                 tok.Access + ".x",
		"empty signature":            tok.Access[:strings.LastIndex(tok.Access, ".")+1],
		"signature of another token": swapSignature(tok.Access, c.login(email, testPassword).Access),
	}
	for name, bad := range invalid {
		t.Run(name, func(t *testing.T) {
			r := c.get("/api/users/me", bad)
			r.wantProblem(t, 401, "token_invalid")
			if h := r.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) {
				t.Fatalf("WWW-Authenticate %q: want error=\"invalid_token\"", h)
			}
		})
	}
	t.Run("other schemes", func(t *testing.T) {
		r := c.do("GET", "/api/users/me", nil, "Authorization", "Basic "+tok.Access)
		r.wantProblem(t, 401, "token_invalid")
		r = c.do("GET", "/api/users/me", nil, "Authorization", "bearer "+tok.Access)
		if r.Status != 200 {
			t.Fatalf("lower-case scheme refused (RFC 9110 §11.1: case-insensitive): %s", r)
		}
	})
}

func TestSessionsList(t *testing.T) {
	g := startGatehouse(t)
	c := newClient(t, g)
	email, first := c.newUser("sess")
	second := c.login(email, testPassword)

	r := c.get("/api/auth/sessions", second.Access)
	if r.Status != 200 {
		t.Fatalf("sessions: %s", r)
	}
	list := decodeList(t, r)
	if len(list) != 2 {
		t.Fatalf("%d sessions, want 2: %s", len(list), r.Body)
	}
	current := 0
	for _, s := range list {
		for _, k := range []string{"id", "created_at", "last_used_at", "expires_at", "user_agent", "ip", "current"} {
			if _, ok := s[k]; !ok {
				t.Fatalf("session lacks %q: %v", k, s)
			}
		}
		if s["current"] == true {
			current++
			if s["id"] != sidOf(t, second.Access) {
				t.Fatalf("current session %v is not the token's sid %s", s["id"], sidOf(t, second.Access))
			}
		}
		if s["ip"] != "127.0.0.1" {
			t.Errorf("ip %v, want 127.0.0.1", s["ip"])
		}
	}
	if current != 1 {
		t.Fatalf("%d sessions marked current, want 1", current)
	}

	// Ended sessions are not listed.
	if r := c.do("POST", "/api/auth/logout", map[string]string{"refresh_token": first.Refresh}); r.Status != 204 {
		t.Fatalf("logout: %s", r)
	}
	if list := decodeList(t, c.get("/api/auth/sessions", second.Access)); len(list) != 1 {
		t.Fatalf("%d sessions after a logout, want 1", len(list))
	}
}

func TestDeleteSession(t *testing.T) {
	g := startGatehouse(t)
	c := newClient(t, g)
	email, a := c.newUser("del")
	b := c.login(email, testPassword)
	_, other := c.newUser("del-other")

	t.Run("another user's session is 404", func(t *testing.T) {
		r := c.do("DELETE", "/api/auth/sessions/"+sidOf(t, other.Access), nil, "Authorization", "Bearer "+a.Access)
		r.wantProblem(t, 404, "not_found")
		if r := c.get("/api/users/me", other.Access); r.Status != 200 {
			t.Fatalf("the other user's session ended: %s", r)
		}
	})
	t.Run("unknown and malformed ids are 404", func(t *testing.T) {
		for _, id := range []string{"0190aaaa-bbbb-7ccc-8ddd-eeeeffff0000", "nope", "%27%20OR%201%3D1"} {
			c.do("DELETE", "/api/auth/sessions/"+id, nil, "Authorization", "Bearer "+a.Access).wantProblem(t, 404, "not_found")
		}
	})
	t.Run("own session", func(t *testing.T) {
		r := c.do("DELETE", "/api/auth/sessions/"+sidOf(t, b.Access), nil, "Authorization", "Bearer "+a.Access)
		if r.Status != 204 {
			t.Fatalf("delete: %s", r)
		}
		eventually(t, time.Second, func() string {
			if r := c.get("/api/users/me", b.Access); r.Status != 401 {
				return "access token of the deleted session still accepted: " + r.String()
			}
			return ""
		})
		c.refresh(b.Refresh).wantProblem(t, 401, "session_revoked")
		if r := c.get("/api/users/me", a.Access); r.Status != 200 {
			t.Fatalf("the deleting session ended too: %s", r)
		}
		c.do("DELETE", "/api/auth/sessions/"+sidOf(t, b.Access), nil, "Authorization", "Bearer "+a.Access).wantProblem(t, 404, "not_found")
	})
}

func TestChangePassword(t *testing.T) {
	g := startGatehouse(t)
	c := newClient(t, g)
	email, keep := c.newUser("pw")
	other := c.login(email, testPassword)
	auth := []string{"Authorization", "Bearer " + keep.Access}

	wrong := c.do("POST", "/api/auth/password", map[string]string{"current_password": "not it at all", "new_password": "a brand new passphrase"}, auth...)
	wrong.wantProblem(t, 401, "invalid_credentials")
	// Every 401 of a bearer route challenges (RFC 6750 §3); the token was fine.
	if got := wrong.Header.Get("WWW-Authenticate"); got != `Bearer realm="gatehouse"` {
		t.Errorf("wrong current password: WWW-Authenticate %q", got)
	}
	c.do("POST", "/api/auth/password", map[string]string{"current_password": testPassword, "new_password": "short"}, auth...).
		wantProblem(t, 422, "validation_failed")
	c.do("POST", "/api/auth/password", map[string]string{"current_password": testPassword, "new_password": "a brand new passphrase"}).
		wantProblem(t, 401, "token_missing")

	r := c.do("POST", "/api/auth/password", map[string]string{"current_password": testPassword, "new_password": "a brand new passphrase"}, auth...)
	if r.Status != 204 {
		t.Fatalf("change: %s", r)
	}
	eventually(t, time.Second, func() string {
		if r := c.get("/api/users/me", other.Access); r.Status != 401 {
			return "other session's access token still accepted: " + r.String()
		}
		return ""
	})
	c.get("/api/users/me", other.Access).wantProblem(t, 401, "session_revoked")
	c.refresh(other.Refresh).wantProblem(t, 401, "session_revoked")
	if r := c.get("/api/users/me", keep.Access); r.Status != 200 {
		t.Fatalf("the current session ended: %s", r)
	}
	c.mustRefresh(keep.Refresh)
	c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": testPassword}).wantProblem(t, 401, "invalid_credentials")
	c.login(email, "a brand new passphrase")
}

func TestPosts(t *testing.T) {
	g := startGatehouse(t)
	c := newClient(t, g)
	_, alice := c.newUser("alice")
	_, bob := c.newUser("bob")
	as := []string{"Authorization", "Bearer " + alice.Access}
	bs := []string{"Authorization", "Bearer " + bob.Access}

	c.get("/api/posts", "").wantProblem(t, 401, "token_missing")
	c.do("POST", "/api/posts", map[string]string{"title": "", "body": "x"}, as...).wantProblem(t, 422, "validation_failed")
	c.do("POST", "/api/posts", map[string]string{"title": strings.Repeat("t", 201)}, as...).wantProblem(t, 422, "validation_failed")

	var ids []string
	for i := range 7 {
		hdr := as
		if i%2 == 1 {
			hdr = bs
		}
		r := c.do("POST", "/api/posts", map[string]string{"title": fmt.Sprintf("post %d", i), "body": "body"}, hdr...)
		if r.Status != 201 {
			t.Fatalf("create: %s", r)
		}
		p := r.obj(t)
		author, _ := p["author"].(map[string]any)
		if p["title"] != fmt.Sprintf("post %d", i) || author["id"] == "" || author["name"] != "Test User" || p["created_at"] == "" {
			t.Fatalf("post %s", r.Body)
		}
		ids = append(ids, p["id"].(string))
	}

	// Walk the pages: every post once, newest first.
	var seen []string
	cursor := ""
	for page := 0; page < 10; page++ {
		path := "/api/posts?limit=3"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := c.get(path, bob.Access)
		if r.Status != 200 {
			t.Fatalf("list: %s", r)
		}
		m := r.obj(t)
		items, _ := m["items"].([]any)
		if len(items) > 3 {
			t.Fatalf("%d items with limit=3", len(items))
		}
		for _, it := range items {
			seen = append(seen, it.(map[string]any)["id"].(string))
		}
		next, _ := m["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != len(ids) {
		t.Fatalf("paged through %d posts, want %d", len(seen), len(ids))
	}
	for i := range ids {
		if seen[i] != ids[len(ids)-1-i] {
			t.Fatalf("order %v, want newest first %v", seen, ids)
		}
	}
	c.do("GET", "/api/posts?limit=0", nil, malformed("limit out of range", "Authorization", "Bearer "+bob.Access)...).wantProblem(t, 422, "validation_failed")
	c.do("GET", "/api/posts?limit=abc", nil, malformed("limit not a number", "Authorization", "Bearer "+bob.Access)...).wantProblem(t, 422, "validation_failed")
	c.get("/api/posts?cursor=bogus", bob.Access).wantProblem(t, 422, "validation_failed")

	c.do("DELETE", "/api/posts/"+ids[0], nil, bs...).wantProblem(t, 403, "forbidden")
	if r := c.do("DELETE", "/api/posts/"+ids[0], nil, as...); r.Status != 204 {
		t.Fatalf("delete own: %s", r)
	}
	c.do("DELETE", "/api/posts/"+ids[0], nil, as...).wantProblem(t, 404, "not_found")
	c.do("DELETE", "/api/posts/not-an-id", nil, as...).wantProblem(t, 404, "not_found")
}

func TestWellKnownAndOperations(t *testing.T) {
	g := startGatehouse(t)
	c := newClient(t, g)
	_, tok := c.newUser("wk")

	t.Run("jwks", func(t *testing.T) {
		r := c.get("/.well-known/jwks.json", "")
		keys, _ := r.obj(t)["keys"].([]any)
		if r.Status != 200 || len(keys) != 1 {
			t.Fatalf("jwks: %s", r)
		}
		k := keys[0].(map[string]any)
		if k["kid"] != headerOf(t, tok.Access)["kid"] || k["alg"] != "EdDSA" || k["kty"] != "OKP" || k["use"] != "sig" {
			t.Fatalf("jwk %v does not describe the token's key", k)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Fatalf("jwk publishes private member %q", private)
			}
		}
	})
	t.Run("metadata", func(t *testing.T) {
		m := c.get("/.well-known/oauth-authorization-server", "").obj(t)
		if m["issuer"] != g.URL || m["jwks_uri"] != g.URL+"/.well-known/jwks.json" || m["token_endpoint"] != g.URL+"/api/auth/token" ||
			m["revocation_endpoint"] != g.URL+"/api/auth/revoke" {
			t.Fatalf("metadata %v", m)
		}
	})
	t.Run("health", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz"} {
			if r := c.get(p, ""); r.Status != 200 {
				t.Fatalf("%s: %s", p, r)
			}
		}
	})
	t.Run("metrics", func(t *testing.T) {
		r := c.get("/metrics", "")
		body := string(r.Body)
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("metrics: %d %s", r.Status, r.Header.Get("Content-Type"))
		}
		for _, want := range []string{`gatehouse_logins_total{result="success"} 1`, "gatehouse_http_request_duration_seconds_bucket", "gatehouse_registrations_total"} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %q", want)
			}
		}
	})
	t.Run("app routes serve HTML with a strict CSP", func(t *testing.T) {
		for _, p := range []string{"/", "/login", "/register", "/dashboard", "/sessions"} {
			r := c.get(p, "")
			if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("%s: %d %s", p, r.Status, r.Header.Get("Content-Type"))
			}
			csp := r.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Fatalf("%s: CSP %q", p, csp)
			}
			if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("X-Frame-Options") != "DENY" {
				t.Fatalf("%s lacks security headers: %v", p, r.Header)
			}
		}
	})
	t.Run("no secret in the logs", func(t *testing.T) {
		logs := g.logs.String()
		for _, secret := range []string{tok.Access, tok.Refresh, testPassword} {
			if strings.Contains(logs, secret) {
				t.Fatalf("the log contains a token or password")
			}
		}
		if !strings.Contains(logs, "request_id=") {
			t.Fatalf("requests are not logged with a request id:\n%s", logs)
		}
	})
}

// headerNames returns the response's header names, for messages.
func headerNames(h http.Header) []string {
	var out []string
	for k := range h {
		out = append(out, k)
	}
	return out
}
