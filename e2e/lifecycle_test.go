package e2e

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/cli"
)

// Tests of CONTRACT §4, the session rules.

func TestRotationGraceAndReuse(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t, "--reuse-grace", "1s")
	c := newClient(t, g)
	_, t0 := c.newUser("rot")

	t1 := c.mustRefresh(t0.Refresh)
	if t1.Refresh == t0.Refresh || t1.Access == t0.Access {
		t.Fatal("refresh did not rotate both tokens")
	}
	if sidOf(t, t1.Access) != sidOf(t, t0.Access) {
		t.Fatal("rotation changed the session")
	}
	// Within the grace: the retired token gets the session's current token.
	again := c.mustRefresh(t0.Refresh)
	if again.Refresh != t1.Refresh {
		t.Fatal("the retired token within the grace did not get the session's current refresh token")
	}
	if again.Access == "" || again.Access == t1.Access {
		t.Fatal("the grace answer lacks a fresh access token")
	}
	// After the grace: theft. The session ends.
	time.Sleep(1200 * time.Millisecond)
	c.refresh(t0.Refresh).wantProblem(t, 401, "refresh_token_reused")
	c.refresh(t1.Refresh).wantProblem(t, 401, "session_revoked")
	eventually(t, time.Second, func() string {
		if r := c.get("/api/users/me", t1.Access); r.Status != 401 || r.str(t, "code") != "session_revoked" {
			return "access token of the reused session: " + r.String()
		}
		return ""
	})
	if !strings.Contains(c.get("/metrics", "").String(), "gatehouse_refresh_token_reuse_detections_total 1") {
		t.Error("the reuse detection is not counted in /metrics")
	}
}

func TestGraceCoversOlderGenerations(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t, "--reuse-grace", "5s")
	c := newClient(t, g)
	_, t0 := c.newUser("older")
	t1 := c.mustRefresh(t0.Refresh)
	t2 := c.mustRefresh(t1.Refresh)
	// t0 was retired seconds ago at most: still within its grace.
	if got := c.mustRefresh(t0.Refresh); got.Refresh != t2.Refresh {
		t.Fatal("an older generation within its grace did not get the current token")
	}
}

func TestNoGraceWhenZero(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t, "--reuse-grace", "0s")
	c := newClient(t, g)
	_, t0 := c.newUser("nograce")
	c.mustRefresh(t0.Refresh)
	c.refresh(t0.Refresh).wantProblem(t, 401, "refresh_token_reused")
}

func TestRefreshRaceMakesOneSuccessor(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	_, t0 := c.newUser("race")

	successor := raceRefresh(t, t0.Refresh, c)
	c.mustRefresh(successor)
}

// raceRefresh sends 24 refreshes of one token at once, spread over the
// clients (instances), and checks the §4 rule: every one succeeds (the
// grace absorbs the race; no spurious reuse) and all get the same single
// successor, which it returns.
func raceRefresh(t *testing.T, token string, clients ...*client) string {
	t.Helper()
	const n = 24
	var wg sync.WaitGroup
	results := make([]*response, n)
	start := make(chan struct{})
	for i := range n {
		c := clients[i%len(clients)]
		wg.Go(func() {
			<-start
			results[i] = c.refresh(token)
		})
	}
	close(start)
	wg.Wait()
	successors := map[string]bool{}
	for _, r := range results {
		if r.Status != 200 {
			t.Fatalf("a racing refresh failed (a spurious reuse?): %s", r)
		}
		successors[r.str(t, "refresh_token")] = true
	}
	if len(successors) != 1 {
		t.Fatalf("%d different successors, want exactly 1", len(successors))
	}
	for rt := range successors {
		return rt
	}
	return ""
}

