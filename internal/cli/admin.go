package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlite"
)

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	c := newCommand("migrate", "Apply the schema migrations of the database (serve also applies them).", "")
	db := c.fs.String("db", server.DefaultConfig().DB, "database: sqlite:PATH or a postgres:// URL")
	if err := c.parse(args, getenv, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	applied, err := server.Migrate(ctx, *db)
	if err != nil {
		return commandError("migrate", err)
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
	o := newOptions()
	o.register(c, false)
	email := c.fs.String("email", "", "email of the new user (required)")
	name := c.fs.String("name", "", "display name")
	fromStdin := c.fs.Bool("password-stdin", false, "read the password from standard input (required: passwords never go on the command line)")
	admin := c.fs.Bool("admin", false, "make the user an administrator (role admin: the /api/admin/ routes)")
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
	gh, err := o.openCore(ctx, "user create", stderr)
	if err != nil {
		return err
	}
	defer gh.Close()
	role := gatehouse.RoleUser
	if *admin {
		role = gatehouse.RoleAdmin
	}
	u, err := gh.Service().Operator().CreateUser(ctx, *email, pw, *name, role)
	if err != nil {
		return commandError("user create", err)
	}
	fmt.Fprintf(stdout, "created %s %s <%s>\n", map[bool]string{false: "user", true: "administrator"}[*admin], u.ID, u.Email)
	return nil
}

func keysRotate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	c := newCommand("keys rotate", "Start signing with a new key at once. The old public key stays in the JWKS until the last token it signed expires.", "")
	o := newOptions()
	o.register(c, true)
	if err := c.parse(args, getenv, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cfg, err := o.config(io.Discard)
	if err != nil {
		return commandError("keys rotate", err)
	}
	k, err := server.RotateKey(ctx, cfg)
	if err != nil {
		return commandError("keys rotate", err)
	}
	fmt.Fprintf(stdout, "new signing key %s (%s); running servers switch to it within seconds\n", k.KID, k.Alg)
	return nil
}

func sessionsRevoke(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return userVerb(ctx, args, getenv, stdout, stderr, "sessions revoke",
		"End every session of a user: their refresh tokens fail at once and their access tokens are refused within a second.",
		func(svc *gatehouse.Service, email string) (string, error) {
			n, err := svc.RevokeUserByEmail(ctx, email)
			return fmt.Sprintf("revoked %d session(s) of %s", n, email), err
		})
}

func mfaReset(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return userVerb(ctx, args, getenv, stdout, stderr, "mfa reset",
		"Remove every second factor of a user (authenticator app, recovery codes) who lost them, and end their sessions: their next login asks for the password only.",
		func(svc *gatehouse.Service, email string) (string, error) {
			n, err := svc.ResetMFAByEmail(ctx, email)
			return fmt.Sprintf("removed the second factors of %s and ended %d session(s)", email, n), err
		})
}

// userVerb runs an admin verb on the user of a required --email.
func userVerb(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer,
	name, description string, act func(svc *gatehouse.Service, email string) (string, error)) error {
	c := newCommand(name, description, "")
	o := newOptions()
	o.register(c, false)
	email := c.fs.String("email", "", "email of the user (required)")
	if err := c.parse(args, getenv, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *email == "" {
		return fmt.Errorf("gatehouse %s: --email is required", name)
	}
	gh, err := o.openCore(ctx, name, stderr)
	if err != nil {
		return err
	}
	defer gh.Close()
	done, err := act(gh.Service(), *email)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return fmt.Errorf("gatehouse %s: no user with email %s", name, *email)
	}
	if err != nil {
		return commandError(name, err)
	}
	fmt.Fprintln(stdout, done)
	return nil
}

// openCore opens the database and the lifecycle service for the one-shot
// admin verb name: no HTTP layer, no issuer of its own. Its errors are the
// verb's, with flag names.
func (o *options) openCore(ctx context.Context, name string, stderr io.Writer) (*server.Core, error) {
	cfg, err := o.config(stderr)
	if err != nil {
		return nil, commandError(name, err)
	}
	cfg.Issuer = "http://localhost" // names no token this verb mints
	gh, err := server.Open(ctx, cfg)
	if err != nil {
		return nil, commandError(name, err)
	}
	return gh, nil
}

func backup(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	c := newCommand("backup", "Write a consistent copy of an SQLite database, while servers keep using it.", "")
	db := c.fs.String("db", server.DefaultConfig().DB, "database: sqlite:PATH (for PostgreSQL, use pg_dump)")
	var keySecret secretValue
	c.fs.Var(&keySecret, "key-secret", "set when the servers run with --key-secret: then that secret, not DB-PATH.key, must be kept with the copy")
	to := c.fs.String("to", "", "the new file to write the copy to; an existing file is refused (required)")
	if err := c.parse(args, getenv, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *to == "" {
		return errors.New("gatehouse backup: --to is required")
	}
	parsed, err := server.ParseDB(*db)
	if err != nil {
		return commandError("backup", err)
	}
	if parsed.Postgres() {
		return errors.New("gatehouse backup: --db is PostgreSQL: back it up with pg_dump (see docs/deployment.md) and keep the --key-secret with the dump")
	}
	if _, err := os.Stat(parsed.Path); err != nil {
		return fmt.Errorf("gatehouse backup: --db %s: no database file there", parsed)
	}
	if _, err := os.Lstat(*to); err == nil {
		return fmt.Errorf("gatehouse backup: --to %s: the file exists; name a new one", *to)
	}
	st, err := sqlite.Open(ctx, parsed.Path, sqlite.Options{})
	if err != nil {
		return commandError("backup", err)
	}
	defer st.Close()
	if err := st.Backup(ctx, *to); err != nil {
		return commandError("backup", err)
	}
	fmt.Fprintf(stdout, "backed up %s to %s\n", parsed, *to)
	// The signing keys in the copy are sealed with the key secret, which
	// is deliberately not in the database (CONTRACT §3): without it, a
	// restored copy can verify no token and sign none.
	if keySecret != "" {
		fmt.Fprintln(stdout, "keep the --key-secret the servers run with together with the copy: its signing keys are sealed with it")
		return nil
	}
	keyFile := parsed.Path + ".key"
	fmt.Fprintf(stdout, "keep %s together with the copy: its signing keys are sealed with the secret in that file; to restore, put the copy at the database path and that file beside it as DB-PATH.key\n", keyFile)
	if _, err := os.Stat(keyFile); err != nil {
		fmt.Fprintf(stdout, "warning: %s does not exist: if the servers run with --key-secret, keep that secret instead\n", keyFile)
	}
	return nil
}
