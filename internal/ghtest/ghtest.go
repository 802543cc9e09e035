// Package ghtest starts a real Gatehouse in process on loopback, for the
// tests of the SDK packages (verify, client, examples): a real SQLite file,
// real keys, the real HTTP API, with a request counter in front.
package ghtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/internal/apitest"
	"github.com/gatehouse/gatehouse/server"
)

// Password passes Gatehouse's password policy.
const Password = "correct horse battery staple"

// Gatehouse is a running Gatehouse.
type Gatehouse struct {
	URL    string // the issuer
	Config server.Config
	Server *server.Server

	mu     sync.Mutex
	counts map[string]int
}

// Start runs a Gatehouse on a fresh SQLite file under t.TempDir(), with
// cheap password hashing, quick key reloads and no rate limits; mod may
// change the config. It stops when the test ends.
func Start(tb testing.TB, mod func(*server.Config)) *Gatehouse {
	tb.Helper()
	g, stop, err := launch(tb, tb.TempDir(), mod)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(stop)
	return g
}

// Launch is [Start] for code without a testing.TB (Example functions): it
// keeps its database in dir and runs until stop is called.
func Launch(dir string, mod func(*server.Config)) (g *Gatehouse, stop func(), err error) {
	return launch(nil, dir, mod)
}

// apiSpec is the OpenAPI description of the API.
var apiSpec = sync.OnceValue(func() *apitest.Spec { return apitest.MustParse(httpapi.OpenAPI) })

// launch is Launch; with a tb, every exchange the server sees is checked
// against the OpenAPI description (CONTRACT §9), each violation failing tb.
func launch(tb testing.TB, dir string, mod func(*server.Config)) (g *Gatehouse, stop func(), err error) {
	g = &Gatehouse{counts: map[string]int{}}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { g.Server.ServeHTTP(w, r) })
	if tb != nil {
		h = apitest.Handler(tb, apiSpec(), h)
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.counts[r.Method+" "+r.URL.Path]++
		g.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	g.URL = "http://" + ts.Listener.Addr().String()
	g.Config = server.DefaultConfig()
	g.Config.DB = "sqlite:" + filepath.Join(dir, "gatehouse.db")
	g.Config.Issuer = g.URL
	g.Config.PasswordParams.Memory, g.Config.PasswordParams.Time = 64, 1 // tests only: far below OWASP
	g.Config.HashWorkers = 2
	g.Config.KeyReload = 50 * time.Millisecond
	g.Config.RevocationPoll = 50 * time.Millisecond
	if mod != nil {
		mod(&g.Config)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, g.Config)
	if err != nil {
		cancel()
		ts.Listener.Close()
		return nil, nil, fmt.Errorf("server.New: %w", err)
	}
	g.Server = srv
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Run(ctx)
	}()
	ts.Start()
	return g, func() {
		ts.Close()
		cancel()
		<-done
		srv.Close()
	}, nil
}

// Count returns how many requests "METHOD /path" got so far.
func (g *Gatehouse) Count(method, path string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.counts[method+" "+path]
}

// Tokens is Gatehouse's token response.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
}

// Register creates a user with [Password].
func (g *Gatehouse) Register(tb testing.TB, email string) {
	tb.Helper()
	resp := g.post(tb, "/api/auth/register", map[string]string{"email": email, "password": Password, "name": "Test"})
	if resp.StatusCode != http.StatusCreated {
		tb.Fatalf("register %s: status %d", email, resp.StatusCode)
	}
}

// Login logs email in with [Password].
func (g *Gatehouse) Login(tb testing.TB, email string) Tokens {
	tb.Helper()
	resp := g.post(tb, "/api/auth/login", map[string]string{"email": email, "password": Password})
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("login %s: status %d", email, resp.StatusCode)
	}
	var t Tokens
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil {
		tb.Fatal(err)
	}
	return t
}

func (g *Gatehouse) post(tb testing.TB, path string, body any) *http.Response {
	tb.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(g.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	return resp
}

// Rotate makes a new signing key in the database, as "gatehouse keys
// rotate" does, and waits until the running server signs with it.
func (g *Gatehouse) Rotate(tb testing.TB) string {
	tb.Helper()
	k, err := server.RotateKey(context.Background(), g.Config)
	if err != nil {
		tb.Fatalf("rotate: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for g.Server.Tokens().Keys().SignerKID() != k.KID {
		if time.Now().After(deadline) {
			tb.Fatalf("the server did not switch to key %s within 10s", k.KID)
		}
		time.Sleep(10 * time.Millisecond) // polling the key ring
	}
	return k.KID
}

// Do sends a request with an optional bearer token and returns the status,
// headers and body.
func Do(tb testing.TB, method, url, bearer string, body io.Reader) (int, http.Header, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		tb.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// Email returns a unique address for a test.
func Email(tb testing.TB) string {
	return fmt.Sprintf("u%d-%d@example.com", time.Now().UnixNano(), emails.Add(1))
}

var emails atomic.Int64

// Clock is a settable clock, safe for concurrent use, for the Now hooks of
// the SDK's configs.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a Clock set to the current time.
func NewClock() *Clock {
	c := &Clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) { c.ns.Add(int64(d)) }
