package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/cli"
)

// The operators' verbs (CONTRACT §9) against a running server, on every
// store of the pass: what they change is what the server then does.

// opCLI runs a gatehouse command on g's database and fails the test if it
// fails. It returns the standard output alone (the logs go to standard
// error, so that --json output stays JSON).
func opCLI(t *testing.T, g *instance, stdin string, args ...string) string {
	t.Helper()
	var stdout, stderr strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"gatehouse"}, append(args, "--db", g.DB)...)
	if err := cli.Run(ctx, full, noEnv, strings.NewReader(stdin), &stdout, &stderr); err != nil {
		t.Fatalf("gatehouse %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// opCLIFails runs a gatehouse command on g's database that must fail, and
// returns its one-line error.
func opCLIFails(t *testing.T, g *instance, args ...string) string {
	t.Helper()
	out, err := runCLI(t, nil, "", append(args, "--db", g.DB)...)
	if err == nil {
		t.Fatalf("gatehouse %s succeeded: %s", strings.Join(args, " "), out)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("gatehouse %s: the error is not one line: %q", strings.Join(args, " "), err)
	}
	return err.Error()
}

// jsonLines decodes the output of a --json list.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var items []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		items = append(items, m)
	}
	return items
}

func jsonDoc(t *testing.T, out string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("not one JSON document: %v\n%s", err, out)
	}
	return m
}

func TestCLIOperatorVerbsHelp(t *testing.T) {
	for _, verb := range [][]string{{"user", "list"}, {"user", "show"}, {"user", "disable"}, {"user", "enable"},
		{"user", "delete"}, {"user", "set-role"}, {"events"}} {
		out, err := runCLI(t, nil, "", append(verb, "--help")...)
		if err != nil || !strings.Contains(out, "Usage: gatehouse "+strings.Join(verb, " ")) || !strings.Contains(out, "--json") || !strings.Contains(out, "GATEHOUSE_DB") {
			t.Fatalf("%s --help: %v\n%s", strings.Join(verb, " "), err, out)
		}
	}
	out, _ := runCLI(t, nil, "", "help")
	for _, want := range []string{"user list", "user set-role", "events"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	out, _ = runCLI(t, nil, "", "user", "create", "--help")
	if !strings.Contains(out, "--admin") {
		t.Errorf("user create --help lacks --admin:\n%s", out)
	}
	out, _ = runCLI(t, nil, "", "serve", "--help")
	if !strings.Contains(out, "--audit-retention") || !strings.Contains(out, "(default 2160h)") || !strings.Contains(out, "GATEHOUSE_AUDIT_RETENTION") {
		t.Errorf("serve --help lacks --audit-retention with its default and twin")
	}
}

func TestCLIOperatorBadValues(t *testing.T) {
	db := "sqlite:" + t.TempDir() + "/g.db"
	cases := []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"user", "show", "--db", db}, "--email"},
		{nil, []string{"user", "list", "--db", db, "--limit", "0"}, "--limit"},
		{nil, []string{"user", "list", "--db", db, "--bogus"}, "--bogus"},
		{nil, []string{"user", "set-role", "--db", db, "--email", "a@example.com", "--role", "root"}, "--role"},
		{nil, []string{"user", "set-role", "--db", db, "--email", "a@example.com"}, "--role"},
		{nil, []string{"user", "delete", "--db", db, "--email", "a@example.com"}, "--yes"},
		// A confirmation is typed: a variable left in the environment gives none.
		{map[string]string{"GATEHOUSE_YES": "true"}, []string{"user", "delete", "--db", db, "--email", "a@example.com"}, "--yes"},
		{nil, []string{"events", "--db", db, "--type", "login.nope"}, "--type"},
		{nil, []string{"events", "--db", db, "--limit", "-3"}, "--limit"},
		{nil, []string{"user", "disable", "--db", db, "--email", "nobody@example.com"}, "nobody@example.com"},
		{nil, []string{"serve", "--db", db, "--audit-retention", "-1h"}, "--audit-retention"},
		{nil, []string{"serve", "--db", db, "--audit-retention", "forever"}, "--audit-retention"},
		{map[string]string{"GATEHOUSE_AUDIT_RETENTION": "soon"}, []string{"serve", "--db", db}, "GATEHOUSE_AUDIT_RETENTION"},
	}
	for _, tc := range cases {
		_, err := runCLI(t, tc.env, "", tc.args...)
		if err == nil {
			t.Errorf("%v: accepted", tc.args)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("%v: error %q: want one line naming %s", tc.args, msg, tc.want)
		}
	}
}

// The real binary: a refused verb exits non-zero with one line on stderr.
func TestCLIOperatorExitStatus(t *testing.T) {
	onlyOn(t, "sqlite", "runs the binary on an SQLite file")
	bin := gatehouseBinary(t)
	db := "sqlite:" + t.TempDir() + "/g.db"
	for _, args := range [][]string{
		{"user", "delete", "--db", db, "--email", "a@example.com"},
		{"user", "list", "--db", db, "--nope"},
		{"events", "--db", db, "--type", "x"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
			t.Fatalf("%v: %v, want a non-zero exit", args, err)
		}
		if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "gatehouse ") {
			t.Fatalf("%v: stderr %q, want one line", args, stderr.String())
		}
	}
}

