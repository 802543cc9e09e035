package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/ghtest"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/verify"
)

// api is a resource server that trusts g: GET answers the subject, POST
// echoes the body it received.
func api(t *testing.T, g *ghtest.Gatehouse, leeway time.Duration) string {
	t.Helper()
	v, err := verify.New(context.Background(), verify.Config{Issuer: g.URL, Audience: "gatehouse", Leeway: leeway})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			// Read it all before answering: an HTTP/1 server may stop
			// reading the request once the response starts.
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			_, _ = w.Write(b)
			return
		}
		_, _ = io.WriteString(w, verify.ClaimsFromContext(r.Context()).Subject)
	})))
	t.Cleanup(ts.Close)
	return ts.URL
}

func newSession(t *testing.T, g *ghtest.Gatehouse, mod func(*client.Config)) (*client.Session, string) {
	t.Helper()
	email := ghtest.Email(t)
	g.Register(t, email)
	cfg := client.Config{URL: g.URL}
	if mod != nil {
		mod(&cfg)
	}
	s, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Login(context.Background(), email, ghtest.Password); err != nil {
		t.Fatal(err)
	}
	return s, email
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestTransportCallsProtectedAPI(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, nil)
	url := api(t, g, 0)
	s, _ := newSession(t, g, nil)
	c := &http.Client{Transport: &client.Transport{Source: s}}
	status, body := get(t, c, url)
	if status != 200 || body == "" {
		t.Fatalf("%d %q", status, body)
	}
	// Without the transport the API refuses.
	if status, _ := get(t, http.DefaultClient, url); status != 401 {
		t.Fatalf("without a token: %d", status)
	}
	// As an oauth2.TokenSource.
	oc := oauth2.NewClient(context.Background(), s.OAuth2(context.Background()))
	if status, b := get(t, oc, url); status != 200 || b != body {
		t.Fatalf("through oauth2: %d %q", status, b)
	}
	if n := g.Count("POST", "/api/auth/refresh"); n != 0 {
		t.Fatalf("%d refreshes for a fresh token", n)
	}
}

// TestConcurrentRequestsAcrossExpiry: 100 requests, each a POST with its
// own body, sent with a token the API already finds expired. Each gets
// 401 token_expired, all of them share one refresh, and each replayed body
// arrives intact.
func TestConcurrentRequestsAcrossExpiry(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, func(c *server.Config) { c.AccessTTL = 3 * time.Second })
	url := api(t, g, -1) // no leeway: the token expires at exp
	// The session's clock stands still, so it never renews early: only
	// the API's 401 can make it refresh.
	frozen := time.Now()
	s, _ := newSession(t, g, func(c *client.Config) { c.Now = func() time.Time { return frozen } })
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, _, body := ghtest.Do(t, "GET", url, tok.AccessToken, nil)
		if status == 401 && strings.Contains(string(body), "token_expired") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("token not expired at the API: %d %s", status, body)
		}
		time.Sleep(50 * time.Millisecond) // polling the API
	}

	c := &http.Client{Transport: &client.Transport{Source: s}}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := make([]byte, 8<<10+i)
			_, _ = rand.Read(body)
			resp, err := c.Post(url, "application/octet-stream", bytes.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !bytes.Equal(got, body) {
				errs <- fmt.Errorf("request %d: status %d, body intact %v (%d of %d bytes)", i, resp.StatusCode, bytes.Equal(got, body), len(got), len(body))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := g.Count("POST", "/api/auth/refresh"); n != 1 {
		t.Fatalf("%d refresh calls for 100 concurrent requests, want 1", n)
	}
}

// TestUnreplayableBodyIsNotResent: a body without GetBody gets the 401
// back; the session is refreshed all the same, so the next request works.
func TestUnreplayableBodyIsNotResent(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, func(c *server.Config) { c.AccessTTL = 2 * time.Second })
	url := api(t, g, -1)
	frozen := time.Now()
	s, _ := newSession(t, g, func(c *client.Config) { c.Now = func() time.Time { return frozen } })
	c := &http.Client{Transport: &client.Transport{Source: s}}
	deadline := time.Now().Add(15 * time.Second)
	for {
		req, _ := http.NewRequest("POST", url, io.NopCloser(strings.NewReader("once"))) // no GetBody
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 401 {
			if !strings.Contains(string(b), "token_expired") {
				t.Fatalf("401 body %s", b)
			}
			break
		}
		if string(b) != "once" {
			t.Fatalf("body %q", b)
		}
		if time.Now().After(deadline) {
			t.Fatal("token never expired")
		}
		time.Sleep(50 * time.Millisecond) // polling until the token expires
	}
	if n := g.Count("POST", "/api/auth/refresh"); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
	resp, err := c.Post(url, "text/plain", strings.NewReader("twice"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "twice" {
		t.Fatalf("after the refresh: %d %q", resp.StatusCode, b)
	}
}

// TestEarlyRefreshIsSingleFlight: 100 goroutines ask for a token once it
// is within the early-refresh margin; one refresh serves them all.
func TestEarlyRefreshIsSingleFlight(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, nil)
	clk := ghtest.NewClock()
	s, _ := newSession(t, g, func(c *client.Config) { c.Now = clk.Now })
	first, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// 15 min tokens renew 30 s before expiry.
	clk.Add(15*time.Minute - 29*time.Second)
	var wg sync.WaitGroup
	toks := make([]string, 100)
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk, err := s.Token(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			toks[i] = tk.AccessToken
		}()
	}
	wg.Wait()
	if n := g.Count("POST", "/api/auth/refresh"); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
	for _, tk := range toks {
		if tk == first.AccessToken || tk != toks[0] {
			t.Fatal("goroutines got different or stale tokens")
		}
	}
}

