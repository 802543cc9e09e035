package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse"
)

// The operators' verbs (CONTRACT §9) for the command line: the same work
// as /api/admin/, through the capability the service gives whoever holds
// the database (Service.Operator). Each prints a human-readable text by
// default and, with --json, JSON for scripts: one object per line (JSON
// Lines) for lists, one document for the rest.

// userCommand is one "user …" verb after its flags were read.
type userCommand struct {
	name  string
	c     *command
	o     *options
	email *string
	json  *bool
}

// newUserCommand declares the flags every user verb shares: the
// database, --email (unless withEmail is false) and --json.
func newUserCommand(name, summary string, withEmail bool) *userCommand {
	u := &userCommand{name: name, c: newCommand(name, summary, ""), o: newOptions()}
	u.o.register(u.c, false)
	if withEmail {
		u.email = u.c.fs.String("email", "", "email of the user (required)")
	}
	u.json = u.c.fs.Bool("json", false, "print JSON for scripts instead of text")
	return u
}

// parse reads the flags; done is true after --help.
func (u *userCommand) parse(args []string, getenv func(string) string, stdout io.Writer) (done bool, err error) {
	if err := u.c.parse(args, getenv, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return false, err
	}
	if u.email != nil && *u.email == "" {
		return false, fmt.Errorf("gatehouse %s: --email is required", u.name)
	}
	return false, nil
}

// open opens the database and returns the operators' API and what closes it.
func (u *userCommand) open(ctx context.Context, stderr io.Writer) (*gatehouse.Admin, func(), error) {
	gh, err := u.o.openCore(ctx, u.name, stderr)
	if err != nil {
		return nil, nil, err
	}
	return gh.Service().Operator(), func() { gh.Close() }, nil
}

// openUser opens the database and finds the user of --email; errors are
// said as the operator should read them.
func (u *userCommand) openUser(ctx context.Context, stderr io.Writer) (*gatehouse.Admin, *gatehouse.AdminUser, func(), error) {
	adm, closeDB, err := u.open(ctx, stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	au, err := adm.UserByEmail(ctx, *u.email)
	if err != nil {
		closeDB()
		return nil, nil, nil, u.fail(err)
	}
	return adm, au, closeDB, nil
}

// fail says err as the operator should read it.
func (u *userCommand) fail(err error) error {
	if errors.Is(err, gatehouse.ErrNotFound) && u.email != nil {
		return fmt.Errorf("gatehouse %s: no user with email %s", u.name, *u.email)
	}
	return commandError(u.name, err)
}

// limitFlag is --limit: a whole number of at least 1.
type limitFlag struct{ n *int }

func (v limitFlag) String() string {
	if v.n == nil {
		return ""
	}
	return strconv.Itoa(*v.n)
}

func (v limitFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return errors.New("want a whole number of at least 1")
	}
	*v.n = n
	return nil
}

