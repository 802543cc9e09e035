package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apitest"
)

// Service clients, introspection and the revocation feed (CONTRACT §10),
// on each store.

type serviceClient struct{ id, secret string }

func createClient(t *testing.T, g *instance, name string, scopes ...string) serviceClient {
	t.Helper()
	args := []string{"clients", "create", "--db", g.DB, "--name", name}
	for _, s := range scopes {
		args = append(args, "--scope", s)
	}
	out, err := runCLI(t, nil, "", args...)
	if err != nil {
		t.Fatalf("clients create: %v\n%s", err, out)
	}
	var c serviceClient
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "client_id: "); ok {
			c.id = v
		}
		if v, ok := strings.CutPrefix(line, "client_secret: "); ok {
			c.secret = v
		}
	}
	if c.id == "" || c.secret == "" {
		t.Fatalf("clients create printed %q", out)
	}
	return c
}

func basic(c serviceClient) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.id)+":"+url.QueryEscape(c.secret)))
}

func (sc serviceClient) token(t *testing.T, c *client, scope string) string {
	t.Helper()
	body := "grant_type=client_credentials"
	if scope != "" {
		body += "&scope=" + scope
	}
	r := c.do("POST", "/api/auth/token", body, "Content-Type", "application/x-www-form-urlencoded", "Authorization", basic(sc))
	if r.Status != 200 || r.obj(t)["refresh_token"] != nil {
		t.Fatalf("client_credentials: %s", r)
	}
	return r.str(t, "access_token")
}

func introspect(t *testing.T, c *client, sc serviceClient, token string) map[string]any {
	t.Helper()
	r := c.do("POST", "/api/auth/introspect", "token="+url.QueryEscape(token), "Content-Type", "application/x-www-form-urlencoded", "Authorization", basic(sc))
	if r.Status != 200 {
		t.Fatalf("introspect: %s", r)
	}
	return r.obj(t)
}

