package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/ghtest"
	"github.com/gatehouse/gatehouse/verify"
)

// setup starts a throwaway Gatehouse with a user, and a resource server
// that trusts it and answers GET /api/hello with "hello".
func setup() (issuer, api string, stop func()) {
	dir, err := os.MkdirTemp("", "client-example")
	if err != nil {
		log.Fatal(err)
	}
	g, stopG, err := ghtest.Launch(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	resp, err := http.Post(g.URL+"/api/auth/register", "application/json",
		strings.NewReader(`{"email":"ada@example.com","password":"correct horse battery staple"}`))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	v, err := verify.New(context.Background(), verify.Config{Issuer: g.URL, Audience: "gatehouse"})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	})))
	return g.URL, srv.URL, func() { srv.Close(); stopG(); os.RemoveAll(dir) }
}

// A CLI that stays logged in: tokens in a 0600 file, a Transport that
// adds and renews them.
func ExampleTransport() {
	issuer, api, stop := setup()
	defer stop()
	dir, _ := os.MkdirTemp("", "tokens")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	s, err := client.New(client.Config{
		URL:   issuer,
		Store: client.FileStore{Path: filepath.Join(dir, "tokens.json")},
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := s.Token(ctx); errors.Is(err, client.ErrLoggedOut) {
		if err := s.Login(ctx, "ada@example.com", "correct horse battery staple"); err != nil {
			log.Fatal(err)
		}
	}
	c := &http.Client{Transport: &client.Transport{Source: s}}
	resp, err := c.Get(api + "/api/hello")
	if err != nil {
		log.Fatal(err) // errors.Is(err, client.ErrLoggedOut): log in again
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 hello
}

// Gatehouse's problem codes come back as the root package's sentinels.
func ExampleSession_Login() {
	issuer, _, stop := setup()
	defer stop()
	s, err := client.New(client.Config{URL: issuer})
	if err != nil {
		log.Fatal(err)
	}
	err = s.Login(context.Background(), "ada@example.com", "not the password")
	fmt.Println(errors.Is(err, gatehouse.ErrInvalidCredentials))
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Code)
	}
	// Output:
	// true
	// 401 invalid_credentials
}
