package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/cli"
)

// runCLI runs one gatehouse command in-process.
func runCLI(t testing.TB, env map[string]string, stdin string, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return noEnv(k) // what the pass's store needs
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := cli.Run(ctx, append([]string{"gatehouse"}, args...), getenv, strings.NewReader(stdin), &out, &out)
	return out.String(), err
}

func TestCLIHelpListsTheCommands(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "help"} {
		out, err := runCLI(t, nil, "", arg)
		if err != nil || !strings.Contains(out, "Commands:") || !strings.Contains(out, "user create") {
			t.Fatalf("gatehouse %s: %v\n%s", arg, err, out)
		}
	}
}

func TestCLIHelp(t *testing.T) {
	for _, verb := range [][]string{{"serve"}, {"migrate"}, {"user", "create"}, {"keys", "rotate"}, {"sessions", "revoke"}, {"backup"}} {
		t.Run(strings.Join(verb, " "), func(t *testing.T) {
			out, err := runCLI(t, nil, "", append(verb, "--help")...)
			if err != nil {
				t.Fatalf("--help failed: %v", err)
			}
			if !strings.Contains(out, "Usage: gatehouse "+strings.Join(verb, " ")) || !strings.Contains(out, "--db") || !strings.Contains(out, "GATEHOUSE_DB") {
				t.Fatalf("help lacks usage, --db or its environment twin:\n%s", out)
			}
		})
	}
	out, err := runCLI(t, nil, "", "help")
	if err != nil || !strings.Contains(out, "sessions revoke") {
		t.Fatalf("help: %v\n%s", err, out)
	}
	out, err = runCLI(t, nil, "", "version")
	if err != nil || !strings.HasPrefix(out, "gatehouse ") {
		t.Fatalf("version: %v %q", err, out)
	}
	out, err = runCLI(t, nil, "", "version", "--help")
	if err != nil || !strings.Contains(out, "Usage: gatehouse version") {
		t.Fatalf("version --help: %v %q", err, out)
	}
	// The defaults shown are CONTRACT §1's, written as people write them.
	out, err = runCLI(t, nil, "", "serve", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(default 10s)", "(default 15m)", "(default 168h)", "(default 720h)"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
}

func TestCLIBadValues(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "g.db")
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string // the error must name this
	}{
		{"short HMAC secret", nil, []string{"serve", "--db", db, "--signing-alg", "HS256", "--hmac-secret", "too-short"}, "--hmac-secret"},
		{"HS256 without a secret", nil, []string{"serve", "--db", db, "--signing-alg", "HS256"}, "--hmac-secret"},
		{"unknown algorithm", nil, []string{"serve", "--db", db, "--signing-alg", "none"}, "--signing-alg"},
		{"bad duration", nil, []string{"serve", "--db", db, "--access-ttl", "15 minutes"}, "access-ttl"},
		{"zero duration", nil, []string{"serve", "--db", db, "--refresh-ttl", "0s"}, "refresh-ttl"},
		{"bad limit", nil, []string{"serve", "--db", db, "--login-limit", "ten"}, "login-limit"},
		{"bad origin", nil, []string{"serve", "--db", db, "--cors-origins", "app.example.com"}, "cors-origins"},
		{"unknown flag", nil, []string{"serve", "--db", db, "--nope"}, "--nope"},
		{"unreachable database", nil, []string{"serve", "--db", "sqlite:" + filepath.Join(dir, "missing", "dir", "g.db")}, "--db"},
		{"unknown database kind", nil, []string{"serve", "--db", "mysql://root@localhost/x"}, "--db"},
		{"not a database", nil, []string{"serve", "--db", "sqlite:" + writeFile(t, dir, "junk.db", strings.Repeat("junk", 1000))}, "--db"},
		{"bad environment value", map[string]string{"GATEHOUSE_ACCESS_TTL": "soon"}, []string{"serve", "--db", db}, "GATEHOUSE_ACCESS_TTL"},
		{"access longer than session", nil, []string{"serve", "--db", db, "--access-ttl", "2h", "--session-ttl", "1h"}, "--access-ttl"},
		{"argon2 memory too small", nil, []string{"serve", "--db", db, "--argon2-memory", "1"}, "--argon2-memory"},
		{"negative hash workers", nil, []string{"serve", "--db", db, "--hash-workers", "-1"}, "--hash-workers"},
		{"issuer with a query", nil, []string{"serve", "--db", db, "--issuer", "https://a.example?x=1"}, "--issuer"},
		{"empty sqlite path", nil, []string{"serve", "--db", "sqlite:"}, "--db"},
		{"hmac secret without HS256", nil, []string{"keys", "rotate", "--db", db, "--hmac-secret", strings.Repeat("s", 32)}, "--hmac-secret"},
		{"bad address", nil, []string{"serve", "--db", db, "--addr", "nowhere:-1"}, "--addr"},
		{"unknown command", nil, []string{"frobnicate"}, "frobnicate"},
		{"unknown flag of version", nil, []string{"version", "--bogus"}, "--bogus"},
		{"user create without email", nil, []string{"user", "create", "--db", db, "--password-stdin"}, "--email"},
		{"sessions revoke of nobody", nil, []string{"sessions", "revoke", "--db", db, "--email", "nobody@example.com"}, "nobody@example.com"},
		{"short key secret", nil, []string{"keys", "rotate", "--db", db, "--key-secret", "short"}, "--key-secret"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runCLI(t, tc.env, "", tc.args...)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q: want one line naming %s", msg, tc.want)
			}
			if strings.Contains(msg, "too-short") {
				t.Fatalf("the error repeats a secret: %q", msg)
			}
		})
	}
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCLIMigrateAndUserCreate(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "g.db")
	out, err := runCLI(t, nil, "", "migrate", "--db", db)
	if err != nil || !strings.Contains(out, "applied") {
		t.Fatalf("migrate: %v %q", err, out)
	}
	out, err = runCLI(t, nil, "", "migrate", "--db", db)
	if err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("second migrate: %v %q", err, out)
	}
	env := map[string]string{"GATEHOUSE_DB": db}
	if out, err := runCLI(t, env, "password\n", "user", "create", "--email", "weak@example.com", "--password-stdin"); err == nil {
		t.Fatalf("a common password was accepted: %q", out)
	} else if msg := err.Error(); !strings.HasPrefix(msg, "gatehouse user create: password: ") || strings.Contains(msg, "invalid input") {
		t.Fatalf("a refused password is said as %q, want the field and why", msg)
	}
	out, err = runCLI(t, env, testPassword+"\n", "user", "create", "--email", "Admin@Example.com", "--name", "Admin", "--password-stdin")
	if err != nil || !strings.Contains(out, "admin@example.com") {
		t.Fatalf("user create: %v %q", err, out)
	}
	if strings.Contains(out, testPassword) {
		t.Fatal("the password was echoed")
	}
	// Errors speak to the operator, not in the layers they crossed.
	_, err = runCLI(t, env, testPassword+"\n", "user", "create", "--email", "ADMIN@example.com", "--password-stdin")
	if err == nil || err.Error() != "gatehouse user create: email already in use" {
		t.Fatalf("a taken email: %v", err)
	}
	g := startGatehouseOn(t, dir, db)
	newClient(t, g).login("admin@example.com", testPassword)
}

