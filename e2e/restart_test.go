package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pgBin is where Debian's PostgreSQL 15 server binaries live.
const pgBin = "/usr/lib/postgresql/15/bin"

// privatePG is a PostgreSQL server of one test's own, in a temporary
// directory on a free port, which the test may stop and start: never the
// shared server, which other tests use.
type privatePG struct {
	dir, data string
	port      int
	asUser    []string // runuser prefix when running as root
	URL       string
}

// startPrivatePG initialises and starts a private server, and removes it
// when t ends. It skips t, saying why, when the binaries are missing or
// when running as root without a "postgres" user to run them as
// (PostgreSQL refuses to run as root).
func startPrivatePG(t *testing.T) *privatePG {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
		t.Skipf("no PostgreSQL server binaries in %s (apt-get install postgresql-15)", pgBin)
	}
	p := &privatePG{}
	dir, err := os.MkdirTemp("", "gatehouse-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir, p.data = dir, filepath.Join(dir, "data")
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root and there is no postgres user to run a private PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	p.run(t, filepath.Join(pgBin, "initdb"), "-D", p.data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
	p.start(t)
	t.Cleanup(func() { p.ctl(t, "stop", "-m", "immediate") })
	return p
}

func (p *privatePG) run(t *testing.T, name string, args ...string) {
	t.Helper()
	cmdline := append(append([]string(nil), p.asUser...), name)
	cmdline = append(cmdline, args...)
	out, err := exec.Command(cmdline[0], cmdline[1:]...).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		t.Fatalf("%s: %v\n%s\n%s", strings.Join(cmdline, " "), err, out, log)
	}
}

func (p *privatePG) ctl(t *testing.T, args ...string) {
	t.Helper()
	p.run(t, filepath.Join(pgBin, "pg_ctl"), append([]string{"-D", p.data, "-w"}, args...)...)
}

// start starts the server; fsync stays on, as in production, so that what
// it acknowledged survives an immediate stop.
func (p *privatePG) start(t *testing.T) {
	t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on", p.port, p.dir)
	p.ctl(t, "start", "-l", filepath.Join(p.dir, "log"), "-o", opts)
}

// crash stops the server the way a crash or power cut would: no
// shutdown checkpoint; the next start recovers from the WAL.
func (p *privatePG) crash(t *testing.T) { p.ctl(t, "stop", "-m", "immediate") }

