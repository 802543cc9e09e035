// Package cli is the gatehouse command line (CONTRACT §1). [Run] is the
// whole program, so that tests start the real server in-process.
package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/server"
)

// Version is set at build time with -ldflags "-X github.com/gatehouse/gatehouse/internal/cli.Version=v1.2.3".
var Version = ""

// Run runs the gatehouse command with args (args[0] is the program name).
// getenv reads the environment; stdin, stdout and stderr are the standard
// streams. It returns when the command is done or, for serve, when ctx ends
// and the server has shut down gracefully.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		args = args[1:]
	}
	verb := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = args[0], args[1:]
	}
	if (verb == "user" || verb == "keys" || verb == "sessions") && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = verb+" "+args[0], args[1:]
	}
	switch verb {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, args, getenv, stdout)
	case "user create":
		return userCreate(ctx, args, getenv, stdin, stdout, stderr)
	case "keys rotate":
		return keysRotate(ctx, args, getenv, stdout)
	case "sessions revoke":
		return sessionsRevoke(ctx, args, getenv, stdout, stderr)
	case "version":
		c := newCommand("version", "Print the version of this binary.", "")
		if err := c.parse(args, getenv, stdout); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
		fmt.Fprintln(stdout, "gatehouse", version())
		return nil
	case "help", "-h", "--help":
		printUsage(stdout)
		return nil
	}
	return fmt.Errorf("gatehouse: unknown command %q (see gatehouse help)", verb)
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `Gatehouse: the whole JWT lifecycle of a web app, as one server.

Usage: gatehouse <command> [flags]

Commands:
  serve             run the server (what a bare "gatehouse" does)
  migrate           apply the database schema migrations
  user create       create a user: --email E --password-stdin
  keys rotate       start signing with a new key at once
  sessions revoke   end every session of a user: --email E
  version           print the version

Run "gatehouse <command> --help" for a command's flags.
`)
}

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// options are the flags shared by the verbs that open the database.
type options struct {
	db         string
	keySecret  string
	signingAlg string
	hmacSecret string
	logFormat  string
	logLevel   string
}

func (o *options) register(c *command, withSigning bool) {
	c.fs.StringVar(&o.db, "db", "sqlite:gatehouse.db", "database: sqlite:PATH (embedded) or a postgres:// URL")
	c.fs.StringVar(&o.keySecret, "key-secret", "", "secret that encrypts the private signing keys at rest; with SQLite, generated into DB-PATH.key when unset")
	if withSigning {
		c.fs.StringVar(&o.signingAlg, "signing-alg", "EdDSA", "access-token signing algorithm: EdDSA, ES256, RS256 or HS256")
		c.fs.StringVar(&o.hmacSecret, "hmac-secret", "", "HS256 only: the signing secret, at least 32 bytes")
	}
	c.fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	c.fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
}

func (o *options) logger(stderr io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: must be debug, info, warn or error", o.logLevel)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(stderr, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(stderr, hopts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: must be text or json", o.logFormat)
}