func userList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	u := newUserCommand("user list", "List users, newest first: id, email, name, role, disabled, live sessions, second factors, created. With --json, one JSON object per line.", false)
	query := u.c.fs.String("query", "", "only users whose email or name contains this text (case-insensitive)")
	limit := 100
	u.c.fs.Var(limitFlag{&limit}, "limit", "list at most this many users")
	if done, err := u.parse(args, getenv, stdout); done || err != nil {
		return err
	}
	adm, closeDB, err := u.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer closeDB()
	var users []gatehouse.AdminUser
	var after *gatehouse.UserCursor
	for len(users) < limit {
		page, next, err := adm.Users(ctx, *query, after, min(limit-len(users), gatehouse.MaxPageSize))
		if err != nil {
			return u.fail(err)
		}
		users = append(users, page...)
		if next == nil {
			break
		}
		after = next
	}
	if *u.json {
		return writeJSONLines(stdout, users, func(au gatehouse.AdminUser) any { return toCLIUser(&au) })
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tROLE\tDISABLED\tSESSIONS\tMFA\tCREATED")
	for i := range users {
		au := &users[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", au.ID, cell(au.Email), cell(au.Name), roleOf(&au.User),
			yesNo(au.Disabled), au.LiveSessions, mfaSummary(au), au.CreatedAt.UTC().Format("2006-01-02 15:04"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(users) == 0 {
		fmt.Fprintln(stderr, "no users match")
	}
	return nil
}

// showEvents is how many of a user's events "user show" lists.
const showEvents = 20

func userShow(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	u := newUserCommand("user show", "Show a user as an administrator sees them, with their live sessions and last 20 audit events. With --json, one JSON document {user, sessions, events}.", true)
	if done, err := u.parse(args, getenv, stdout); done || err != nil {
		return err
	}
	adm, au, closeDB, err := u.openUser(ctx, stderr)
	if err != nil {
		return err
	}
	defer closeDB()
	sessions, err := adm.Sessions(ctx, au.ID)
	if err != nil {
		return u.fail(err)
	}
	events, _, err := adm.Events(ctx, gatehouse.EventFilter{UserID: au.ID}, nil, showEvents)
	if err != nil {
		return u.fail(err)
	}
	names := newUserNames(adm)
	names.known[au.ID] = au.Email
	if *u.json {
		doc := struct {
			User     cliUser      `json:"user"`
			Sessions []cliSession `json:"sessions"`
			Events   []cliEvent   `json:"events"`
		}{User: toCLIUser(au), Sessions: make([]cliSession, len(sessions)), Events: make([]cliEvent, len(events))}
		for i := range sessions {
			doc.Sessions[i] = toCLISession(&sessions[i])
		}
		for i := range events {
			doc.Events[i] = toCLIEvent(ctx, &events[i], names)
		}
		return writeJSONDoc(stdout, doc)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	lastLogin := "never"
	if !au.LastLoginAt.IsZero() {
		lastLogin = timeCell(au.LastLoginAt)
	}
	for _, row := range [][2]string{
		{"id", au.ID}, {"email", cell(au.Email)}, {"email verified", yesNo(au.EmailVerified)},
		{"name", cell(au.Name)}, {"role", roleOf(&au.User)}, {"disabled", yesNo(au.Disabled)},
		{"created", timeCell(au.CreatedAt)}, {"last login", lastLogin},
		{"totp", yesNo(au.TOTP)}, {"passkeys", strconv.Itoa(au.Passkeys)},
		{"live sessions", strconv.Itoa(au.LiveSessions)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nSessions (%d live):\n", len(sessions))
	if len(sessions) > 0 {
		tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCREATED\tLAST USED\tIDLE EXPIRY\tAAL\tIP\tUSER AGENT")
		for _, s := range sessions {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, timeCell(s.CreatedAt), timeCell(s.LastUsedAt),
				timeCell(s.IdleExpiresAt), cell(s.ACR), cell(s.IP), cell(s.UserAgent))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "\nRecent events (newest first, at most %d):\n", showEvents)
	return writeEventTable(ctx, stdout, events, names)
}

func userDisable(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return userUpdate(ctx, args, getenv, stdout, stderr, "user disable",
		"Disable a user: their login is refused (403 user_disabled), every session ends, and running servers refuse their access tokens within a second.",
		func(gatehouse.AdminUser) gatehouse.UserUpdate { return gatehouse.UserUpdate{Disabled: ptr(true)} },
		func(au *gatehouse.AdminUser) string {
			return fmt.Sprintf("disabled %s; every session of theirs ended", au.Email)
		}, nil)
}

func userEnable(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return userUpdate(ctx, args, getenv, stdout, stderr, "user enable",
		"Enable a disabled user again: they can log in.",
		func(gatehouse.AdminUser) gatehouse.UserUpdate { return gatehouse.UserUpdate{Disabled: ptr(false)} },
		func(au *gatehouse.AdminUser) string { return fmt.Sprintf("enabled %s", au.Email) }, nil)
}

func userSetRole(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var role *string
	return userUpdate(ctx, args, getenv, stdout, stderr, "user set-role",
		"Make a user an administrator (--role admin) or an ordinary user (--role user). The last enabled administrator cannot be demoted.",
		func(gatehouse.AdminUser) gatehouse.UserUpdate { return gatehouse.UserUpdate{Role: role} },
		func(au *gatehouse.AdminUser) string { return fmt.Sprintf("%s is now %s", au.Email, roleOf(&au.User)) },
		func(u *userCommand) func() error {
			role = u.c.fs.String("role", "", "the new role: admin or user (required)")
			return func() error {
				if *role != gatehouse.RoleAdmin && *role != gatehouse.RoleUser {
					return fmt.Errorf("gatehouse %s: --role %q: must be admin or user", u.name, *role)
				}
				return nil
			}
		})
}

// userUpdate runs a verb that edits one user. extra, when set, declares
// more flags and returns their check, run after parsing.
func userUpdate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer,
	name, summary string, change func(gatehouse.AdminUser) gatehouse.UserUpdate, said func(*gatehouse.AdminUser) string,
	extra func(*userCommand) func() error) error {
	u := newUserCommand(name, summary+" With --json, the user after the change as one JSON document.", true)
	check := func() error { return nil }
	if extra != nil {
		check = extra(u)
	}
	if done, err := u.parse(args, getenv, stdout); done || err != nil {
		return err
	}
	if err := check(); err != nil {
		return err
	}
	adm, au, closeDB, err := u.openUser(ctx, stderr)
	if err != nil {
		return err
	}
	defer closeDB()
	after, err := adm.UpdateUser(ctx, au.ID, change(*au))
	if err != nil {
		return u.fail(err)
	}
	if *u.json {
		return writeJSONDoc(stdout, toCLIUser(after))
	}
	fmt.Fprintln(stdout, said(after))
	return nil
}

func userDelete(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	u := newUserCommand("user delete", "Delete a user with their sessions, second factors, passkeys and posts; running servers refuse their access tokens within a second. There is no undo: --yes is required. With --json, {\"id\",\"email\",\"deleted\":true}.", true)
	yes := u.c.fs.Bool("yes", false, "confirm the deletion (required)")
	u.c.typedOnly = map[string]bool{"yes": true}
	if done, err := u.parse(args, getenv, stdout); done || err != nil {
		return err
	}
	if !*yes {
		return fmt.Errorf("gatehouse %s: deleting %s cannot be undone: add --yes to confirm", u.name, *u.email)
	}
	adm, au, closeDB, err := u.openUser(ctx, stderr)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := adm.DeleteUser(ctx, au.ID); err != nil {
		return u.fail(err)
	}
	if *u.json {
		return writeJSONDoc(stdout, map[string]any{"id": au.ID, "email": au.Email, "deleted": true})
	}
	fmt.Fprintf(stdout, "deleted %s (%s) and everything of theirs\n", au.Email, au.ID)
	return nil
}

func ptr[T any](v T) *T { return &v }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func roleOf(u *gatehouse.User) string {
	if u.Role == "" {
		return gatehouse.RoleUser
	}
	return u.Role
}

func mfaSummary(au *gatehouse.AdminUser) string {
	var parts []string
	if au.TOTP {
		parts = append(parts, "totp")
	}
	if au.Passkeys == 1 {
		parts = append(parts, "1 passkey")
	} else if au.Passkeys > 1 {
		parts = append(parts, strconv.Itoa(au.Passkeys)+" passkeys")
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "+")
}

func timeCell(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// cell makes a value safe to print in a terminal table: user agents and
// names come from the network, and a control character in them could
// rewrite the operator's screen (terminal escape injection, OWASP ASVS
// 5.0 V16.4.1: encode log data for where it is shown). Tabs would break
// the table; empty cells show "-".
func cell(s string) string {
	if s == "" {
		return "-"
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069'):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// writeJSONLines writes one JSON object per line.
func writeJSONLines[T any](w io.Writer, items []T, conv func(T) any) error {
	enc := json.NewEncoder(w)
	for _, it := range items {
		if err := enc.Encode(conv(it)); err != nil {
			return err
		}
	}
	return nil
}

// writeJSONDoc writes one indented JSON document.
func writeJSONDoc(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
