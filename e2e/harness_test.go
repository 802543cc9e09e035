package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/internal/apitest"
	"github.com/gatehouse/gatehouse/internal/cli"
	"github.com/gatehouse/gatehouse/postgres/pgtest"
)

// testPassword passes the password policy; weak ones are tested on their own.
const testPassword = "correct horse battery staple"

// fastArgs make password hashing cheap (tests only: --argon2-memory below
// the OWASP minimum logs a warning) and the revocation feed quick.
var fastArgs = []string{"--argon2-memory", "64", "--argon2-time", "1"}

// instance is a server started in-process by cli.Run.
type instance struct {
	URL  string
	DB   string // --db value
	Dir  string // directory of the SQLite file
	logs *syncBuffer
	stop func()
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// storeKind is a database the suite runs against. TestMain runs the whole
// suite once per entry of stores, so every test that starts its server
// with startGatehouse runs on each store: a table of stores, not a copy of
// the tests.
type storeKind struct {
	name string
	// newDB returns the --db value of a fresh, empty database for one test.
	newDB func(t testing.TB, dir string) string
	// env is the environment of every gatehouse command of the pass, as an
	// operator's would be (noEnv, runCLI).
	env map[string]string
}

// pgKeySecret is the --key-secret of the PostgreSQL pass: with PostgreSQL
// there is no generated secret file, and every instance and CLI command
// on one database must share the secret (CONTRACT §3).
const pgKeySecret = "e2e-postgres-key-secret-shared-by-every-instance"

var (
	sqliteStore = storeKind{
		name:  "sqlite",
		newDB: func(t testing.TB, dir string) string { return "sqlite:" + filepath.Join(dir, "gatehouse.db") },
	}
	postgresStore = storeKind{
		name:  "postgres",
		newDB: func(t testing.TB, dir string) string { return pgtest.URL(t) }, // a schema of its own
		env:   map[string]string{"GATEHOUSE_KEY_SECRET": pgKeySecret},
	}
)

// stores lists the passes: SQLite always, PostgreSQL when
// GATEHOUSE_TEST_POSTGRES_URL names a test database. GATEHOUSE_E2E_STORES
// (e.g. "postgres") restricts the passes to those it names.
var stores = func() []storeKind {
	all := []storeKind{sqliteStore}
	if pgtest.BaseURL() != "" {
		all = append(all, postgresStore)
	}
	only := os.Getenv("GATEHOUSE_E2E_STORES")
	if only == "" {
		return all
	}
	var out []storeKind
	for _, s := range all {
		if slices.Contains(strings.Split(only, ","), s.name) {
			out = append(out, s)
		}
	}
	return out
}()

// store is the store of the pass in progress.
var store = sqliteStore

func TestMain(m *testing.M) {
	code := 0
	if pgtest.BaseURL() == "" {
		fmt.Printf("e2e: PostgreSQL pass skipped: set %s to run the suite against PostgreSQL too\n", pgtest.EnvURL)
	}
	for _, s := range stores {
		store = s
		fmt.Printf("e2e: pass on the %s store\n", s.name)
		if c := m.Run(); c != 0 {
			code = c
		}
	}
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// onlyOn skips a test outside the pass of the named store.
func onlyOn(t testing.TB, name, why string) {
	t.Helper()
	if store.name != name {
		t.Skipf("%s store only (%s); this is the %s pass", name, why, store.name)
	}
}

// startGatehouse runs "gatehouse serve" on a fresh database of the pass's
// store with extra flags, and stops it when the test ends.
func startGatehouse(t testing.TB, args ...string) *instance {
	t.Helper()
	dir := t.TempDir()
	return startGatehouseOn(t, dir, store.newDB(t, dir), args...)
}

// startGatehouseOn runs "gatehouse serve" on the given database. A test
// that names an SQLite file runs in the SQLite pass only: it tests
// something of SQLite's, and the other passes would only repeat it.
func startGatehouseOn(t testing.TB, dir, db string, args ...string) *instance {
	t.Helper()
	if strings.HasPrefix(db, "sqlite:") {
		onlyOn(t, "sqlite", "it names an SQLite file")
	}
	ctx, cancel := context.WithCancel(context.Background())
	stdoutR, stdoutW := io.Pipe()
	logs := &syncBuffer{}
	done := make(chan error, 1)
	full := append([]string{"gatehouse", "serve", "--addr", "127.0.0.1:0", "--db", db}, fastArgs...)
	full = append(full, args...)
	go func() {
		err := cli.Run(ctx, full, noEnv, strings.NewReader(""), stdoutW, logs)
		stdoutW.CloseWithError(fmt.Errorf("server exited: %v", err))
		done <- err
	}()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdoutR)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	var line string
	select {
	case l, ok := <-lines:
		if !ok {
			cancel()
			t.Fatalf("gatehouse did not start: %v\n%s", <-done, logs)
		}
		line = l
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("gatehouse did not start within 30s\n%s", logs)
	}
	_, rest, ok := strings.Cut(line, "listening on ")
	if !ok {
		cancel()
		t.Fatalf("unexpected first line %q", line)
	}
	url, _, _ := strings.Cut(rest, " ")
	g := &instance{URL: url, DB: db, Dir: dir, logs: logs}
	var once sync.Once
	g.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("gatehouse exited with %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("gatehouse did not shut down within 15s")
			}
		})
	}
	t.Cleanup(g.stop)
	waitHealthy(t, url)
	return g
}

