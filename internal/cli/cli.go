// Package cli is the gatehouse command line (CONTRACT §1). [Run] is the
// whole program, so that tests start the real server in-process.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// Version is set at build time with -ldflags "-X github.com/gatehouse/gatehouse/internal/cli.Version=v1.2.3".
var Version = ""

// Commit is the source revision, set at build time like Version
// (-X github.com/gatehouse/gatehouse/internal/cli.Commit=0123abc) by make
// release. Empty: the revision the go command stamps when it builds in a
// git checkout, if any.
var Commit = ""

// Run runs the gatehouse command with args (args[0] is the program name).
// getenv reads the environment; stdin, stdout and stderr are the standard
// streams. It returns when the command is done or, for serve, when ctx ends
// and the server has shut down gracefully.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		args = args[1:]
	}
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		// A bare "gatehouse --help" asks what the program does: the
		// commands. "gatehouse serve --help" has the server's flags.
		printUsage(stdout)
		return nil
	}
	verb := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = args[0], args[1:]
	}
	if (verb == "user" || verb == "keys" || verb == "sessions" || verb == "mfa" || verb == "clients") && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = verb+" "+args[0], args[1:]
	}
	switch verb {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, args, getenv, stdout)
	case "user create":
		return userCreate(ctx, args, getenv, stdin, stdout, stderr)
	case "user list":
		return userList(ctx, args, getenv, stdout, stderr)
	case "user show":
		return userShow(ctx, args, getenv, stdout, stderr)
	case "user disable":
		return userDisable(ctx, args, getenv, stdout, stderr)
	case "user enable":
		return userEnable(ctx, args, getenv, stdout, stderr)
	case "user delete":
		return userDelete(ctx, args, getenv, stdout, stderr)
	case "user set-role":
		return userSetRole(ctx, args, getenv, stdout, stderr)
	case "events":
		return events(ctx, args, getenv, stdout, stderr)
	case "backup":
		return backup(ctx, args, getenv, stdout)
	case "keys rotate":
		return keysRotate(ctx, args, getenv, stdout)
	case "sessions revoke":
		return sessionsRevoke(ctx, args, getenv, stdout, stderr)
	case "mfa reset":
		return mfaReset(ctx, args, getenv, stdout, stderr)
	case "clients create", "clients list", "clients delete":
		return clientsCommand(ctx, strings.TrimPrefix(verb, "clients "), args, getenv, stdout, stderr)
	case "version":
		c := newCommand("version", "Print the version of this binary.", "")
		if err := c.parse(args, getenv, stdout); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
		fmt.Fprintf(stdout, "gatehouse %s (commit %s)\n", version(), commit())
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
  user create       create a user: --email E --password-stdin [--admin]
  user list         list users: [--query Q] [--limit N]
  user show         a user with their sessions and recent events: --email E
  user disable      lock a user out and end their sessions: --email E
  user enable       let a disabled user log in again: --email E
  user delete       delete a user and everything of theirs: --email E --yes
  user set-role     make a user an administrator or not: --email E --role admin|user
  events            the audit log, newest first: [--email E] [--type T] [--limit N]
  backup            copy a running SQLite database: --to FILE
  keys rotate       start signing with a new key at once
  sessions revoke   end every session of a user: --email E
  mfa reset         remove a user's second factors and end their sessions: --email E
  clients create    register a service client: --name N --scope S [--scope S]
  clients list      list the service clients
  clients delete    delete a service client: --id ID
  version           print the version

Run "gatehouse <command> --help" for a command's flags. The user and events
commands print text, or JSON for scripts with --json.
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

func commit() string {
	if Commit != "" {
		return Commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" && dirty {
			// Built from a checkout with uncommitted changes: the
			// revision alone would claim more than it knows.
			return rev + "+modified"
		}
		if rev != "" {
			return rev
		}
	}
	return "unknown"
}