func TestServiceClientsAndIntrospection(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	svc := createClient(t, g, "api", "introspect", "revocations")
	feedOnly := createClient(t, g, "follower", "revocations")
	if out, err := runCLI(t, nil, "", "clients", "list", "--db", g.DB); err != nil || !strings.Contains(out, svc.id) || strings.Contains(out, svc.secret) {
		t.Fatalf("clients list: %v %q", err, out)
	}

	// The grant: form credentials too; wrong secret, unknown client, wrong scope.
	form := "grant_type=client_credentials&client_id=" + url.QueryEscape(svc.id) + "&client_secret=" + url.QueryEscape(svc.secret)
	r := c.do("POST", "/api/auth/token", form, "Content-Type", "application/x-www-form-urlencoded")
	if r.Status != 200 || r.str(t, "scope") != "introspect revocations" {
		t.Fatalf("form credentials: %s", r)
	}
	clientTok := r.str(t, "access_token")
	claims := claimsOf(t, clientTok)
	if claims["client_id"] != svc.id || claims["sub"] != svc.id || claims["sid"] != nil || claims["scope"] != "introspect revocations" {
		t.Fatalf("client token claims %v", claims)
	}
	for what, creds := range map[string]serviceClient{"wrong secret": {svc.id, svc.secret + "x"}, "unknown client": {"gh_nobody", svc.secret}} {
		r := c.do("POST", "/api/auth/token", "grant_type=client_credentials", "Content-Type", "application/x-www-form-urlencoded", "Authorization", basic(creds))
		if r.Status != 401 || r.str(t, "error") != "invalid_client" || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
			t.Fatalf("%s: %s", what, r)
		}
	}
	if r := c.do("POST", "/api/auth/token", "grant_type=client_credentials&scope=introspect", "Content-Type", "application/x-www-form-urlencoded", "Authorization", basic(feedOnly)); r.Status != 400 || r.str(t, "error") != "invalid_scope" {
		t.Fatalf("scope the client lacks: %s", r)
	}
	// User routes refuse a client's token.
	c.get("/api/users/me", clientTok).wantProblem(t, 401, "token_invalid")
	c.do("POST", "/api/auth/logout-all", nil, "Authorization", "Bearer "+clientTok).wantProblem(t, 401, "token_invalid")

	// Introspection of every kind of token.
	_, user := c.newUser("introspect")
	m := introspect(t, c, svc, user.Access)
	if m["active"] != true || m["sid"] != sidOf(t, user.Access) || m["sub"] != user.UserID || m["acr"] != "aal1" || m["token_type"] != "Bearer" || m["iss"] != g.URL {
		t.Fatalf("live access token: %v", m)
	}
	if m := introspect(t, c, svc, user.Refresh); m["active"] != true || m["token_type"] != "Refresh" || m["sid"] != sidOf(t, user.Access) {
		t.Fatalf("live refresh token: %v", m)
	}
	if m := introspect(t, c, svc, clientTok); m["active"] != true || m["client_id"] != svc.id || m["scope"] != "introspect revocations" || m["sid"] != nil {
		t.Fatalf("client token: %v", m)
	}
	next := c.mustRefresh(user.Refresh)
	if m := introspect(t, c, svc, user.Refresh); len(m) != 1 || m["active"] != false {
		t.Fatalf("rotated refresh token: %v", m)
	}
	// Introspecting the rotated token was no reuse: the session lives on.
	next = c.mustRefresh(next.Refresh)
	for what, tok := range map[string]string{
		"forged":                          user.Access[:len(user.Access)-4] + "AAAA",
		"garbage":                         "not-a-token",
		"refresh token of another server": "gate_rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	} {
		if m := introspect(t, c, svc, tok); len(m) != 1 || m["active"] != false {
			t.Fatalf("%s: %v", what, m)
		}
	}
	c.do("POST", "/api/auth/logout", map[string]string{"refresh_token": next.Refresh})
	eventually(t, time.Second, func() string {
		if m := introspect(t, c, svc, next.Access); m["active"] != false {
			return fmt.Sprintf("a logged-out session's access token is still active: %v", m)
		}
		return ""
	})
	// Without the introspect scope: 403; a deleted client: 401.
	r = c.do("POST", "/api/auth/introspect", "token=x", "Content-Type", "application/x-www-form-urlencoded", "Authorization", basic(feedOnly))
	if r.Status != 403 || r.str(t, "error") != "insufficient_scope" {
		t.Fatalf("introspect without the scope: %s", r)
	}
	if out, err := runCLI(t, nil, "", "clients", "delete", "--db", g.DB, "--id", svc.id); err != nil {
		t.Fatalf("clients delete: %v %s", err, out)
	}
	r = c.do("POST", "/api/auth/introspect", "token=x", "Content-Type", "application/x-www-form-urlencoded", "Authorization", basic(svc))
	if r.Status != 401 || r.str(t, "error") != "invalid_client" {
		t.Fatalf("deleted client: %s", r)
	}
	// Its token: refused on every instance within the client cache's 5 s.
	eventually(t, 7*time.Second, func() string {
		if r := c.get("/api/auth/revocations", clientTok); r.Status != 401 {
			return "a deleted client's token still works: " + r.String()
		}
		return ""
	})
}

type feedAnswer struct {
	Entries []struct {
		Seq int64     `json:"seq"`
		SID string    `json:"sid"`
		At  time.Time `json:"at"`
	} `json:"entries"`
	LastSeq int64 `json:"last_seq"`
}

