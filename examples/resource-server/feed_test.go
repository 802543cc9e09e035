package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/token"
)

// feedIssuer is the least of Gatehouse a feed follower needs: metadata, a
// JWK Set, the client-credentials grant for one client, and a revocation
// feed that session "revoked" is in. (Package verify's tests drive the
// follower itself against a complete fake of the feed.)
type feedIssuer struct {
	srv    *httptest.Server
	tokens *token.Tokens

	mu      sync.Mutex
	clients []string // client ids that got a token
}

func newFeedIssuer(t *testing.T) *feedIssuer {
	t.Helper()
	s, err := token.NewSealer(make([]byte, token.MinSecretSize))
	if err != nil {
		t.Fatal(err)
	}
	sk, err := token.GenerateKey(token.EdDSA, s, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ks, err := token.NewKeySet([]gatehouse.SigningKey{*sk}, s, nil, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	g := &feedIssuer{}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	if g.tokens, err = token.New(token.Config{Issuer: g.srv.URL, Audience: "gatehouse"}, ks); err != nil {
		t.Fatal(err)
	}
	return g
}

func (g *feedIssuer) serve(w http.ResponseWriter, r *http.Request) {
	answer := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	switch r.URL.Path {
	case "/.well-known/oauth-authorization-server":
		answer(200, map[string]string{"issuer": g.srv.URL, "jwks_uri": g.srv.URL + "/.well-known/jwks.json"})
	case "/.well-known/jwks.json":
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(g.tokens.Keys().JWKS())
	case "/api/auth/token":
		id, secret, _ := r.BasicAuth()
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		if r.PostFormValue("grant_type") != "client_credentials" || id != "api" || secret != "from-env" {
			answer(401, map[string]string{"error": "invalid_client"})
			return
		}
		g.mu.Lock()
		g.clients = append(g.clients, id)
		g.mu.Unlock()
		answer(200, map[string]any{"access_token": "client-token", "token_type": "bearer", "expires_in": 300})
	case "/api/auth/revocations":
		if r.Header.Get("Authorization") != "Bearer client-token" {
			answer(401, map[string]string{"code": "token_invalid"})
			return
		}
		if r.URL.Query().Get("after") == "0" {
			answer(200, map[string]any{"entries": []map[string]any{{"seq": 1, "sid": "revoked", "at": time.Now()}}, "last_seq": 1})
			return
		}
		select { // a short long poll
		case <-time.After(100 * time.Millisecond):
		case <-r.Context().Done():
		}
		answer(200, map[string]any{"entries": []any{}, "last_seq": 1})
	default:
		http.NotFound(w, r)
	}
}

func (g *feedIssuer) user(t *testing.T, sid string) string {
	t.Helper()
	now := time.Now().Truncate(time.Second)
	tok, err := g.tokens.Issue(&gatehouse.AccessClaims{
		Issuer: g.srv.URL, Subject: "u", Audience: []string{"gatehouse"},
		ExpiresAt: now.Add(time.Minute), IssuedAt: now, NotBefore: now, ID: "j", SessionID: sid,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func get(t *testing.T, url, bearer string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestFollowsFeed: the flag and the environment give the credentials, and
// the revoked session's token is refused once /healthz says ready.
func TestFollowsFeed(t *testing.T) {
	g := newFeedIssuer(t)
	env := map[string]string{"GATEHOUSE_CLIENT_SECRET": "from-env"}
	url := startEnv(t, func(k string) string { return env[k] },
		"--issuer", g.srv.URL, "--addr", "127.0.0.1:0", "--client-id", "api")
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, body := get(t, url+"/healthz", "")
		if status == 200 && strings.Contains(body, `"state":"live"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %d %s", status, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if status, body := get(t, url+"/api/hello", g.user(t, "revoked")); status != 401 || !strings.Contains(body, `"session_revoked"`) {
		t.Errorf("revoked session: %d %s", status, body)
	}
	if status, body := get(t, url+"/api/hello", g.user(t, "live")); status != 200 {
		t.Errorf("live session: %d %s", status, body)
	}

	// Without credentials: no feed, ready at once, nothing refused for it.
	plain := start(t, "--issuer", g.srv.URL, "--addr", "127.0.0.1:0")
	if status, body := get(t, plain+"/healthz", ""); status != 200 || !strings.Contains(body, `"state":"off"`) {
		t.Errorf("without credentials: %d %s", status, body)
	}
	if status, _ := get(t, plain+"/api/hello", g.user(t, "revoked")); status != 200 {
		t.Errorf("without credentials, revoked session: %d", status)
	}
	g.mu.Lock()
	n := len(g.clients)
	g.mu.Unlock()
	if n != 1 {
		t.Errorf("%d client tokens fetched, want 1 (by the follower only)", n)
	}

	// One half of the credentials is refused before anything is fetched.
	for _, env := range []map[string]string{{"GATEHOUSE_CLIENT_ID": "api"}, {"GATEHOUSE_CLIENT_SECRET": "x"}} {
		err := run(context.Background(), []string{"resource-server", "--issuer", g.srv.URL},
			func(k string) string { return env[k] }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--client-secret") {
			t.Errorf("%v: %v", env, err)
		}
	}
}