func TestRefreshFailures(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	_, tok := c.newUser("rf")
	other := startGatehouse(t)
	oc := newClient(t, other)
	_, foreign := oc.newUser("rf-foreign")

	flip := []byte(tok.Refresh)
	flip[len(flip)-5] ^= 0x01
	for name, bad := range map[string]string{
		"garbage":                 "garbage",
		"access token as refresh": tok.Access,
		"altered":                 string(flip),
		"another server's token":  foreign.Refresh,
		"prefix only":             "gate_rt_",
		"very long":               "gate_rt_" + strings.Repeat("A", 5000),
	} {
		t.Run(name, func(t *testing.T) {
			c.refresh(bad).wantProblem(t, 401, "refresh_token_invalid")
		})
	}
	t.Run("no token", func(t *testing.T) {
		c.do("POST", "/api/auth/refresh", map[string]string{}).wantProblem(t, 401, "refresh_token_invalid")
	})
	t.Run("still valid after the failures", func(t *testing.T) {
		c.mustRefresh(tok.Refresh)
	})
}

func TestRefreshIdleExpiry(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t, "--refresh-ttl", "1s")
	c := newClient(t, g)
	_, tok := c.newUser("idle")
	tok = c.mustRefresh(tok.Refresh) // each rotation starts the idle lifetime again
	time.Sleep(1100 * time.Millisecond)
	c.refresh(tok.Refresh).wantProblem(t, 401, "refresh_token_expired")
}

func TestSessionAbsoluteExpiry(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t, "--session-ttl", "2s", "--access-ttl", "1s", "--refresh-ttl", "1h")
	c := newClient(t, g)
	_, tok := c.newUser("abs")
	deadline := time.Now().Add(2 * time.Second)
	for time.Until(deadline) > 400*time.Millisecond {
		tok = c.mustRefresh(tok.Refresh)
		time.Sleep(250 * time.Millisecond)
	}
	time.Sleep(time.Until(deadline) + 100*time.Millisecond)
	c.refresh(tok.Refresh).wantProblem(t, 401, "refresh_token_expired")
}

func TestAccessTokenExpiry(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t, "--access-ttl", "1s")
	c := newClient(t, g)
	_, tok := c.newUser("exp")
	if r := c.get("/api/users/me", tok.Access); r.Status != 200 {
		t.Fatalf("fresh token: %s", r)
	}
	// Verifiers allow 5 s of clock skew (CONTRACT §3), so the token is
	// refused from exp + 5 s.
	waited := eventually(t, 9*time.Second, func() string {
		if r := c.get("/api/users/me", tok.Access); r.Status != 401 {
			return "expired token accepted: " + r.String()
		}
		return ""
	})
	if waited < 4*time.Second {
		t.Fatalf("refused after %v: the leeway is shorter than 5 s", waited)
	}
	r := c.get("/api/users/me", tok.Access)
	r.wantProblem(t, 401, "token_expired")
	if !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
	}
	c.mustRefresh(tok.Refresh) // the refresh token outlives it
}

// revokedWithin checks that an access token is refused with session_revoked
// within one second (CONTRACT §4) and returns how long it took.
func revokedWithin(t *testing.T, c *client, access string) time.Duration {
	t.Helper()
	return eventually(t, time.Second, func() string {
		r := c.get("/api/users/me", access)
		if r.Status != 401 || r.str(t, "code") != "session_revoked" {
			return "still accepted: " + r.String()
		}
		return ""
	})
}

func TestLogout(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	_, tok := c.newUser("logout")
	r := c.do("POST", "/api/auth/logout", map[string]string{"refresh_token": tok.Refresh})
	if r.Status != 204 || len(r.Body) != 0 {
		t.Fatalf("logout: %s", r)
	}
	t.Logf("access token refused %v after logout", revokedWithin(t, c, tok.Access))
	c.refresh(tok.Refresh).wantProblem(t, 401, "session_revoked")
	for _, again := range []any{map[string]string{"refresh_token": tok.Refresh}, map[string]string{"refresh_token": "garbage"}, map[string]string{}} {
		if r := c.do("POST", "/api/auth/logout", again); r.Status != 204 {
			t.Fatalf("logout is not idempotent: %s", r)
		}
	}
}

