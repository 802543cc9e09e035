package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
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
