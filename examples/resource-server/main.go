// Command resource-server is a service that trusts Gatehouse through the
// SDK's middleware alone (CONTRACT §6):
//
//	go run ./examples/resource-server --issuer http://127.0.0.1:8080 --audience gatehouse --addr 127.0.0.1:8081
//
// It learns the JWKS from the issuer's RFC 8414 metadata and serves
// GET /api/hello, which answers a valid bearer token with 200
// {"sub":…,"sid":…} and anything else with Gatehouse's problem+json 401s.
// A rotated key is picked up by itself: an unknown kid triggers a
// rate-limited JWKS refetch. It never fetches anything a token names.
//
// Given a service client's credentials (--client-id and --client-secret,
// or GATEHOUSE_CLIENT_ID and GATEHOUSE_CLIENT_SECRET), it also follows
// Gatehouse's revocation feed and refuses the tokens of a revoked session
// within a second (CONTRACT §10). GET /healthz answers 200 once the
// middleware can accept tokens (at once without credentials, once the
// feed is caught up with them) and 503 otherwise: point a readiness probe
// at it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/verify"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run serves until ctx ends. Its first line on stdout names the address.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("resource-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	issuer := fs.String("issuer", "", "Gatehouse's issuer URL (required)")
	audience := fs.String("audience", "gatehouse", "the aud every accepted token must carry")
	addr := fs.String("addr", "127.0.0.1:8081", "listen address")
	clientID := fs.String("client-id", getenv("GATEHOUSE_CLIENT_ID"), "service client id, to follow the revocation feed (env GATEHOUSE_CLIENT_ID)")
	// Not defaulted from the environment, so that -help never prints it.
	clientSecret := fs.String("client-secret", "", "service client secret; prefer env GATEHOUSE_CLIENT_SECRET")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("resource-server: unexpected argument %q", fs.Arg(0))
	}
	if *issuer == "" {
		return errors.New("resource-server: --issuer is required")
	}
	if *clientSecret == "" {
		*clientSecret = getenv("GATEHOUSE_CLIENT_SECRET")
	}
	if (*clientID == "") != (*clientSecret == "") {
		return errors.New("resource-server: give both --client-id and --client-secret (or GATEHOUSE_CLIENT_ID and GATEHOUSE_CLIENT_SECRET), or neither")
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	v, err := verify.New(ctx, verify.Config{
		Issuer: *issuer, Audience: *audience, Logger: log,
		ClientID: *clientID, ClientSecret: *clientSecret,
	})
	if err != nil {
		return fmt.Errorf("resource-server: %w", err)
	}
	defer v.Close()
	mux := http.NewServeMux()
	mux.Handle("GET /api/hello", v.Middleware(http.HandlerFunc(hello)))
	mux.Handle("GET /healthz", v.FeedHealth())

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("resource-server: --addr: %w", err)
	}
	fmt.Fprintf(stdout, "resource server listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// hello answers the verified claims the middleware put in the context.
func hello(w http.ResponseWriter, r *http.Request) {
	c := verify.ClaimsFromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Sub string `json:"sub"`
		Sid string `json:"sid"`
	}{c.Subject, c.SessionID})
}
