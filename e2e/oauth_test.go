package e2e

import (
	"net/url"
	"testing"
)

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

var formType = []string{"Content-Type", "application/x-www-form-urlencoded"}

func TestOAuthTokenEndpoint(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	email := uniqueEmail("oauth")
	c.register(email)

	r := c.do("POST", "/api/auth/token", form("grant_type", "password", "username", email, "password", testPassword, "client_id", "ignored"), formType...)
	if r.Status != 200 || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("password grant: %s", r)
	}
	m := r.obj(t)
	if m["token_type"] != "bearer" || m["access_token"] == "" || m["refresh_token"] == "" || m["expires_in"] == nil {
		t.Fatalf("token response %s", r.Body)
	}
	if _, ok := m["user"]; ok {
		t.Fatal("the OAuth token response carries a user")
	}
	if me := c.get("/api/users/me", m["access_token"].(string)); me.Status != 200 {
		t.Fatalf("OAuth access token refused: %s", me)
	}

	r2 := c.do("POST", "/api/auth/token", form("grant_type", "refresh_token", "refresh_token", m["refresh_token"].(string)), formType...)
	if r2.Status != 200 || r2.str(t, "refresh_token") == m["refresh_token"] {
		t.Fatalf("refresh grant: %s", r2)
	}

	cases := []struct {
		name, body, wantError string
		status                int
	}{
		{"wrong password", form("grant_type", "password", "username", email, "password", "nope nope"), "invalid_grant", 400},
		{"garbage refresh token", form("grant_type", "refresh_token", "refresh_token", "garbage"), "invalid_grant", 400},
		{"reused refresh token", form("grant_type", "refresh_token", "refresh_token", "gate_rt_x"), "invalid_grant", 400},
		{"unsupported grant", form("grant_type", "authorization_code"), "unsupported_grant_type", 400},
		{"client_credentials without credentials", form("grant_type", "client_credentials"), "invalid_client", 401},
		{"no grant", form("username", email), "invalid_request", 400},
		{"repeated parameter", "grant_type=password&grant_type=refresh_token", "invalid_request", 400},
		{"missing refresh token", form("grant_type", "refresh_token"), "invalid_request", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do("POST", "/api/auth/token", tc.body, malformed("an error case", formType...)...)
			if r.Status != tc.status || r.str(t, "error") != tc.wantError {
				t.Fatalf("got %s, want %d %s", r, tc.status, tc.wantError)
			}
		})
	}
	t.Run("JSON body works too", func(t *testing.T) {
		r := c.do("POST", "/api/auth/token", map[string]string{"grant_type": "password", "username": email, "password": testPassword})
		if r.Status != 200 {
			t.Fatalf("%s", r)
		}
	})
}

func TestOAuthRevoke(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	email, a := c.newUser("revoke")
	b := c.login(email, testPassword)

	// RFC 7009 §2.2: 200 whatever the token.
	for _, tok := range []string{"garbage", "gate_rt_nothing"} {
		if r := c.do("POST", "/api/auth/revoke", form("token", tok), formType...); r.Status != 200 {
			t.Fatalf("revoke %q: %s", tok, r)
		}
	}
	c.do("POST", "/api/auth/revoke", form(), malformed("no token", formType...)...)
	if r := c.do("POST", "/api/auth/revoke", form("token", a.Refresh, "token_type_hint", "refresh_token"), formType...); r.Status != 200 {
		t.Fatalf("revoke refresh token: %s", r)
	}
	c.refresh(a.Refresh).wantProblem(t, 401, "session_revoked")
	revokedWithin(t, c, a.Access)

	if r := c.do("POST", "/api/auth/revoke", form("token", b.Access), formType...); r.Status != 200 {
		t.Fatalf("revoke access token: %s", r)
	}
	revokedWithin(t, c, b.Access)
}
