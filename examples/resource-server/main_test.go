package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
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
