package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/verify"
)

// Library mode: a Go application mounts Gatehouse inside itself and
// protects its own routes with the same middleware a remote service
// uses. server.New is the gatehouse.New(config) of the design: the root
// package cannot import the HTTP API without an import cycle. verify.Local
// asks the embedded Gatehouse directly, so a logged-out session's tokens
// are refused within a second, with no JWKS and no network.
func Example_libraryMode() {
	dir, err := os.MkdirTemp("", "gatehouse-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The app's server; its URL is Gatehouse's issuer.
	app := httptest.NewUnstartedServer(nil)
	issuer := "http://" + app.Listener.Addr().String()

	cfg := server.DefaultConfig()
	cfg.DB = "sqlite:" + filepath.Join(dir, "auth.db") // or a postgres:// URL
	cfg.Issuer = issuer
	cfg.PasswordParams.Memory, cfg.PasswordParams.Time = 64, 1 // example only: keep the defaults
	gh, err := server.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer gh.Close()
	go gh.Run(ctx) // revocations from other instances, key reloads, pruning

	auth := verify.Local(gh.Service())
	mux := http.NewServeMux()
	mux.Handle("/", gh) // /api/auth/..., /.well-known/..., the demo app
	mux.Handle("GET /app/hello", auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello, user %t", verify.ClaimsFromContext(r.Context()).Subject != "")
	})))
	app.Config.Handler = mux
	app.Start()
	defer app.Close()

	post(issuer+"/api/auth/register", `{"email":"ada@example.com","password":"correct horse battery staple"}`, nil)
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	post(issuer+"/api/auth/login", `{"email":"ada@example.com","password":"correct horse battery staple"}`, &tok)

	fmt.Println(call(issuer+"/app/hello", ""))
	fmt.Println(call(issuer+"/app/hello", tok.AccessToken))
	post(issuer+"/api/auth/logout", `{"refresh_token":"`+tok.RefreshToken+`"}`, nil)
	deadline := time.Now().Add(time.Second)
	for call(issuer+"/app/hello", tok.AccessToken) == "200 hello, user true" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println(call(issuer+"/app/hello", tok.AccessToken))
	// Output:
	// 401 token_missing
	// 200 hello, user true
	// 401 session_revoked
}

func post(url, body string, out any) {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			log.Fatal(err)
		}
	}
}

func call(url, bearer string) string {
	req, _ := http.NewRequest("GET", url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		var p struct{ Code string }
		_ = json.NewDecoder(resp.Body).Decode(&p)
		b.WriteString(p.Code)
	} else {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		b.Write(body)
	}
	return fmt.Sprint(resp.StatusCode, " ", b.String())
}