// failing is a RoundTripper that fails while down is set.
type failing struct{ down atomic.Bool }

func (f *failing) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.down.Load() {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, errors.New("connection refused (simulated)")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestNetworkErrorIsNotLogout: Gatehouse unreachable at refresh time
// keeps the tokens; once it is back, the session carries on.
func TestNetworkErrorIsNotLogout(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, nil)
	clk := ghtest.NewClock()
	net := &failing{}
	store := client.FileStore{Path: filepath.Join(t.TempDir(), "tokens.json")}
	s, _ := newSession(t, g, func(c *client.Config) {
		c.Now, c.HTTPClient, c.Store = clk.Now, &http.Client{Transport: net}, store
	})
	before, _ := store.Load(context.Background())
	net.down.Store(true)

	// Within the early-refresh margin but not expired: the current token
	// is still handed out.
	clk.Add(15*time.Minute - 10*time.Second)
	tk, err := s.Token(context.Background())
	if err != nil || tk.AccessToken != before.AccessToken {
		t.Fatalf("early refresh failing: %v", err)
	}
	// Expired: an error, but not a logout.
	clk.Add(time.Minute)
	_, err = s.Token(context.Background())
	if err == nil || errors.Is(err, client.ErrLoggedOut) {
		t.Fatalf("network error reported as %v", err)
	}
	var se *client.SessionError
	if errors.As(err, &se) {
		t.Fatal("network error is a SessionError")
	}
	if after, _ := store.Load(context.Background()); after == nil || after.RefreshToken != before.RefreshToken {
		t.Fatal("the stored tokens were dropped")
	}
	net.down.Store(false)
	tk, err = s.Token(context.Background())
	if err != nil || tk.AccessToken == before.AccessToken {
		t.Fatalf("after the network came back: %v", err)
	}
}

// TestEndedSessionIsTypedError: a refresh refused because the session was
// logged out elsewhere clears the tokens and says so with a type.
func TestEndedSessionIsTypedError(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, nil)
	store := client.FileStore{Path: filepath.Join(t.TempDir(), "tokens.json")}
	s, _ := newSession(t, g, func(c *client.Config) { c.Store = store })
	tok, _ := store.Load(context.Background())
	// Another program logs this session out.
	req, _ := http.NewRequest("POST", g.URL+"/api/auth/logout", strings.NewReader(`{"refresh_token":"`+tok.RefreshToken+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("logout: %v %v", err, resp)
	}
	resp.Body.Close()

	_, err = s.Refresh(context.Background(), "")
	var se *client.SessionError
	if !errors.As(err, &se) || !errors.Is(err, client.ErrLoggedOut) || !errors.Is(err, gatehouse.ErrSessionRevoked) {
		t.Fatalf("refresh of an ended session: %v", err)
	}
	if se.Err.Status != 401 || se.Err.Code != "session_revoked" {
		t.Fatalf("problem %+v", se.Err)
	}
	if got, err := store.Load(context.Background()); got != nil || err != nil {
		t.Fatalf("tokens still stored: %v %v", got, err)
	}
	if _, err := s.Token(context.Background()); !errors.Is(err, client.ErrLoggedOut) {
		t.Fatalf("Token after the end: %v", err)
	}
	// Through the Transport the typed error reaches the caller.
	c := &http.Client{Transport: &client.Transport{Source: s}}
	if _, err := c.Get(g.URL + "/api/users/me"); !errors.Is(err, client.ErrLoggedOut) {
		t.Fatalf("request after the end: %v", err)
	}
}

