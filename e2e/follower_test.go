package e2e

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Remote verification with real processes (CONTRACT §10): the
// resource-server example follows Gatehouse's revocation feed and refuses
// a revoked session's access tokens within a second (a logout, a logout
// everywhere, a detected reuse, an administrator's disable or deletion),
// through a kill -9 of Gatehouse too.

var (
	rsOnce sync.Once
	rsPath string
	rsErr  error
)

func resourceServerBinary(t *testing.T) string {
	t.Helper()
	gatehouseBinary(t) // makes buildDir
	rsOnce.Do(func() {
		rsPath = filepath.Join(buildDir, "resource-server")
		out, err := exec.Command("go", "build", "-o", rsPath, "../examples/resource-server").CombinedOutput()
		if err != nil {
			rsErr = err
			t.Logf("%s", out)
		}
	})
	if rsErr != nil {
		t.Fatalf("go build resource-server: %v", rsErr)
	}
	return rsPath
}

// startResourceServer runs the example against issuer with the client's
// credentials (from the environment, as an operator would) and waits
// until it follows the feed.
func startResourceServer(t *testing.T, issuer string, sc serviceClient) string {
	t.Helper()
	cmd := exec.Command(resourceServerBinary(t), "--issuer", issuer, "--addr", "127.0.0.1:0")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "GATEHOUSE_CLIENT_ID=" + sc.id, "GATEHOUSE_CLIENT_SECRET=" + sc.secret}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc2 := bufio.NewScanner(stdout)
	if !sc2.Scan() {
		t.Fatalf("the resource server printed nothing:\n%s", logs)
	}
	go func() {
		for sc2.Scan() {
		}
	}()
	_, url, _ := strings.Cut(sc2.Text(), "listening on ")
	eventually(t, 10*time.Second, func() string {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			return err.Error()
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return "not following the feed yet: " + strconv.Itoa(resp.StatusCode) + "\n" + logs.String()
		}
		return ""
	})
	return url
}

func hello(t *testing.T, rs, access string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", rs+"/api/hello", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// refusedWithin waits until the resource server refuses access, and fails
// after a second.
func refusedWithin(t *testing.T, rs, access string, since time.Time) {
	t.Helper()
	for hello(t, rs, access) != 401 {
		if time.Since(since) > time.Second {
			t.Fatalf("the resource server still accepts the token %v after its revocation", time.Since(since))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestResourceServerFollowsTheFeed(t *testing.T) {
	onlyOn(t, "sqlite", "runs the binary, which reads its key secret from the SQLite key file")
	t.Parallel()
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "g.db")
	addr := freePort(t)
	args := []string{"--addr", addr, "--reuse-grace", "0"}
	g := startBinary(t, db, args...)
	c := &client{t: t, base: g.url, hc: newClient(t, &instance{URL: g.url}).hc}
	sc := createClient(t, &instance{DB: db}, "resource-server", "revocations")
	rs := startResourceServer(t, g.url, sc)

	// A logout.
	_, a := c.newUser("rs-logout")
	if code := hello(t, rs, a.Access); code != 200 {
		t.Fatalf("a live token: %d", code)
	}
	c.do("POST", "/api/auth/logout", map[string]string{"refresh_token": a.Refresh})
	refusedWithin(t, rs, a.Access, time.Now())

	// A logout everywhere: every session of the user.
	email, b1 := c.newUser("rs-logout-all")
	b2 := c.login(email, testPassword)
	c.do("POST", "/api/auth/logout-all", nil, "Authorization", "Bearer "+b1.Access)
	at := time.Now()
	refusedWithin(t, rs, b1.Access, at)
	refusedWithin(t, rs, b2.Access, at)

	// A detected reuse: the stolen token presented after its rotation.
	_, d := c.newUser("rs-reuse")
	next := c.mustRefresh(d.Refresh)
	c.refresh(d.Refresh).wantProblem(t, 401, "refresh_token_reused")
	refusedWithin(t, rs, next.Access, time.Now())

	// An administrator disables a user, and deletes another: every session
	// of theirs ends, through the feed.
	_, admin := newAdmin(t, &instance{URL: g.url, DB: db}, "rs-admin")
	_, f := c.newUser("rs-disabled")
	if code := hello(t, rs, f.Access); code != 200 {
		t.Fatalf("a live token before the disable: %d", code)
	}
	if r := c.do("PATCH", "/api/admin/users/"+f.UserID, map[string]any{"disabled": true}, bearer(admin.Access)...); r.Status != 200 || r.obj(t)["disabled"] != true {
		t.Fatalf("disable: %s", r)
	}
	refusedWithin(t, rs, f.Access, time.Now())
	_, h := c.newUser("rs-deleted")
	if code := hello(t, rs, h.Access); code != 200 {
		t.Fatalf("a live token before the deletion: %d", code)
	}
	if r := c.do("DELETE", "/api/admin/users/"+h.UserID, nil, bearer(admin.Access)...); r.Status != 204 {
		t.Fatalf("delete: %s", r)
	}
	refusedWithin(t, rs, h.Access, time.Now())

	// kill -9 of Gatehouse while the follower waits, and a restart on the
	// same address: a revocation after the restart still arrives.
	_, e := c.newUser("rs-restart")
	if err := g.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-g.done
	time.Sleep(500 * time.Millisecond) // the follower sees the connection drop
	g2 := startBinary(t, db, args...)
	if g2.url != g.url {
		t.Fatalf("restarted on %s, not %s", g2.url, g.url)
	}
	if code := hello(t, rs, e.Access); code != 200 {
		t.Fatalf("a live token after the restart: %d", code)
	}
	c2 := &client{t: t, base: g2.url, hc: c.hc}
	if r := c2.do("POST", "/api/auth/logout", map[string]string{"refresh_token": e.Refresh}); r.Status != 204 {
		t.Fatalf("logout after the restart: %s", r)
	}
	refusedWithin(t, rs, e.Access, time.Now())
}

// Two instances on PostgreSQL: the resource server follows A's feed, the
// logout and an administrator's disable happen on B.
func TestResourceServerFollowsAcrossInstances(t *testing.T) {
	onlyOn(t, "postgres", "needs two instances on one database")
	t.Parallel()
	// One issuer for both, as behind a load balancer: here, A's address,
	// so that the resource server can read the issuer's metadata from A.
	dir := t.TempDir()
	db := store.newDB(t, dir)
	addr := freePort(t)
	a := startGatehouseOn(t, dir, db, "--addr", addr, "--issuer", "http://"+addr)
	b := startGatehouseOn(t, dir, db, "--issuer", "http://"+addr)
	sc := createClient(t, a, "resource-server", "revocations")
	rs := startResourceServer(t, a.URL, sc)
	cb := newClient(t, b)
	_, u := cb.newUser("rs-pair")
	if code := hello(t, rs, u.Access); code != 200 {
		t.Fatalf("a live token: %d", code)
	}
	cb.do("POST", "/api/auth/logout", map[string]string{"refresh_token": u.Refresh})
	refusedWithin(t, rs, u.Access, time.Now())

	// An administrator on B disables a user.
	_, admin := newAdmin(t, b, "rs-pair-admin")
	_, d := cb.newUser("rs-pair-disabled")
	if code := hello(t, rs, d.Access); code != 200 {
		t.Fatalf("a live token before the disable: %d", code)
	}
	if r := cb.do("PATCH", "/api/admin/users/"+d.UserID, map[string]any{"disabled": true}, bearer(admin.Access)...); r.Status != 200 {
		t.Fatalf("disable: %s", r)
	}
	refusedWithin(t, rs, d.Access, time.Now())
}
