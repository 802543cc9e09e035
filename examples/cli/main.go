// Command cli is a Go program that calls an API protected by Gatehouse and
// stays logged in across runs and across access-token expiry:
//
//	export GATEHOUSE_EMAIL=ada@example.com GATEHOUSE_PASSWORD='correct horse battery staple'
//	go run ./examples/cli --issuer http://127.0.0.1:8080 --api http://127.0.0.1:8081 login
//	go run ./examples/cli --issuer http://127.0.0.1:8080 --api http://127.0.0.1:8081 hello
//	go run ./examples/cli --issuer http://127.0.0.1:8080 logout
//
// The token pair lives in --token-file (mode 0600). "hello" calls
// GET /api/hello of examples/resource-server through a client.Transport,
// which renews the access token before it expires and once more if the
// API still answers 401 token_expired; it logs in first when there are no
// tokens and credentials are given. Prefer the environment to --password:
// command lines are visible to other users of the machine.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

const usage = `usage: cli [flags] login|hello|logout

  login    log in with --email and --password (or GATEHOUSE_EMAIL, GATEHOUSE_PASSWORD)
  hello    call GET <api>/api/hello with the stored tokens
  logout   end the session at Gatehouse and delete the token file

flags:
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cli", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	issuer := fs.String("issuer", or(getenv("GATEHOUSE_ISSUER"), "http://127.0.0.1:8080"), "Gatehouse's URL (env GATEHOUSE_ISSUER)")
	api := fs.String("api", or(getenv("EXAMPLE_API"), "http://127.0.0.1:8081"), "the resource server's URL (env EXAMPLE_API)")
	email := fs.String("email", getenv("GATEHOUSE_EMAIL"), "login email (env GATEHOUSE_EMAIL)")
	password := fs.String("password", "", "login password; prefer env GATEHOUSE_PASSWORD")
	tokenFile := fs.String("token-file", defaultTokenFile(), "where the tokens are kept (mode 0600)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *password == "" {
		*password = getenv("GATEHOUSE_PASSWORD")
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("cli: give one command: login, hello or logout")
	}
	if *tokenFile == "" {
		return errors.New("cli: --token-file is required (no user config directory)")
	}
	s, err := client.New(client.Config{URL: *issuer, Store: client.FileStore{Path: *tokenFile}})
	if err != nil {
		return err
	}
	login := func() error {
		if *email == "" || *password == "" {
			return errors.New("cli: not logged in: give --email and GATEHOUSE_PASSWORD")
		}
		if err := s.Login(ctx, *email, *password); err != nil {
			return fmt.Errorf("cli: login: %w", err)
		}
		fmt.Fprintf(stdout, "logged in as %s\n", *email)
		return nil
	}

	switch cmd := fs.Arg(0); cmd {
	case "login":
		return login()
	case "logout":
		if err := s.Logout(ctx); err != nil {
			return fmt.Errorf("cli: logout: %w", err)
		}
		fmt.Fprintln(stdout, "logged out")
		return nil
	case "hello":
		if _, err := s.Token(ctx); errors.Is(err, client.ErrLoggedOut) {
			if err := login(); err != nil {
				return err
			}
		}
		return hello(ctx, s, *api, stdout)
	default:
		return fmt.Errorf("cli: unknown command %q", cmd)
	}
}

func hello(ctx context.Context, s *client.Session, api string, stdout io.Writer) error {
	c := &http.Client{Transport: &client.Transport{Source: s}, Timeout: 30 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/api/hello", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if errors.Is(err, client.ErrLoggedOut) {
		return fmt.Errorf("cli: the session ended; log in again: %w", err)
	}
	if err != nil {
		return fmt.Errorf("cli: hello: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("cli: hello: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("cli: hello: status %d: %s", resp.StatusCode, body)
	}
	_, err = stdout.Write(body)
	return err
}

func defaultTokenFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "gatehouse-example", "tokens.json")
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
