package verify_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/token"
	"github.com/gatehouse/gatehouse/verify"
)

// feedClock is real time plus an offset that tests move forward.
type feedClock struct{ offset atomic.Int64 }

func (c *feedClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *feedClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

type feedEntry struct {
	Seq int64     `json:"seq"`
	SID string    `json:"sid"`
	At  time.Time `json:"at"`
}

// fakeIssuer is an in-memory Gatehouse as a remote verifier sees it: RFC
// 8414 metadata, the JWK Set, the client-credentials grant and the
// revocation feed of CONTRACT §10, with switches to misbehave.
type fakeIssuer struct {
	t      *testing.T
	srv    *httptest.Server
	tokens *token.Tokens
	clock  *feedClock

	clientID, secret string
	expiresIn        atomic.Int64  // of client tokens, in seconds
	maxWait          time.Duration // the fake answers long polls sooner than asked

	drop        atomic.Bool // feed requests: connection closed, no answer
	tokenPosts  atomic.Int32
	feedGets    atomic.Int32
	feed401s    atomic.Int32
	wrongScopes atomic.Int32

	mu       sync.Mutex
	entries  []feedEntry // seq ascending; entries[i].Seq is not i+1 after pruning
	head     int64       // last seq ever appended
	firstSeq int64       // lowest seq held (head+1 when empty)
	since    time.Time   // every revocation at or after it is held
	afters   []int64     // the after= of every feed request
	clients  map[string]bool
	notify   chan struct{}
}

func newFakeIssuer(t *testing.T) *fakeIssuer {
	t.Helper()
	clock := &feedClock{}
	s, err := token.NewSealer(make([]byte, token.MinSecretSize))
	if err != nil {
		t.Fatal(err)
	}
	sk, err := token.GenerateKey(token.EdDSA, s, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	ks, err := token.NewKeySet([]gatehouse.SigningKey{*sk}, s, nil, clock.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	g := &fakeIssuer{
		t: t, clock: clock, clientID: "client 1", secret: "s3cret:+/=",
		maxWait:  200 * time.Millisecond,
		firstSeq: 1, since: clock.Now().Add(-24 * time.Hour),
		clients: map[string]bool{}, notify: make(chan struct{}),
	}
	g.expiresIn.Store(300)
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	g.tokens, err = token.New(token.Config{Issuer: g.srv.URL, Audience: "gatehouse", Now: clock.Now}, ks)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func (g *fakeIssuer) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/oauth-authorization-server":
		writeJSON(w, 200, map[string]string{"issuer": g.srv.URL, "jwks_uri": g.srv.URL + "/.well-known/jwks.json"})
	case "/.well-known/jwks.json":
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(g.tokens.Keys().JWKS())
	case "/api/auth/token":
		g.token(w, r)
	case "/api/auth/revocations":
		g.feed(w, r)
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (g *fakeIssuer) token(w http.ResponseWriter, r *http.Request) {
	g.tokenPosts.Add(1)
	if r.Method != http.MethodPost || r.PostFormValue("grant_type") != "client_credentials" {
		writeJSON(w, 400, map[string]string{"error": "invalid_request"})
		return
	}
	if sc := r.PostFormValue("scope"); sc != "" && sc != "revocations" {
		g.wrongScopes.Add(1)
	}
	// RFC 6749 §2.3.1: both halves are form-urlencoded inside Basic.
	id, secret, ok := r.BasicAuth()
	id, err1 := url.QueryUnescape(id)
	secret, err2 := url.QueryUnescape(secret)
	if !ok || err1 != nil || err2 != nil || id != g.clientID || secret != g.secret {
		writeJSON(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	tok := rand.Text()
	g.mu.Lock()
	g.clients[tok] = true
	g.mu.Unlock()
	writeJSON(w, 200, map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": g.expiresIn.Load(), "scope": "revocations"})
}

func (g *fakeIssuer) feed(w http.ResponseWriter, r *http.Request) {
	g.feedGets.Add(1)
	if g.drop.Load() {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	g.mu.Lock()
	known := g.clients[bearer]
	g.mu.Unlock()
	if !known {
		g.feed401s.Add(1)
		writeJSON(w, 401, map[string]string{"code": "token_invalid"})
		return
	}
	after, err1 := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	wait, err2 := strconv.Atoi(r.URL.Query().Get("wait"))
	if err1 != nil || err2 != nil || after < 0 || wait < 0 || wait > 60 {
		writeJSON(w, 400, map[string]string{"code": "invalid_request"})
		return
	}
	deadline := time.NewTimer(min(time.Duration(wait)*time.Second, g.maxWait))
	defer deadline.Stop()
	for {
		g.mu.Lock()
		g.afters = append(g.afters, after)
		if after < g.firstSeq-1 || after > g.head {
			first, since := g.firstSeq, g.since
			g.mu.Unlock()
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusGone)
			_ = json.NewEncoder(w).Encode(map[string]any{"type": "urn:gatehouse:problem:feed_gap", "status": 410,
				"code": "feed_gap", "first_seq": first, "since": since.Format(time.RFC3339Nano)})
			return
		}
		var out []feedEntry
		last := after
		for _, e := range g.entries {
			if e.Seq > after && len(out) < 1000 {
				out = append(out, e)
				last = e.Seq
			}
		}
		if len(out) == 0 {
			last = g.head
		}
		notify := g.notify
		g.mu.Unlock()
		if len(out) > 0 || wait == 0 {
			writeJSON(w, 200, map[string]any{"entries": append([]feedEntry{}, out...), "last_seq": last})
			return
		}
		select {
		case <-notify:
		case <-deadline.C:
			writeJSON(w, 200, map[string]any{"entries": []feedEntry{}, "last_seq": last})
			return
		case <-r.Context().Done():
			return
		}
		wait = 0 // answer what came, or nothing, at once now
	}
}

// revoke appends sessions to the feed at the clock's time.
func (g *fakeIssuer) revoke(sids ...string) {
	g.revokeAt(g.clock.Now(), sids...)
}

func (g *fakeIssuer) revokeAt(at time.Time, sids ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, sid := range sids {
		g.head++
		g.entries = append(g.entries, feedEntry{Seq: g.head, SID: sid, At: at})
	}
	close(g.notify)
	g.notify = make(chan struct{})
}

// prune drops the entries below first, as Gatehouse does with old ones,
// and sets the horizon the 410 announces.
func (g *fakeIssuer) prune(first int64, since time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for len(g.entries) > 0 && g.entries[0].Seq < first {
		g.entries = g.entries[1:]
	}
	g.firstSeq, g.since = first, since
}

// forgetClientTokens makes every client token issued so far invalid.
func (g *fakeIssuer) forgetClientTokens() {
	g.mu.Lock()
	clear(g.clients)
	g.mu.Unlock()
}

func (g *fakeIssuer) feedAfters() []int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int64(nil), g.afters...)
}

// user mints a user's access token for session sid, issued at iat and
// valid for life.
func (g *fakeIssuer) user(sid string, iat time.Time, life time.Duration) string {
	g.t.Helper()
	iat = iat.Truncate(time.Second)
	tok, err := g.tokens.Issue(&gatehouse.AccessClaims{
		Issuer: g.srv.URL, Subject: "user-" + sid, Audience: []string{"gatehouse"},
		ExpiresAt: iat.Add(life), IssuedAt: iat, NotBefore: iat,
		ID: rand.Text(), SessionID: sid,
	})
	if err != nil {
		g.t.Fatal(err)
	}
	return tok
}

// fresh mints a token for sid issued now, valid 15 minutes.
func (g *fakeIssuer) fresh(sid string) string {
	return g.user(sid, g.clock.Now(), 15*time.Minute)
}

// follower starts a verifier with the fake's credentials.
func (g *fakeIssuer) follower(mod func(*verify.Config)) *verify.Verifier {
	g.t.Helper()
	cfg := verify.Config{
		Issuer: g.srv.URL, Audience: "gatehouse", Now: g.clock.Now,
		ClientID: g.clientID, ClientSecret: g.secret,
	}
	if mod != nil {
		mod(&cfg)
	}
	v, err := verify.New(context.Background(), cfg)
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(func() { _ = v.Close() })
	return v
}

// eventually polls cond every 10 ms until it holds or limit passes, and
// returns how long that took.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// waitLive waits for v's follower to be live.
func waitLive(t *testing.T, v *verify.Verifier) {
	t.Helper()
	eventually(t, 5*time.Second, "feed live", func() bool { return v.FeedStatus().State == verify.FeedLive })
}

// verdict is the error code Verify answers for tok ("ok" when accepted).
func verdict(v *verify.Verifier, tok string) string {
	_, err := v.Verify(context.Background(), tok)
	if err == nil {
		return "ok"
	}
	c, ok := gatehouse.Code(err)
	if !ok {
		return fmt.Sprintf("internal: %v", err)
	}
	return c.Code
}
