package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/ghtest"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/verify"
)

// TestSurvivesExpiry logs in, calls the API, lets the access token expire
// (2 s lifetime, an API with no leeway), and calls it again in a new run.
func TestSurvivesExpiry(t *testing.T) {
	g := ghtest.Start(t, func(c *server.Config) { c.AccessTTL = 2 * time.Second })
	v, err := verify.New(context.Background(), verify.Config{Issuer: g.URL, Audience: "gatehouse", Leeway: -1})
	if err != nil {
		t.Fatal(err)
	}
	// The same service as examples/resource-server.
	mux := http.NewServeMux()
	mux.Handle("GET /api/hello", v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := verify.ClaimsFromContext(r.Context())
		_ = json.NewEncoder(w).Encode(map[string]string{"sub": c.Subject, "sid": c.SessionID})
	})))
	api := httptest.NewServer(mux)
	defer api.Close()

	email := ghtest.Email(t)
	g.Register(t, email)
	file := filepath.Join(t.TempDir(), "tokens.json")
	env := map[string]string{"GATEHOUSE_EMAIL": email, "GATEHOUSE_PASSWORD": ghtest.Password}
	cli := func(getenv func(string) string, args ...string) (string, error) {
		var out, errb bytes.Buffer
		full := append([]string{"cli", "--issuer", g.URL, "--api", api.URL, "--token-file", file}, args...)
		err := run(context.Background(), full, getenv, &out, &errb)
		return out.String(), err
	}
	withCreds := func(k string) string { return env[k] }
	noCreds := func(string) string { return "" }

	if out, err := cli(withCreds, "login"); err != nil || !strings.Contains(out, "logged in") {
		t.Fatalf("login: %q %v", out, err)
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", st, err)
	}
	first, err := cli(noCreds, "hello")
	if err != nil || !strings.Contains(first, `"sid"`) {
		t.Fatalf("hello: %q %v", first, err)
	}

	// Wait until the stored access token is refused as expired.
	stored, err := client.FileStore{Path: file}.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, _, body := ghtest.Do(t, "GET", api.URL+"/api/hello", stored.AccessToken, nil)
		if status == 401 && strings.Contains(string(body), "token_expired") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the access token never expired")
		}
		time.Sleep(50 * time.Millisecond) // polling the API
	}
	// A new run, without credentials: the stored refresh token carries it.
	again, err := cli(noCreds, "hello")
	if err != nil || again != first {
		t.Fatalf("hello after expiry: %q %v (want %q)", again, err, first)
	}
	if n := g.Count("POST", "/api/auth/refresh"); n < 1 {
		t.Fatalf("%d refreshes", n)
	}
	if n := g.Count("POST", "/api/auth/login"); n != 1 {
		t.Fatalf("%d logins, want 1", n)
	}

	if out, err := cli(noCreds, "logout"); err != nil || !strings.Contains(out, "logged out") {
		t.Fatalf("logout: %q %v", out, err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("token file after logout: %v", err)
	}
	if _, err := cli(noCreds, "hello"); err == nil || !strings.Contains(err.Error(), "not logged in") {
		t.Fatalf("hello after logout: %v", err)
	}
	// hello logs in by itself when credentials are there.
	if out, err := cli(withCreds, "hello"); err != nil || !strings.Contains(out, `"sid"`) {
		t.Fatalf("hello with credentials: %q %v", out, err)
	}
}

func TestUsageErrors(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, args := range [][]string{{}, {"fly"}, {"login", "extra"}, {"--bogus", "hello"}} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), append([]string{"cli", "--token-file", filepath.Join(t.TempDir(), "t")}, args...), noEnv, &out, &errb); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
