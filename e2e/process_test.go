package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Tests of the real binary in its own process: durability across kill -9
// and graceful shutdown on SIGTERM.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func gatehouseBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "gatehouse-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "gatehouse")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/gatehouse").CombinedOutput()
		if err != nil {
			buildErr = err
			t.Logf("%s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v", buildErr)
	}
	return binPath
}

// TestMain, in harness_test.go, removes buildDir.

type proc struct {
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
	done chan error
}

func startBinary(t *testing.T, db string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(gatehouseBinary(t), append(append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, fastArgs...), args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: logs, done: make(chan error, 1)}
	sc := bufio.NewScanner(stdout)
	first := make(chan string, 1)
	go func() {
		if sc.Scan() {
			first <- sc.Text()
		}
		close(first)
		for sc.Scan() {
		}
		p.done <- cmd.Wait()
	}()
	select {
	case line, ok := <-first:
		if !ok {
			t.Fatalf("the binary exited at start:\n%s", logs)
		}
		_, rest, _ := strings.Cut(line, "listening on ")
		p.url, _, _ = strings.Cut(rest, " ")
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the binary did not start:\n%s", logs)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	waitHealthy(t, p.url)
	return p
}

func TestKill9LosesNothingAcknowledged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "g.db")
	p := startBinary(t, db)
	c := &client{t: t, base: p.url, hc: newClient(t, &instance{URL: p.url}).hc}
	email, tok := c.newUser("kill9")

	// A burst of acknowledged writes: rotations and posts.
	var titles []string
	for i := range 20 {
		tok = c.mustRefresh(tok.Refresh)
		title := "durable-" + strings.Repeat("x", i)
		r := c.do("POST", "/api/posts", map[string]string{"title": title}, "Authorization", "Bearer "+tok.Access)
		if r.Status != 201 {
			t.Fatalf("post: %s", r)
		}
		titles = append(titles, title)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done

	p2 := startBinary(t, db)
	c2 := &client{t: t, base: p2.url, hc: c.hc}
	// The last acknowledged rotation survived: its token is the current one.
	next := c2.mustRefresh(tok.Refresh)
	r := c2.get("/api/posts?limit=100", next.Access)
	if got := strings.Count(string(r.Body), `"title":"durable-`); got != len(titles) {
		t.Fatalf("%d of %d acknowledged posts survived kill -9", got, len(titles))
	}
	c2.login(email, testPassword)
}

func TestSIGTERMShutsDownGracefully(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startBinary(t, "sqlite:"+filepath.Join(dir, "g.db"))
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.logs)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit within 15s of SIGTERM")
	}
	if !strings.Contains(p.logs.String(), "shutting down") {
		t.Fatalf("no shutdown log line:\n%s", p.logs)
	}
}