func TestLoginErrorsMapToSentinels(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, func(c *server.Config) { c.LoginLimit = gatehouse.Limit{N: 2, Window: time.Hour} })
	email := ghtest.Email(t)
	g.Register(t, email)
	s, err := client.New(client.Config{URL: g.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = s.Login(ctx, email, "wrong password, clearly")
	var e *client.Error
	if !errors.Is(err, gatehouse.ErrInvalidCredentials) || !errors.As(err, &e) || e.Status != 401 {
		t.Fatalf("wrong password: %v", err)
	}
	_ = s.Login(ctx, email, "wrong password, clearly")
	err = s.Login(ctx, email, ghtest.Password)
	if !errors.Is(err, gatehouse.ErrRateLimited) || !errors.As(err, &e) || e.RetryAfter == "" {
		t.Fatalf("over the limit: %v", err)
	}
	if _, err := s.Token(ctx); !errors.Is(err, client.ErrLoggedOut) {
		t.Fatalf("Token without login: %v", err)
	}
}

// TestFileStoreKeepsCLILoggedIn: a second Session over the same file (the
// next run of a CLI) needs no login, and Logout ends it for good.
func TestFileStoreKeepsCLILoggedIn(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, nil)
	url := api(t, g, 0)
	path := filepath.Join(t.TempDir(), "cfg", "tokens.json")
	s1, _ := newSession(t, g, func(c *client.Config) { c.Store = client.FileStore{Path: path} })
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, want 0600", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	want, _ := s1.Token(context.Background())

	s2, err := client.New(client.Config{URL: g.URL, Store: client.FileStore{Path: path}})
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &client.Transport{Source: s2}}
	if status, _ := get(t, c, url); status != 200 {
		t.Fatalf("second run: %d", status)
	}
	if err := s2.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("token file still there: %v", err)
	}
	// The refresh token is dead at Gatehouse too.
	resp, err := http.Post(g.URL+"/api/auth/refresh", "application/json", strings.NewReader(`{"refresh_token":"`+want.RefreshToken+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("refresh after logout: %d", resp.StatusCode)
	}
}

func TestFileStoreRefusesReadableFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens.json")
	fs := client.FileStore{Path: path}
	ctx := context.Background()
	if tk, err := fs.Load(ctx); tk != nil || err != nil {
		t.Fatalf("missing file: %v %v", tk, err)
	}
	tok := &client.Token{AccessToken: "a", RefreshToken: "r", Expiry: time.Unix(1e9, 0).UTC(), ExpiresIn: 900}
	if err := fs.Save(ctx, tok); err != nil {
		t.Fatal(err)
	}
	got, err := fs.Load(ctx)
	if err != nil || *got != *tok {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := fs.Load(ctx); !errors.Is(err, client.ErrInsecureFile) {
			t.Fatalf("mode %v: %v", mode, err)
		}
	}
	// Save replaces it with a 0600 file again.
	if err := fs.Save(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Load(ctx); err == nil {
		t.Fatal("empty token file accepted")
	}
	b, _ := json.Marshal(tok)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fs.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if err := fs.Clear(ctx); err != nil {
		t.Fatalf("second clear: %v", err)
	}
}

// TestEarlyRefreshMarginIsCapped: a margin longer than the token's life
// must not make every call refresh.
func TestEarlyRefreshMarginIsCapped(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, nil)
	clk := ghtest.NewClock()
	s, _ := newSession(t, g, func(c *client.Config) { c.EarlyRefresh, c.Now = time.Hour, clk.Now })
	for range 5 {
		if _, err := s.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := g.Count("POST", "/api/auth/refresh"); n != 0 {
		t.Fatalf("%d refreshes of a fresh token", n)
	}
	clk.Add(8 * time.Minute) // past half of the 15 min lifetime
	if _, err := s.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := g.Count("POST", "/api/auth/refresh"); n != 1 {
		t.Fatalf("%d refreshes past half the lifetime, want 1", n)
	}
}

// TestRedirectToAnotherHostGetsNoToken: an API that redirects elsewhere
// (an open redirect, a compromised link) must not receive the token there.
func TestRedirectToAnotherHostGetsNoToken(t *testing.T) {
	t.Parallel()
	g := ghtest.Start(t, nil)
	s, _ := newSession(t, g, nil)
	var seen atomic.Value
	seen.Store("unset")
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("Authorization"))
	}))
	defer other.Close()
	var sameHost atomic.Value
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/landing", http.StatusFound)
		case "/landing":
			sameHost.Store(r.Header.Get("Authorization"))
		}
	}))
	defer api.Close()
	c := &http.Client{Transport: &client.Transport{Source: s}}
	if status, _ := get(t, c, api.URL+"/away"); status != 200 {
		t.Fatal(status)
	}
	if got := seen.Load().(string); got != "" {
		t.Fatalf("the other host got Authorization %q", got)
	}
	if status, _ := get(t, c, api.URL+"/here"); status != 200 {
		t.Fatal(status)
	}
	if got, _ := sameHost.Load().(string); !strings.HasPrefix(got, "Bearer ") {
		t.Fatalf("a same-origin redirect lost the token: %q", got)
	}
}