// TestPostgresRestartUnderLoad: the database dies under load and comes
// back. While it is down, /readyz answers 503 and requests fail with a
// clear 503 "unavailable" (never a hang); when it is back Gatehouse
// recovers by itself, and nothing it acknowledged was lost: every
// acknowledged rotation and post is there, every acknowledged logout holds.
func TestPostgresRestartUnderLoad(t *testing.T) {
	onlyOn(t, "postgres", "restarts a PostgreSQL server")
	t.Parallel()
	pg := startPrivatePG(t)
	g := startGatehouseOn(t, t.TempDir(), pg.URL, "--access-ttl", "1h", "--login-limit", "0")
	// A short client timeout turns a hang into a failure.
	hc := newClient(t, g).hc
	hc.Timeout = 20 * time.Second

	const workers = 4
	type worker struct {
		c     *client
		tok   tokens // the last acknowledged pair
		posts []string
	}
	ws := make([]*worker, workers)
	for i := range ws {
		c := &client{t: t, base: g.URL, hc: hc}
		_, tok := c.newUser("restart-" + strconv.Itoa(i))
		ws[i] = &worker{c: c, tok: tok}
	}

	var (
		phase       atomic.Int32 // 0 before the crash, 1 down, 2 back
		okBefore    atomic.Int64
		unavailable atomic.Int64
		okAfter     atomic.Int64
		stop        = make(chan struct{})
		wg          sync.WaitGroup
		mu          sync.Mutex
		unexpected  []string
	)
	// Counts the outcome of one request: 2xx, or 503 "unavailable"; any
	// other answer is a failure of the test.
	outcome := func(what string, r *response, want int) bool {
		switch {
		case r.Status == want:
			if phase.Load() == 2 {
				okAfter.Add(1)
			} else {
				okBefore.Add(1)
			}
			return true
		case r.Status == 503 && strings.Contains(string(r.Body), `"code":"unavailable"`) && r.Header.Get("Retry-After") != "":
			unavailable.Add(1)
			return false
		}
		mu.Lock()
		unexpected = append(unexpected, fmt.Sprintf("%s (phase %d): %s", what, phase.Load(), r))
		mu.Unlock()
		return false
	}
	for i, w := range ws {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				r := w.c.refresh(w.tok.Refresh)
				if outcome("refresh", r, 200) {
					w.tok = tokens{Access: r.str(t, "access_token"), Refresh: r.str(t, "refresh_token")}
				}
				title := fmt.Sprintf("w%d-post-%d", i, n)
				r = w.c.do("POST", "/api/posts", map[string]string{"title": title}, "Authorization", "Bearer "+w.tok.Access)
				if outcome("post", r, 201) {
					w.posts = append(w.posts, title)
				}
			}
		})
	}
	waitFor := func(within time.Duration, what string, cond func() bool) {
		t.Helper()
		eventually(t, within, func() string {
			if cond() {
				return ""
			}
			return what
		})
	}
	waitFor(30*time.Second, "no acknowledged work before the crash", func() bool { return okBefore.Load() >= 40 })

	pg.crash(t)
	phase.Store(1)
	t.Logf("database crashed after %d acknowledged requests", okBefore.Load())
	c := newClient(t, g)
	waitFor(10*time.Second, "/readyz still 200 with the database down", func() bool {
		return c.get("/readyz", "").Status == 503
	})
	c.get("/readyz", "").wantProblem(t, 503, "unavailable")
	waitFor(10*time.Second, "no request failed with 503 while the database was down", func() bool { return unavailable.Load() >= 8 })
	start := time.Now()
	r := c.do("POST", "/api/auth/login", map[string]string{"email": uniqueEmail("down"), "password": testPassword})
	r.wantProblem(t, 503, "unavailable")
	t.Logf("a login with the database down failed in %v", time.Since(start).Round(time.Millisecond))

	pg.start(t)
	waitFor(30*time.Second, "/readyz did not recover by itself", func() bool { return c.get("/readyz", "").Status == 200 })
	phase.Store(2)
	waitFor(30*time.Second, "no acknowledged work after the restart", func() bool { return okAfter.Load() >= 40 })
	close(stop)
	wg.Wait()
	t.Logf("%d acknowledged before the crash, %d answered 503 unavailable, %d acknowledged after", okBefore.Load(), unavailable.Load(), okAfter.Load())
	for _, u := range unexpected {
		t.Errorf("unexpected answer: %s", u)
	}

	// Nothing acknowledged was lost.
	for i, w := range ws {
		// The last acknowledged rotation is the session's current state:
		// its refresh token rotates again.
		next := w.c.mustRefresh(w.tok.Refresh)
		titles := allPostTitles(t, w.c, next.Access)
		for _, title := range w.posts {
			if !titles[title] {
				t.Errorf("worker %d: the acknowledged post %q was lost in the crash", i, title)
			}
		}
	}
	// An acknowledged logout survives too.
	email, tok := c.newUser("restart-logout")
	if r := c.do("POST", "/api/auth/logout", map[string]string{"refresh_token": tok.Refresh}); r.Status != 204 {
		t.Fatalf("logout: %s", r)
	}
	pg.crash(t)
	pg.start(t)
	waitFor(30*time.Second, "/readyz did not recover after the second crash", func() bool { return c.get("/readyz", "").Status == 200 })
	eventually(t, 10*time.Second, func() string {
		r := c.refresh(tok.Refresh)
		if r.Status == 401 && r.str(t, "code") == "session_revoked" {
			return ""
		}
		return "a logged-out session after the crash: " + r.String()
	})
	c.login(email, testPassword)
}

// allPostTitles pages through every post.
func allPostTitles(t *testing.T, c *client, access string) map[string]bool {
	t.Helper()
	titles := map[string]bool{}
	path := "/api/posts?limit=100"
	for range 1000 {
		r := c.get(path, access)
		if r.Status != 200 {
			t.Fatalf("list posts: %s", r)
		}
		var page struct {
			Items []struct {
				Title string `json:"title"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Items {
			titles[p.Title] = true
		}
		if page.NextCursor == nil || *page.NextCursor == "" {
			return titles
		}
		path = "/api/posts?limit=100&cursor=" + url.QueryEscape(*page.NextCursor)
	}
	t.Fatal("pagination does not end")
	return nil
}
