package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/ghtest"
)

// start runs the resource server in process against g and returns its URL.
func start(t *testing.T, args ...string) string {
	return startEnv(t, func(string) string { return "" }, args...)
}

// startEnv is start with an environment.
func startEnv(t *testing.T, getenv func(string) string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"resource-server"}, args...), getenv, w, io.Discard)
		w.CloseWithError(io.EOF)
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("resource server did not stop")
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("resource server did not start: %v (%v)", err, <-done)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	_, url, _ := strings.Cut(strings.TrimSpace(line), "listening on ")
	return url
}

func TestHello(t *testing.T) {
	g := ghtest.Start(t, nil)
	url := start(t, "--issuer", g.URL, "--audience", "gatehouse", "--addr", "127.0.0.1:0") + "/api/hello"
	email := ghtest.Email(t)
	g.Register(t, email)
	tok := g.Login(t, email)

	status, h, body := ghtest.Do(t, "GET", url, tok.AccessToken, nil)
	if status != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", status, body)
	}
	var got map[string]string
	if err := json.Unmarshal(body, &got); err != nil || len(got) != 2 || got["sub"] == "" || got["sid"] == "" {
		t.Fatalf("body %s", body)
	}

	for _, tc := range []struct{ bearer, code, challenge string }{
		{"", "token_missing", `Bearer realm="gatehouse"`},
		{"garbage", "token_invalid", `Bearer realm="gatehouse", error="invalid_token", error_description="the access token is invalid"`},
		{tok.RefreshToken, "token_invalid", `Bearer realm="gatehouse", error="invalid_token", error_description="the access token is invalid"`},
	} {
		status, h, body := ghtest.Do(t, "GET", url, tc.bearer, nil)
		var p struct {
			Status int
			Code   string
		}
		_ = json.Unmarshal(body, &p)
		if status != 401 || p.Status != 401 || p.Code != tc.code || h.Get("Content-Type") != "application/problem+json" || h.Get("WWW-Authenticate") != tc.challenge {
			t.Errorf("bearer %.10q: %d %v %s", tc.bearer, status, h, body)
		}
	}

	// A rotated key is picked up by itself.
	g.Rotate(t)
	fresh := g.Login(t, email)
	if status, _, body := ghtest.Do(t, "GET", url, fresh.AccessToken, nil); status != 200 {
		t.Fatalf("after rotation: %d %s", status, body)
	}
	if status, _, _ := ghtest.Do(t, "GET", url, tok.AccessToken, nil); status != 200 {
		t.Fatalf("old key's token after rotation: %d", status)
	}
	if n := g.Count("GET", "/.well-known/jwks.json"); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2", n)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--issuer", "ftp://x"},
		{"--issuer", "http://127.0.0.1:1"}, // nobody there
		{"--bogus"},
		{"--issuer", "http://x", "extra"},
	} {
		if err := run(context.Background(), append([]string{"resource-server"}, args...), func(string) string { return "" }, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestRevokedSessionRefused runs against a real Gatehouse: with a service
// client's credentials the resource server follows the revocation feed and
// refuses a logged-out session's access token within a second, as
// Gatehouse's own routes do (CONTRACT §10).
func TestRevokedSessionRefused(t *testing.T) {
	g := ghtest.Start(t, nil)
	client, secret, err := g.Server.Service().CreateClient(context.Background(), "api", []string{"revocations"})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GATEHOUSE_CLIENT_ID": client.ID, "GATEHOUSE_CLIENT_SECRET": secret}
	url := startEnv(t, func(k string) string { return env[k] }, "--issuer", g.URL, "--addr", "127.0.0.1:0")
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, _, body := ghtest.Do(t, "GET", url+"/healthz", "", nil)
		if status == 200 && strings.Contains(string(body), `"state":"live"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("feed not live: %d %s", status, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	email := ghtest.Email(t)
	g.Register(t, email)
	tok := g.Login(t, email)
	other := g.Login(t, email)
	if status, _, body := ghtest.Do(t, "GET", url+"/api/hello", tok.AccessToken, nil); status != 200 {
		t.Fatalf("before logout: %d %s", status, body)
	}

	body, _ := json.Marshal(map[string]string{"refresh_token": tok.RefreshToken})
	lreq, _ := http.NewRequest("POST", g.URL+"/api/auth/logout", bytes.NewReader(body))
	lreq.Header.Set("Content-Type", "application/json")
	lresp, err := http.DefaultClient.Do(lreq)
	if err != nil {
		t.Fatal(err)
	}
	lresp.Body.Close()
	if lresp.StatusCode/100 != 2 {
		t.Fatalf("logout: %d", lresp.StatusCode)
	}
	start := time.Now()
	for {
		status, _, b := ghtest.Do(t, "GET", url+"/api/hello", tok.AccessToken, nil)
		if status == 401 && strings.Contains(string(b), `"session_revoked"`) {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("logged-out session still answered %d %s after 1 s", status, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if status, _, b := ghtest.Do(t, "GET", url+"/api/hello", other.AccessToken, nil); status != 200 {
		t.Errorf("the user's other session: %d %s", status, b)
	}
	// The client's own token is no user's token.
	form := "grant_type=client_credentials"
	req, _ := http.NewRequest("POST", g.URL+"/api/auth/token", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client.ID, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ct struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&ct)
	resp.Body.Close()
	if ct.AccessToken == "" {
		t.Fatalf("client token: %d", resp.StatusCode)
	}
	if status, _, b := ghtest.Do(t, "GET", url+"/api/hello", ct.AccessToken, nil); status != 401 || !strings.Contains(string(b), `"token_invalid"`) {
		t.Errorf("client token at a user route: %d %s", status, b)
	}
}