func poll(t *testing.T, c *client, tok string, after int64, wait int) feedAnswer {
	t.Helper()
	r := c.get(fmt.Sprintf("/api/auth/revocations?after=%d&wait=%d", after, wait), tok)
	if r.Status != 200 {
		t.Fatalf("feed: %s", r)
	}
	var a feedAnswer
	if err := json.Unmarshal(r.Body, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestRevocationFeed(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	follower := createClient(t, g, "follower", "revocations")
	tok := follower.token(t, c, "")
	introspector := createClient(t, g, "introspector", "introspect")
	c.get("/api/auth/revocations", introspector.token(t, c, "")).wantProblem(t, 403, "insufficient_scope")
	_, user := c.newUser("feed-user")
	c.get("/api/auth/revocations", user.Access).wantProblem(t, 401, "token_invalid")

	start := poll(t, c, tok, 0, 0).LastSeq
	// Many followers wait at once; one logout reaches all within a second.
	const followers = 200
	var wg sync.WaitGroup
	got := make([]feedAnswer, followers)
	took := make([]time.Duration, followers)
	var logoutAt time.Time
	var mu sync.Mutex
	for i := range followers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = poll(t, c, tok, start, 20)
			mu.Lock()
			took[i] = time.Since(logoutAt)
			mu.Unlock()
		}()
	}
	time.Sleep(300 * time.Millisecond) // let them park
	mu.Lock()
	logoutAt = time.Now()
	mu.Unlock()
	c.do("POST", "/api/auth/logout", map[string]string{"refresh_token": user.Refresh})
	wg.Wait()
	sid := sidOf(t, user.Access)
	for i, a := range got {
		if len(a.Entries) != 1 || a.Entries[0].SID != sid || a.Entries[0].Seq <= start || a.LastSeq < a.Entries[0].Seq || a.Entries[0].At.IsZero() {
			t.Fatalf("follower %d: %+v", i, a)
		}
		if took[i] > time.Second {
			t.Fatalf("follower %d learnt of the logout after %v", i, took[i])
		}
	}

	// In order, and resumable: three revocations, read from where we were.
	after := got[0].LastSeq
	var sids []string
	for range 3 {
		_, u := c.newUser("feed-order")
		c.do("POST", "/api/auth/logout", map[string]string{"refresh_token": u.Refresh})
		sids = append(sids, sidOf(t, u.Access))
	}
	var seen []string
	for len(seen) < 3 {
		a := poll(t, c, tok, after, 5)
		for _, e := range a.Entries {
			if e.Seq <= after {
				t.Fatalf("entry %d repeated after %d", e.Seq, after)
			}
			seen = append(seen, e.SID)
		}
		after = a.LastSeq
	}
	if strings.Join(seen, ",") != strings.Join(sids, ",") {
		t.Fatalf("order %v, want %v", seen, sids)
	}
	// Nothing new: the wait runs out with no entries.
	if a := poll(t, c, tok, after, 1); len(a.Entries) != 0 || a.LastSeq != after {
		t.Fatalf("idle poll: %+v", a)
	}
	// A seq beyond the feed's end (a database restored from an older copy).
	r := c.get(fmt.Sprintf("/api/auth/revocations?after=%d", after+1000), tok)
	r.wantProblem(t, 410, "feed_gap")
	if r.obj(t)["first_seq"] != float64(after+1) {
		t.Fatalf("gap: %s", r)
	}
}

// Two instances on PostgreSQL: a follower of A learns of a logout made on
// B within a second.
func TestRevocationFeedAcrossInstances(t *testing.T) {
	onlyOn(t, "postgres", "needs two instances on one database")
	t.Parallel()
	a, b := startPair(t)
	ca, cb := newClient(t, a), newClient(t, b)
	follower := createClient(t, a, "follower", "revocations")
	tok := follower.token(t, ca, "")
	start := poll(t, ca, tok, 0, 0).LastSeq
	_, user := cb.newUser("feed-pair")
	done := make(chan feedAnswer, 1)
	go func() { done <- poll(t, ca, tok, start, 20) }()
	time.Sleep(200 * time.Millisecond)
	at := time.Now()
	cb.do("POST", "/api/auth/logout", map[string]string{"refresh_token": user.Refresh})
	got := <-done
	if len(got.Entries) != 1 || got.Entries[0].SID != sidOf(t, user.Access) {
		t.Fatalf("feed on A: %+v", got)
	}
	if d := time.Since(at); d > time.Second {
		t.Fatalf("the follower on A learnt of B's logout after %v", d)
	}
}