func TestCLIUserAdministration(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)

	admin := uniqueEmail("op-admin")
	out := opCLI(t, g, testPassword+"\n", "user", "create", "--email", admin, "--name", "Ops", "--password-stdin", "--admin")
	if !strings.Contains(out, "administrator") {
		t.Fatalf("user create --admin: %q", out)
	}
	show := opCLI(t, g, "", "user", "show", "--email", admin)
	if !strings.Contains(show, "role:") || !strings.Contains(show, "admin") {
		t.Fatalf("user show of an admin does not say admin:\n%s", show)
	}
	doc := jsonDoc(t, opCLI(t, g, "", "user", "show", "--email", admin, "--json"))
	if u := doc["user"].(map[string]any); u["role"] != "admin" || u["email"] != admin || u["disabled"] != false {
		t.Fatalf("user show --json: %v", doc)
	}
	// The server agrees: the admin reaches the admin API.
	atok := c.login(admin, testPassword)
	if r := c.get("/api/admin/users", atok.Access); r.Status != 200 {
		t.Fatalf("the CLI's admin is refused by the admin API: %s", r)
	}

	user := uniqueEmail("op-user")
	c.register(user)
	utok := c.login(user, testPassword)

	// list: both, newest first; --query narrows; --json is one object a line.
	list := opCLI(t, g, "", "user", "list")
	if !strings.Contains(list, "EMAIL") || strings.Index(list, user) < 0 || strings.Index(list, user) > strings.Index(list, admin) {
		t.Fatalf("user list, newest first:\n%s", list)
	}
	items := jsonLines(t, opCLI(t, g, "", "user", "list", "--query", strings.ToUpper(strings.Split(user, "@")[0]), "--json"))
	if len(items) != 1 || items[0]["email"] != user || items[0]["role"] != "user" || items[0]["sessions"] != float64(1) {
		t.Fatalf("user list --query --json: %v", items)
	}
	if items := jsonLines(t, opCLI(t, g, "", "user", "list", "--limit", "1", "--json")); len(items) != 1 {
		t.Fatalf("--limit 1 listed %d users", len(items))
	}
	show = opCLI(t, g, "", "user", "show", "--email", user)
	for _, want := range []string{"live sessions:", "Sessions (1 live)", "login.succeeded", "user.registered"} {
		if !strings.Contains(show, want) {
			t.Fatalf("user show lacks %q:\n%s", want, show)
		}
	}

	// The last admin cannot be demoted; with a second one, they can.
	msg := opCLIFails(t, g, "user", "set-role", "--email", admin, "--role", "user")
	if !strings.Contains(msg, "no enabled administrator") {
		t.Fatalf("demoting the last admin: %q", msg)
	}
	msg = opCLIFails(t, g, "user", "disable", "--email", admin)
	if !strings.Contains(msg, "no enabled administrator") {
		t.Fatalf("disabling the last admin: %q", msg)
	}
	if out := opCLI(t, g, "", "user", "set-role", "--email", user, "--role", "admin"); !strings.Contains(out, "now admin") {
		t.Fatalf("set-role admin: %q", out)
	}
	if u := jsonDoc(t, opCLI(t, g, "", "user", "set-role", "--email", admin, "--role", "user", "--json")); u["role"] != "user" {
		t.Fatalf("set-role --json: %v", u)
	}
	// The demotion reaches the running server within a poll.
	eventually(t, 2*time.Second, func() string {
		if r := c.get("/api/admin/users", atok.Access); r.Status != 403 {
			return "the demoted admin still reaches the admin API: " + r.String()
		}
		return ""
	})
	if r := c.get("/api/admin/users", utok.Access); r.Status != 200 {
		t.Fatalf("the promoted user is refused: %s", r)
	}

	// delete needs --yes; with it the account and its tokens are gone.
	victim := uniqueEmail("op-victim")
	c.register(victim)
	vtok := c.login(victim, testPassword)
	msg = opCLIFails(t, g, "user", "delete", "--email", victim)
	if !strings.Contains(msg, "--yes") {
		t.Fatalf("delete without --yes: %q", msg)
	}
	if r := c.get("/api/users/me", vtok.Access); r.Status != 200 {
		t.Fatalf("delete without --yes deleted something: %s", r)
	}
	if out := opCLI(t, g, "", "user", "delete", "--email", victim, "--yes"); !strings.Contains(out, "deleted") {
		t.Fatalf("delete: %q", out)
	}
	eventually(t, time.Second, func() string {
		if r := c.get("/api/users/me", vtok.Access); r.Status != 401 {
			return "the deleted user's token is still accepted: " + r.String()
		}
		return ""
	})
	if msg := opCLIFails(t, g, "user", "show", "--email", victim); !strings.Contains(msg, "no user with email") {
		t.Fatalf("show of a deleted user: %q", msg)
	}
	// The deletion is in the audit log, named by id now the account is gone.
	evs := jsonLines(t, opCLI(t, g, "", "events", "--type", "user.deleted", "--json"))
	if len(evs) != 1 || evs[0]["user_email"] != nil || evs[0]["user_id"] == nil {
		t.Fatalf("events --type user.deleted: %v", evs)
	}
}