func TestEnvironmentTwins(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "g.db")
	// The environment sets the access TTL; a flag beats the environment.
	t.Setenv("GATEHOUSE_ACCESS_TTL", "7s") // not read: cli.Run gets its env from getenv
	env := map[string]string{"GATEHOUSE_ACCESS_TTL": "42s", "GATEHOUSE_AUDIENCE": "from-env", "GATEHOUSE_DB": db}
	g := startWithEnv(t, env, "--audience", "from-flag")
	c := newClient(t, g)
	_, tok := c.newUser("env")
	cl := claimsOf(t, tok.Access)
	if cl["exp"].(float64)-cl["iat"].(float64) != 42 {
		t.Fatalf("exp - iat = %v, want 42 from GATEHOUSE_ACCESS_TTL", cl["exp"].(float64)-cl["iat"].(float64))
	}
	if cl["aud"] != "from-flag" && !(isList(cl["aud"]) && cl["aud"].([]any)[0] == "from-flag") {
		t.Fatalf("aud %v, want the flag's value", cl["aud"])
	}
}

func isList(v any) bool { _, ok := v.([]any); return ok }

// startWithEnv runs a bare "gatehouse" (serve is the default verb) with env.
func startWithEnv(t *testing.T, env map[string]string, args ...string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdoutR, stdoutW := newPipe()
	done := make(chan error, 1)
	full := append([]string{"gatehouse", "--addr", "127.0.0.1:0"}, fastArgs...)
	go func() {
		done <- cli.Run(ctx, append(full, args...), func(k string) string { return env[k] }, strings.NewReader(""), stdoutW, &syncBuffer{})
		stdoutW.Close()
	}()
	line, err := stdoutR.firstLine(30 * time.Second)
	if err != nil {
		cancel()
		t.Fatalf("start: %v / %v", err, <-done)
	}
	_, rest, _ := strings.Cut(line, "listening on ")
	url, _, _ := strings.Cut(rest, " ")
	t.Cleanup(func() { cancel(); <-done })
	waitHealthy(t, url)
	return &instance{URL: url}
}

