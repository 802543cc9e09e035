package e2e

import (
	"strconv"
	"testing"
	"time"
)

// Two Gatehouse instances on one database, as behind a load balancer:
// every rule of CONTRACT §4 must hold whichever instance a request reaches.
// They run in one process (two "gatehouse serve" via cli.Run, each its own
// server.New), on the pass's store: one PostgreSQL schema, or one SQLite
// file shared the way two processes on one machine would share it.

// lbIssuer is the issuer both instances of a pair are configured with, as
// instances behind one load balancer are.
const lbIssuer = "http://gatehouse.test"

// startPair starts two instances on one fresh database of the pass's store.
func startPair(t *testing.T, args ...string) (a, b *instance) {
	t.Helper()
	dir := t.TempDir()
	db := store.newDB(t, dir)
	args = append([]string{"--issuer", lbIssuer}, args...)
	a = startGatehouseOn(t, dir, db, args...)
	b = startGatehouseOn(t, dir, db, args...)
	return a, b
}

func TestTwoInstances(t *testing.T) {
	t.Parallel()
	a, b := startPair(t)
	ca, cb := newClient(t, a), newClient(t, b)

	t.Run("token from A works on B", func(t *testing.T) {
		t.Parallel()
		_, tok := ca.newUser("ab-token")
		if r := cb.get("/api/users/me", tok.Access); r.Status != 200 {
			t.Fatalf("B refuses A's access token: %s", r)
		}
	})

	t.Run("refresh on B with A's token", func(t *testing.T) {
		t.Parallel()
		_, tok := ca.newUser("ab-refresh")
		next := cb.mustRefresh(tok.Refresh)
		if r := ca.get("/api/users/me", next.Access); r.Status != 200 {
			t.Fatalf("A refuses B's access token: %s", r)
		}
		ca.mustRefresh(next.Refresh) // and back on A
	})

	t.Run("logout on B refuses A's access token within 1s", func(t *testing.T) {
		t.Parallel()
		_, tok := ca.newUser("ab-logout")
		// A has the session in its cache, as live: only the feed can tell it.
		if r := ca.get("/api/users/me", tok.Access); r.Status != 200 {
			t.Fatalf("%s", r)
		}
		if r := cb.do("POST", "/api/auth/logout", map[string]string{"refresh_token": tok.Refresh}); r.Status != 204 {
			t.Fatalf("logout on B: %s", r)
		}
		t.Logf("A refused the access token %v after the logout on B", revokedWithin(t, ca, tok.Access))
		ca.refresh(tok.Refresh).wantProblem(t, 401, "session_revoked")
	})

	t.Run("logout-all on A ends the sessions B knows", func(t *testing.T) {
		t.Parallel()
		email, s1 := cb.newUser("ab-all")
		s2 := cb.login(email, testPassword)
		for _, tok := range []tokens{s1, s2} {
			if r := cb.get("/api/users/me", tok.Access); r.Status != 200 {
				t.Fatalf("%s", r)
			}
		}
		if r := ca.do("POST", "/api/auth/logout-all", nil, "Authorization", "Bearer "+s1.Access); r.Status != 204 {
			t.Fatalf("logout-all on A: %s", r)
		}
		revokedWithin(t, cb, s1.Access)
		revokedWithin(t, cb, s2.Access)
	})

	t.Run("refresh race split across A and B converges", func(t *testing.T) {
		t.Parallel()
		_, t0 := ca.newUser("ab-race")
		cb.mustRefresh(raceRefresh(t, t0.Refresh, ca, cb))
	})
}

func TestTwoInstancesReuseDetected(t *testing.T) {
	t.Parallel()
	a, b := startPair(t, "--reuse-grace", "0s")
	ca, cb := newClient(t, a), newClient(t, b)
	_, t0 := ca.newUser("ab-reuse")
	if r := ca.get("/api/users/me", t0.Access); r.Status != 200 { // cached live on A
		t.Fatalf("%s", r)
	}
	t1 := cb.mustRefresh(t0.Refresh)
	// The retired token comes back to A: theft, and the session ends everywhere.
	ca.refresh(t0.Refresh).wantProblem(t, 401, "refresh_token_reused")
	cb.refresh(t1.Refresh).wantProblem(t, 401, "session_revoked")
	revokedWithin(t, cb, t1.Access)
	revokedWithin(t, ca, t0.Access)
}

// TestTwoInstancesShareRateLimits: failures on A and on B count against
// one limit (the counters are in the database).
func TestTwoInstancesShareRateLimits(t *testing.T) {
	t.Parallel()
	a, b := startPair(t, "--login-limit", "4/1h")
	ca, cb := newClient(t, a), newClient(t, b)
	email := uniqueEmail("ab-limit")
	ca.register(email)
	for i := range 4 {
		c := ca
		if i%2 == 1 {
			c = cb
		}
		c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": "wrong " + strconv.Itoa(i)}).
			wantProblem(t, 401, "invalid_credentials")
	}
	// Two failures on each instance: over the limit of 4 on both.
	for _, c := range []*client{ca, cb} {
		c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": testPassword}).
			wantProblem(t, 429, "rate_limited")
	}
}

// TestTwoInstancesKeyRotation: `gatehouse keys rotate` while both run:
// both sign with the new key within 5 s, and both verify tokens of both
// keys, whichever instance signed them.
func TestTwoInstancesKeyRotation(t *testing.T) {
	t.Parallel()
	a, b := startPair(t, "--access-ttl", "1h")
	ca, cb := newClient(t, a), newClient(t, b)
	email, before := ca.newUser("ab-rotate")
	oldKid := headerOf(t, before.Access)["kid"]
	if kb := headerOf(t, cb.login(email, testPassword).Access)["kid"]; kb != oldKid {
		t.Fatalf("the instances sign with different keys before the rotation: %v, %v", oldKid, kb)
	}

	out, err := runCLI(t, nil, "", "keys", "rotate", "--db", a.DB)
	if err != nil {
		t.Fatalf("keys rotate: %v %s", err, out)
	}
	newTokens := map[string]tokens{}
	for name, c := range map[string]*client{"A": ca, "B": cb} {
		waited := eventually(t, 5*time.Second, func() string {
			tok := c.login(email, testPassword)
			if headerOf(t, tok.Access)["kid"] == oldKid {
				return name + " still signs with the old key"
			}
			newTokens[name] = tok
			return ""
		})
		t.Logf("%s signed with the new key %v after the rotation", name, waited)
	}
	if headerOf(t, newTokens["A"].Access)["kid"] != headerOf(t, newTokens["B"].Access)["kid"] {
		t.Fatal("the instances sign with different new keys")
	}
	for _, c := range []*client{ca, cb} {
		for _, tok := range []string{before.Access, newTokens["A"].Access, newTokens["B"].Access} {
			if r := c.get("/api/users/me", tok); r.Status != 200 {
				t.Fatalf("%s refuses a token of one of the keys: %s", c.base, r)
			}
		}
		if keys, _ := c.get("/.well-known/jwks.json", "").obj(t)["keys"].([]any); len(keys) != 2 {
			t.Fatalf("%s: JWKS has %d keys, want the old and the new", c.base, len(keys))
		}
	}
}