func TestLogoutAll(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	email, a := c.newUser("all")
	b := c.login(email, testPassword)
	_, other := c.newUser("all-other")

	c.do("POST", "/api/auth/logout-all", nil).wantProblem(t, 401, "token_missing")
	if r := c.do("POST", "/api/auth/logout-all", nil, "Authorization", "Bearer "+a.Access); r.Status != 204 {
		t.Fatalf("logout-all: %s", r)
	}
	revokedWithin(t, c, a.Access)
	revokedWithin(t, c, b.Access)
	c.refresh(a.Refresh).wantProblem(t, 401, "session_revoked")
	c.refresh(b.Refresh).wantProblem(t, 401, "session_revoked")
	if r := c.get("/api/users/me", other.Access); r.Status != 200 {
		t.Fatalf("another user's session ended: %s", r)
	}
}

func TestCLIRevocationReachesRunningServer(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	email, tok := c.newUser("cli-revoke")
	var out strings.Builder
	err := cli.Run(context.Background(), []string{"gatehouse", "sessions", "revoke", "--email", email, "--db", g.DB}, noEnv, strings.NewReader(""), &out, &out)
	if err != nil {
		t.Fatalf("sessions revoke: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "revoked 1 session") {
		t.Fatalf("output %q", out.String())
	}
	t.Logf("access token refused %v after the CLI revoked it", revokedWithin(t, c, tok.Access))
	c.refresh(tok.Refresh).wantProblem(t, 401, "session_revoked")
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t, "--login-limit", "3/2s")
	c := newClient(t, g)
	email := uniqueEmail("limit")
	c.register(email)
	unknown := uniqueEmail("limit-unknown")

	for _, who := range []string{email, unknown} {
		for i := range 3 {
			r := c.do("POST", "/api/auth/login", map[string]string{"email": who, "password": "wrong password " + strconv.Itoa(i)})
			r.wantProblem(t, 401, "invalid_credentials")
		}
	}
	// Over the limit: 429 even with the right password, and alike for an
	// unknown email.
	r := c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": testPassword})
	r.wantProblem(t, 429, "rate_limited")
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 2 {
		t.Fatalf("Retry-After %q, want 1..2", r.Header.Get("Retry-After"))
	}
	c.do("POST", "/api/auth/login", map[string]string{"email": unknown, "password": "x"}).wantProblem(t, 429, "rate_limited")
	c.do("POST", "/api/auth/token", "grant_type=password&username="+email+"&password=x",
		"Content-Type", "application/x-www-form-urlencoded").wantProblem429(t)

	// Another account from the same address is not affected.
	_, _ = c.newUser("limit-bystander")

	// After the window the right password works, and a success clears the count.
	time.Sleep(2100 * time.Millisecond)
	c.login(email, testPassword)
	for range 2 {
		c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": "wrong"}).wantProblem(t, 401, "invalid_credentials")
	}
	c.login(email, testPassword)
	for range 2 {
		c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": "wrong"}).wantProblem(t, 401, "invalid_credentials")
	}
	c.login(email, testPassword) // 2 failures since the last success: under the limit
}

// wantProblem429 checks the OAuth password grant's rate-limit answer.
func (r *response) wantProblem429(t testing.TB) {
	t.Helper()
	if r.Status != 429 || r.Header.Get("Retry-After") == "" || r.str(t, "code") != "rate_limited" {
		t.Fatalf("OAuth password grant over the limit: %s (Retry-After %q)", r, r.Header.Get("Retry-After"))
	}
}

func TestRegisterRateLimit(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t, "--register-limit", "2/1h")
	c := newClient(t, g)
	c.register(uniqueEmail("reglimit"))
	c.do("POST", "/api/auth/register", map[string]string{"email": "bad", "password": testPassword}).wantProblem(t, 422, "validation_failed")
	r := c.do("POST", "/api/auth/register", map[string]string{"email": uniqueEmail("reglimit"), "password": testPassword})
	r.wantProblem(t, 429, "rate_limited")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
}

func TestLimitsOff(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t, "--login-limit", "0", "--account-limit", "0", "--register-limit", "0")
	c := newClient(t, g)
	email := uniqueEmail("nolimit")
	c.register(email)
	for range 25 {
		c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": "wrong"}).wantProblem(t, 401, "invalid_credentials")
	}
	c.login(email, testPassword)
}