func TestKeysRotateWhileServing(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t, "--access-ttl", "1h")
	c := newClient(t, g)
	email, before := c.newUser("rotate")
	oldKid := headerOf(t, before.Access)["kid"]

	out, err := runCLI(t, nil, "", "keys", "rotate", "--db", g.DB)
	if err != nil || !strings.Contains(out, "new signing key") {
		t.Fatalf("keys rotate: %v %q", err, out)
	}
	var after tokens
	waited := eventually(t, 5*time.Second, func() string {
		after = c.login(email, testPassword)
		if headerOf(t, after.Access)["kid"] == oldKid {
			return "still signing with the old key"
		}
		return ""
	})
	t.Logf("the running server signed with the new key %v after the rotation", waited)
	if headerOf(t, after.Access)["alg"] != "EdDSA" {
		t.Fatalf("rotation changed the algorithm: %v", headerOf(t, after.Access))
	}
	for _, tok := range []string{before.Access, after.Access} {
		if r := c.get("/api/users/me", tok); r.Status != 200 {
			t.Fatalf("a token of one of the keys is refused after the rotation: %s", r)
		}
	}
	keys, _ := c.get("/.well-known/jwks.json", "").obj(t)["keys"].([]any)
	if len(keys) != 2 {
		t.Fatalf("JWKS has %d keys, want the old and the new", len(keys))
	}

	// Changing the algorithm.
	if _, err := runCLI(t, nil, "", "keys", "rotate", "--db", g.DB, "--signing-alg", "ES256"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() string {
		if alg := headerOf(t, c.login(email, testPassword).Access)["alg"]; alg != "ES256" {
			return "alg still " + alg.(string)
		}
		return ""
	})
	if r := c.get("/api/users/me", before.Access); r.Status != 200 {
		t.Fatalf("the EdDSA token is refused after the switch to ES256: %s", r)
	}
}

func TestKeySecretFile(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "g.db")
	// A fixed issuer: the port changes across restarts, and so would the
	// default issuer, which every token names.
	issuer := []string{"--issuer", "http://gatehouse.test"}
	g := startGatehouseOn(t, dir, "sqlite:"+dbPath, issuer...)
	c := newClient(t, g)
	email, tok := c.newUser("keyfile")
	g.stop()

	info, err := os.Stat(dbPath + ".key")
	if err != nil {
		t.Fatalf("no key secret file beside the database: %v", err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("key secret file mode %v, want 0600", info.Mode().Perm())
	}
	// The same secret is found again: old tokens and keys keep working.
	g2 := startGatehouseOn(t, dir, "sqlite:"+dbPath, issuer...)
	c2 := newClient(t, g2)
	if r := c2.get("/api/users/me", tok.Access); r.Status != 200 {
		t.Fatalf("token refused after a restart: %s", r)
	}
	c2.mustRefresh(tok.Refresh)
	c2.login(email, testPassword)
	g2.stop()

	// A wrong secret is refused at start-up, loudly.
	_, err = runCLI(t, nil, "", "serve", "--addr", "127.0.0.1:0", "--db", "sqlite:"+dbPath, "--key-secret", strings.Repeat("w", 40))
	if err == nil || !strings.Contains(err.Error(), "--key-secret") {
		t.Fatalf("a wrong key secret: %v", err)
	}
}

func TestHS256(t *testing.T) {
	t.Parallel()
	g := startGatehouse(t, "--signing-alg", "HS256", "--hmac-secret", strings.Repeat("s", 32))
	c := newClient(t, g)
	_, tok := c.newUser("hs")
	if alg := headerOf(t, tok.Access)["alg"]; alg != "HS256" {
		t.Fatalf("alg %v", alg)
	}
	if r := c.get("/api/users/me", tok.Access); r.Status != 200 {
		t.Fatalf("%s", r)
	}
	for _, k := range c.get("/.well-known/jwks.json", "").obj(t)["keys"].([]any) {
		if k.(map[string]any)["kty"] == "oct" {
			t.Fatal("the JWKS publishes the HMAC secret")
		}
	}
}

func TestAlgorithms(t *testing.T) {
	for _, alg := range []string{"ES256", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			g := startGatehouse(t, "--signing-alg", alg)
			c := newClient(t, g)
			_, tok := c.newUser(alg)
			if got := headerOf(t, tok.Access)["alg"]; got != alg {
				t.Fatalf("alg %v", got)
			}
			if r := c.get("/api/users/me", tok.Access); r.Status != 200 {
				t.Fatalf("%s", r)
			}
		})
	}
}