// config turns the shared options into a server.Config. The signing
// algorithm is left empty (the one in force) unless it was given.
func (o *options) config(c *command, stderr io.Writer) (server.Config, error) {
	log, err := o.logger(stderr)
	if err != nil {
		return server.Config{}, err
	}
	cfg := server.Config{DB: o.db, Logger: log, KeySecret: []byte(o.keySecret), HMACSecret: []byte(o.hmacSecret)}
	if c.fs.Lookup("signing-alg") != nil && c.set("signing-alg") {
		cfg.SigningAlg = o.signingAlg
	}
	if cfg.SigningAlg == "" && len(cfg.HMACSecret) > 0 {
		return cfg, errors.New("--hmac-secret is only used with --signing-alg HS256")
	}
	return cfg, nil
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newCommand("serve", "Run the Gatehouse server: the HTTP API, the JWKS and the demo app.", "")
	var o options
	o.register(c, true)
	addr := c.fs.String("addr", "127.0.0.1:8080", "listen address")
	issuer := c.fs.String("issuer", "", "iss of every token and base of the metadata URLs (default http:// + the listen address)")
	audience := c.fs.String("audience", "gatehouse", "aud of every access token")
	accessTTL, refreshTTL, sessionTTL, grace := 15*time.Minute, 168*time.Hour, 720*time.Hour, 10*time.Second
	c.fs.Var(positiveDuration{&accessTTL}, "access-ttl", "access token lifetime")
	c.fs.Var(positiveDuration{&refreshTTL}, "refresh-ttl", "idle lifetime of a refresh token; each rotation starts it again")
	c.fs.Var(positiveDuration{&sessionTTL}, "session-ttl", "absolute lifetime of a session from login")
	c.fs.Var(nonNegativeDuration{&grace}, "reuse-grace", "how long a rotated refresh token may be presented again and get the session's current one")
	var cors []string
	c.fs.Var(originsValue{&cors}, "cors-origins", "comma-separated exact origins allowed to call the API with credentials")
	loginLimit := gatehouse.Limit{N: 10, Window: 15 * time.Minute}
	registerLimit := gatehouse.Limit{N: 20, Window: time.Hour}
	c.fs.Var(limitValue{&loginLimit}, "login-limit", "failed logins allowed per account and client address in a window (N/DURATION), then 429; 0 turns it off")
	c.fs.Var(limitValue{&registerLimit}, "register-limit", "registrations allowed per client address in a window (N/DURATION); 0 turns it off")
	argonMemory := c.fs.Uint("argon2-memory", uint(password.OWASP.Memory), "argon2id memory in KiB (OWASP minimum 19456; lower only in tests)")
	argonTime := c.fs.Uint("argon2-time", uint(password.OWASP.Time), "argon2id passes (OWASP: 2 with 19 MiB)")
	hashWorkers := c.fs.Int("hash-workers", 0, "password hashes computed at once (default: the number of CPUs)")
	if err := c.parse(args, getenv, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cfg, err := o.config(c, stderr)
	if err != nil {
		return fmt.Errorf("gatehouse serve: %w", err)
	}
	if *argonMemory < 8 || *argonMemory > 4<<20 || *argonTime < 1 || *argonTime > 100 {
		return errors.New("gatehouse serve: --argon2-memory must be 8 KiB to 4 GiB and --argon2-time 1 to 100")
	}
	if *hashWorkers < 0 {
		return errors.New("gatehouse serve: --hash-workers must not be negative")
	}
	if cfg.SigningAlg == "" {
		// serve validates --signing-alg even when it only names the default.
		switch o.signingAlg {
		case "EdDSA", "ES256", "RS256", "HS256":
		default:
			return fmt.Errorf("gatehouse serve: --signing-alg %q: must be EdDSA, ES256, RS256 or HS256", o.signingAlg)
		}
	}
	if accessTTL > sessionTTL {
		return errors.New("gatehouse serve: --access-ttl must not be longer than --session-ttl")
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("gatehouse serve: --addr %s: %w", *addr, err)
	}
	defer ln.Close()
	if *issuer == "" {
		*issuer = "http://" + ln.Addr().String()
	}
	cfg.Issuer, cfg.Audience = *issuer, *audience
	cfg.AccessTTL, cfg.RefreshTTL, cfg.SessionTTL = accessTTL, refreshTTL, sessionTTL
	cfg.ReuseGrace = grace
	if grace == 0 {
		cfg.ReuseGrace = -1
	}
	cfg.CORSOrigins, cfg.LoginLimit, cfg.RegisterLimit = cors, loginLimit, registerLimit
	cfg.PasswordParams = password.OWASP
	cfg.PasswordParams.Memory, cfg.PasswordParams.Time = uint32(*argonMemory), uint32(*argonTime)
	cfg.HashWorkers = *hashWorkers
	if cfg.PasswordParams.Memory < password.OWASP.Memory {
		cfg.Logger.Warn("argon2id memory below the OWASP minimum: for tests only", "memory_kib", cfg.PasswordParams.Memory)
	}

	gh, err := server.New(ctx, cfg)
	if err != nil {
		return fmt.Errorf("gatehouse serve: %w", err)
	}
	defer gh.Close()

	srv := &http.Server{
		Handler:           gh,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	go gh.Run(runCtx)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "gatehouse %s listening on http://%s (issuer %s, database %s)\n", version(), ln.Addr(), cfg.Issuer, describeDB(cfg.DB))
	cfg.Logger.Info("listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "db", describeDB(cfg.DB))

	select {
	case err := <-serveErr:
		return fmt.Errorf("gatehouse serve: %w", err)
	case <-ctx.Done():
	}
	cfg.Logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("gatehouse serve: shutdown: %w", err)
	}
	return nil
}

// describeDB names the database without any password.
func describeDB(db string) string {
	if strings.HasPrefix(db, "sqlite:") {
		return db
	}
	if i := strings.Index(db, "@"); i >= 0 {
		if j := strings.Index(db, "://"); j >= 0 && j < i {
			return db[:j+3] + "…@" + db[i+1:]
		}
	}
	return db
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	c := newCommand("migrate", "Apply the schema migrations of the database (serve also applies them).", "")
	db := c.fs.String("db", "sqlite:gatehouse.db", "database: sqlite:PATH or a postgres:// URL")
	if err := c.parse(args, getenv, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	applied, err := server.Migrate(ctx, *db)
	if err != nil {
		return fmt.Errorf("gatehouse migrate: %w", err)
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "schema up to date")
	}
	for _, m := range applied {
		fmt.Fprintln(stdout, "applied", m)
	}
	return nil
}

func userCreate(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := newCommand("user create", "Create a user. The password is read from the first line of standard input.", "")
	var o options
	o.register(c, false)
	email := c.fs.String("email", "", "email of the new user (required)")
	name := c.fs.String("name", "", "display name")
	fromStdin := c.fs.Bool("password-stdin", false, "read the password from standard input (required: passwords never go on the command line)")
	if err := c.parse(args, getenv, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *email == "" {
		return errors.New("gatehouse user create: --email is required")
	}
	if !*fromStdin {
		return errors.New("gatehouse user create: --password-stdin is required")
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 64<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("gatehouse user create: read password: %w", err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	cfg, err := o.config(c, stderr)
	if err != nil {
		return fmt.Errorf("gatehouse user create: %w", err)
	}
	cfg.Issuer = "http://localhost"
	gh, err := server.New(ctx, cfg)
	if err != nil {
		return fmt.Errorf("gatehouse user create: %w", err)
	}
	defer gh.Close()
	u, err := gh.Service().CreateUser(ctx, *email, pw, *name)
	if err != nil {
		return fmt.Errorf("gatehouse user create: %w", err)
	}
	fmt.Fprintf(stdout, "created user %s <%s>\n", u.ID, u.Email)
	return nil
}

func keysRotate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	c := newCommand("keys rotate", "Start signing with a new key at once. The old public key stays in the JWKS until the last token it signed expires.", "")
	var o options
	o.register(c, true)
	if err := c.parse(args, getenv, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cfg, err := o.config(c, io.Discard)
	if err != nil {
		return fmt.Errorf("gatehouse keys rotate: %w", err)
	}
	k, err := server.RotateKey(ctx, cfg)
	if err != nil {
		return fmt.Errorf("gatehouse keys rotate: %w", err)
	}
	fmt.Fprintf(stdout, "new signing key %s (%s); running servers switch to it within seconds\n", k.KID, k.Alg)
	return nil
}

func sessionsRevoke(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newCommand("sessions revoke", "End every session of a user: their refresh tokens fail at once and their access tokens are refused within a second.", "")
	var o options
	o.register(c, false)
	email := c.fs.String("email", "", "email of the user (required)")
	if err := c.parse(args, getenv, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *email == "" {
		return errors.New("gatehouse sessions revoke: --email is required")
	}
	cfg, err := o.config(c, stderr)
	if err != nil {
		return fmt.Errorf("gatehouse sessions revoke: %w", err)
	}
	cfg.Issuer = "http://localhost"
	gh, err := server.New(ctx, cfg)
	if err != nil {
		return fmt.Errorf("gatehouse sessions revoke: %w", err)
	}
	defer gh.Close()
	n, err := gh.Service().RevokeUserByEmail(ctx, *email)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return fmt.Errorf("gatehouse sessions revoke: no user with email %s", *email)
	}
	if err != nil {
		return fmt.Errorf("gatehouse sessions revoke: %w", err)
	}
	fmt.Fprintf(stdout, "revoked %d session(s) of %s\n", n, *email)
	return nil
}