// noEnv is the environment of the gatehouse commands a test runs: empty,
// but for what the pass's store needs (PostgreSQL: the shared key secret).
func noEnv(k string) string { return store.env[k] }

func waitHealthy(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s/healthz never answered 200", url)
}

// response is a whole HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) String() string {
	return fmt.Sprintf("%d %s", r.Status, r.Body)
}

// obj decodes the body as a JSON object.
func (r *response) obj(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// str returns a string member of the body.
func (r *response) str(t testing.TB, name string) string {
	t.Helper()
	s, _ := r.obj(t)[name].(string)
	return s
}

// wantProblem checks an RFC 9457 answer with a status and code.
func (r *response) wantProblem(t testing.TB, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json: %s", ct, r.Body)
	}
	m := r.obj(t)
	if m["code"] != code {
		t.Fatalf("code %v, want %s: %s", m["code"], code, r.Body)
	}
	if m["status"] != float64(status) || m["title"] == "" || m["type"] == "" {
		t.Fatalf("problem lacks type/title/status: %s", r.Body)
	}
}

// client speaks to one server.
type client struct {
	t    testing.TB
	base string
	hc   *http.Client
}

func newClient(t testing.TB, g *instance) *client {
	return &client{t: t, base: g.URL, hc: checkedHTTP(t, 30*time.Second)}
}

// apiSpec is the OpenAPI description the binary serves.
var apiSpec = apitest.MustParse(httpapi.OpenAPI)

// checkedHTTP is an HTTP client whose every request and response is
// checked against the OpenAPI description (CONTRACT §9). A test that sends
// a request out of the description on purpose says so with the header
// apitest.MalformedHeader (the client removes it): only its response is
// checked then.
func checkedHTTP(t testing.TB, timeout time.Duration, opts ...apitest.Option) *http.Client {
	return &http.Client{Timeout: timeout, Transport: apitest.Transport(t, apiSpec, nil, opts...)}
}

// malformed marks a request that is out of the OpenAPI description on
// purpose: headers for client.do, before any others.
func malformed(why string, headers ...string) []string {
	return append([]string{apitest.MalformedHeader, why}, headers...)
}

// do sends a request. body is marshalled as JSON unless it is a string or
// []byte (sent as is); headers are name, value pairs.
func (c *client) do(method, path string, body any, headers ...string) *response {
	c.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
		ctype = "application/json"
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

func (c *client) get(path, accessToken string) *response {
	c.t.Helper()
	if accessToken == "" {
		return c.do("GET", path, nil)
	}
	return c.do("GET", path, nil, "Authorization", "Bearer "+accessToken)
}

var emailSeq atomic.Int64

// uniqueEmail returns an address no other test uses.
func uniqueEmail(prefix string) string {
	return fmt.Sprintf("%s-%d-%d@example.com", prefix, time.Now().UnixNano()%1e9, emailSeq.Add(1))
}

// tokens is a login or refresh answer.
type tokens struct {
	Access, Refresh string
	UserID          string
}

func (c *client) register(email string) string {
	c.t.Helper()
	r := c.do("POST", "/api/auth/register", map[string]string{"email": email, "password": testPassword, "name": "Test User"})
	if r.Status != 201 {
		c.t.Fatalf("register %s: %s", email, r)
	}
	return r.str(c.t, "id")
}

func (c *client) login(email, password string) tokens {
	c.t.Helper()
	r := c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": password})
	if r.Status != 200 {
		c.t.Fatalf("login %s: %s", email, r)
	}
	m := r.obj(c.t)
	u, _ := m["user"].(map[string]any)
	id, _ := u["id"].(string)
	return tokens{Access: m["access_token"].(string), Refresh: m["refresh_token"].(string), UserID: id}
}

// newUser registers a fresh user and logs in.
func (c *client) newUser(prefix string) (string, tokens) {
	c.t.Helper()
	email := uniqueEmail(prefix)
	c.register(email)
	return email, c.login(email, testPassword)
}

func (c *client) refresh(refreshToken string) *response {
	c.t.Helper()
	return c.do("POST", "/api/auth/refresh", map[string]string{"refresh_token": refreshToken})
}

func (c *client) mustRefresh(refreshToken string) tokens {
	c.t.Helper()
	r := c.refresh(refreshToken)
	if r.Status != 200 {
		c.t.Fatalf("refresh: %s", r)
	}
	return tokens{Access: r.str(c.t, "access_token"), Refresh: r.str(c.t, "refresh_token")}
}

// eventually polls check every 25ms until it returns "" or within runs out,
// and fails with the last message.
func eventually(t testing.TB, within time.Duration, check func() string) time.Duration {
	t.Helper()
	start := time.Now()
	msg := ""
	for time.Since(start) < within {
		if msg = check(); msg == "" {
			return time.Since(start)
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("not within %v: %s", within, msg)
	return 0
}