// Failed client authentications count like failed logins (CONTRACT §10,
// OWASP ASVS 2.2.1): per client and address, and per client from any
// address; past the limit even the right secret is answered 429, so that a
// guesser learns nothing, while another client is not held up.
func TestClientAuthenticationFailuresAreRateLimited(t *testing.T) {
	t.Parallel()
	form := "application/x-www-form-urlencoded"
	grant := func(c *client, sc serviceClient) *response {
		return c.do("POST", "/api/auth/token", "grant_type=client_credentials", "Content-Type", form, "Authorization", basic(sc))
	}
	limited := func(what string, r *response) {
		t.Helper()
		if r.Status != 429 || r.str(t, "error") != "rate_limited" {
			t.Fatalf("%s: %s", what, r)
		}
		if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
			t.Fatalf("%s: Retry-After %q", what, r.Header.Get("Retry-After"))
		}
	}

	// Per client and address: three failures, then 429 on both routes
	// that take a secret.
	g := startGatehouse(t, "--login-limit", "3/1h", "--account-limit", "0")
	c := newClient(t, g)
	svc := createClient(t, g, "guessed", "introspect", "revocations")
	other := createClient(t, g, "bystander", "revocations")
	wrong := serviceClient{svc.id, svc.secret + "x"}
	for i := range 3 {
		if r := grant(c, wrong); r.Status != 401 || r.str(t, "error") != "invalid_client" {
			t.Fatalf("wrong secret %d: %s", i+1, r)
		}
	}
	limited("a fourth wrong secret", grant(c, wrong))
	limited("the right secret past the limit", grant(c, svc))
	limited("introspection past the limit", c.do("POST", "/api/auth/introspect", "token=x", "Content-Type", form, "Authorization", basic(svc)))
	if r := grant(c, other); r.Status != 200 {
		t.Fatalf("another client from the same address: %s", r)
	}
	// Introspection's failures count too, against the same counter.
	bystanderWrong := serviceClient{other.id, other.secret + "x"}
	for i := range 3 {
		r := c.do("POST", "/api/auth/introspect", "token=x", "Content-Type", form, "Authorization", basic(bystanderWrong))
		if r.Status != 401 || r.str(t, "error") != "invalid_client" {
			t.Fatalf("introspection with a wrong secret %d: %s", i+1, r)
		}
	}
	limited("the token endpoint after failed introspections", grant(c, other))

	// Per client from any address: each failure from a new address.
	g = startGatehouse(t, "--login-limit", "0", "--account-limit", "3/1h")
	svc = createClient(t, g, "spread", "revocations")
	wrong = serviceClient{svc.id, svc.secret + "x"}
	from := func(i int) *client {
		hc := clientFrom(fmt.Sprintf("127.0.0.%d", i+2))
		return &client{t: t, base: g.URL, hc: &http.Client{Timeout: hc.Timeout, Transport: apitest.Transport(t, apiSpec, hc.Transport)}}
	}
	for i := range 3 {
		if r := grant(from(i), wrong); r.Status != 401 {
			t.Fatalf("wrong secret from address %d: %s", i, r)
		}
	}
	limited("a wrong secret from a fourth address", grant(from(3), wrong))
}