func TestCLIDisableRefusesLogin(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	email, tok := c.newUser("op-disable")

	if out := opCLI(t, g, "", "user", "disable", "--email", email); !strings.Contains(out, "disabled") {
		t.Fatalf("disable: %q", out)
	}
	// Its sessions end as revocations: the running server refuses the
	// access token within a second, and the refresh token at once.
	t.Logf("access token refused %v after the CLI disabled the user", revokedWithin(t, c, tok.Access))
	if r := c.refresh(tok.Refresh); r.Status != 401 {
		t.Fatalf("refresh of a disabled user: %s", r)
	}
	// Login: 403 user_disabled after the right password, and the wrong
	// one says nothing about the account.
	c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": testPassword}).wantProblem(t, 403, "user_disabled")
	c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": "not " + testPassword}).wantProblem(t, 401, "invalid_credentials")
	u := jsonDoc(t, opCLI(t, g, "", "user", "show", "--email", email, "--json"))["user"].(map[string]any)
	if u["disabled"] != true || u["sessions"] != float64(0) {
		t.Fatalf("show after disable: %v", u)
	}
	if list := opCLI(t, g, "", "user", "list", "--query", email); !strings.Contains(list, "yes") {
		t.Fatalf("user list does not show the user disabled:\n%s", list)
	}

	if out := opCLI(t, g, "", "user", "enable", "--email", email); !strings.Contains(out, "enabled") {
		t.Fatalf("enable: %q", out)
	}
	c.login(email, testPassword)

	evs := opCLI(t, g, "", "events", "--email", email)
	for _, want := range []string{"user.disabled", "user.enabled", "login.succeeded", email} {
		if !strings.Contains(evs, want) {
			t.Fatalf("events --email lacks %q:\n%s", want, evs)
		}
	}
}

func TestCLIEventsListFailedLogins(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t)
	c := newClient(t, g)
	email, _ := c.newUser("op-events")
	// Characters that would rewrite the operator's terminal: an 8-bit CSI
	// and a right-to-left override (Go's HTTP client sends no ASCII
	// control characters in a header, but these are bytes over 0x7f).
	const agent = "op-test-agent/1.0 \u009b31m \u202egnp.exe"
	r := c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": "wrong " + testPassword}, "User-Agent", agent)
	r.wantProblem(t, 401, "invalid_credentials")
	nobody := uniqueEmail("op-nobody")
	c.do("POST", "/api/auth/login", map[string]string{"email": nobody, "password": testPassword}).wantProblem(t, 401, "invalid_credentials")

	out := opCLI(t, g, "", "events", "--email", email)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 4 || !strings.HasPrefix(lines[0], "TIME") {
		t.Fatalf("events --email:\n%s", out)
	}
	// Newest first: the failed login, then the login, then the registration.
	failed := lines[1]
	for _, want := range []string{"login.failed", email, "127.0.0.1", "op-test-agent/1.0", "reason="} {
		if !strings.Contains(failed, want) {
			t.Fatalf("the newest event line lacks %q: %q\n%s", want, failed, out)
		}
	}
	if strings.ContainsAny(out, "\u009b\u202e") || !strings.Contains(out, `\u202e`) {
		t.Fatal("a control character from the network reached the operator's terminal")
	}
	if !strings.Contains(lines[len(lines)-1], "user.registered") {
		t.Fatalf("the oldest event is not the registration:\n%s", out)
	}

	evs := jsonLines(t, opCLI(t, g, "", "events", "--email", email, "--type", "login.failed", "--json"))
	if len(evs) != 1 || evs[0]["type"] != "login.failed" || evs[0]["user_email"] != email || evs[0]["ip"] != "127.0.0.1" || evs[0]["user_agent"] != agent {
		t.Fatalf("events --type login.failed --json: %v", evs)
	}
	if s, _ := json.Marshal(evs); strings.Contains(string(s), "wrong "+testPassword) {
		t.Fatal("an event holds the password that was tried")
	}

	// An address with no account: its failed logins, under the address.
	out = opCLI(t, g, "", "events", "--email", nobody)
	if !strings.Contains(out, "login.failed") || !strings.Contains(out, nobody) {
		t.Fatalf("events --email of an unknown address:\n%s", out)
	}
	if evs := jsonLines(t, opCLI(t, g, "", "events", "--limit", "2", "--json")); len(evs) != 2 || evs[0]["detail"].(map[string]any)["email"] != nobody {
		t.Fatalf("events --limit 2, newest first: %v", evs)
	}
}