// TestIntrospectionOfEndedTokens: an expired token, and the tokens of a
// user an administrator disabled or deleted, introspect as
// {"active":false} and nothing more (RFC 7662 §2.2, CONTRACT §10); a live
// answer carries acr and amr (RFC 8176) as the session earned them.
func TestIntrospectionOfEndedTokens(t *testing.T) {
	t.Parallel()
	inactive := func(what string, m map[string]any) {
		t.Helper()
		if len(m) != 1 || m["active"] != false {
			t.Fatalf("%s: %v, want only {\"active\":false}", what, m)
		}
	}
	g := startGatehouse(t)
	c := newClient(t, g)
	svc := createClient(t, g, "api", "introspect")
	_, admin := newAdmin(t, g, "introspect-admin")

	// acr and amr, at aal1 and after a second factor.
	_, u := c.newUser("introspect-amr")
	if m := introspect(t, c, svc, u.Access); m["acr"] != "aal1" || fmt.Sprint(m["amr"]) != "[pwd]" {
		t.Fatalf("password session: %v", m)
	}
	_, _, aal2 := enrolTOTP(t, c, u.Access)
	m := introspect(t, c, svc, aal2)
	if m["active"] != true || m["acr"] != "aal2" || fmt.Sprint(m["amr"]) != "[pwd otp mfa]" {
		t.Fatalf("after a second factor: %v", m)
	}
	if m := introspect(t, c, svc, u.Refresh); m["active"] != true || m["acr"] != "aal2" || fmt.Sprint(m["amr"]) != "[pwd otp mfa]" {
		t.Fatalf("the stepped-up session's refresh token: %v", m)
	}

	// A disabled user: access and refresh token; enabling again does not
	// bring the ended session back.
	_, d := c.newUser("introspect-disabled")
	if m := introspect(t, c, svc, d.Access); m["active"] != true {
		t.Fatalf("live: %v", m)
	}
	path := "/api/admin/users/" + d.UserID
	if r := c.do("PATCH", path, map[string]any{"disabled": true}, bearer(admin.Access)...); r.Status != 200 {
		t.Fatalf("disable: %s", r)
	}
	inactive("a disabled user's access token", introspect(t, c, svc, d.Access))
	inactive("a disabled user's refresh token", introspect(t, c, svc, d.Refresh))
	if r := c.do("PATCH", path, map[string]any{"disabled": false}, bearer(admin.Access)...); r.Status != 200 {
		t.Fatalf("enable: %s", r)
	}
	inactive("the access token of a session ended by a disable, after the enable", introspect(t, c, svc, d.Access))

	// A deleted user.
	_, x := c.newUser("introspect-deleted")
	if m := introspect(t, c, svc, x.Access); m["active"] != true {
		t.Fatalf("live: %v", m)
	}
	if r := c.do("DELETE", "/api/admin/users/"+x.UserID, nil, bearer(admin.Access)...); r.Status != 204 {
		t.Fatalf("delete: %s", r)
	}
	inactive("a deleted user's access token", introspect(t, c, svc, x.Access))
	inactive("a deleted user's refresh token", introspect(t, c, svc, x.Refresh))

	// Expiry: a 1 s access token, of a user and of a client. The session
	// lives on, so its refresh token stays active.
	g = startGatehouse(t, "--access-ttl", "1s")
	c = newClient(t, g)
	svc = createClient(t, g, "api", "introspect")
	clientTok := svc.token(t, c, "") // first: it expires no later than the user's
	_, e := c.newUser("introspect-expired")
	exp := time.Unix(int64(claimsOf(t, e.Access)["exp"].(float64)), 0)
	// Verifiers allow other servers' clocks 5 s of leeway; introspection
	// is Gatehouse judging its own token by its own clock: none.
	eventually(t, time.Until(exp)+time.Second, func() string {
		if m := introspect(t, c, svc, e.Access); m["active"] != false {
			return fmt.Sprintf("an expired access token is active: %v", m)
		}
		return ""
	})
	t.Logf("the expired access token introspects inactive %v after its exp", time.Since(exp).Round(100*time.Millisecond))
	inactive("an expired access token", introspect(t, c, svc, e.Access))
	inactive("an expired client token", introspect(t, c, svc, clientTok))
	if m := introspect(t, c, svc, e.Refresh); m["active"] != true {
		t.Fatalf("the refresh token of the live session: %v", m)
	}
}
